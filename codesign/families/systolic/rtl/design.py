"""A chosen systolic design as what ``export`` and ``verify`` use (`Family.generate`).

`SystolicDesign.export` writes the Verilog of the architecture (memories sized
from ``glb_kib``/``acc_kib``, or for one layer's mapping with its host
program). `SystolicDesign.verify` runs each layer on the RTL with random
int8 operands: outputs bit exact against numpy and RTL cycles equal to the
model's. Conv layers run as their im2col GEMM. Amaranth's simulator (pysim)
takes layers within a cycle budget; a layer over it runs at full size on
Verilator (`verilator_sim`, said in its note), or with ``scale_down`` is
shrunk for pysim; ``sim="verilator"`` puts every layer on Verilator.
With ``soc=True`` each layer runs on the SoC instead (`soc_verify`).
"""
from __future__ import annotations

import time

import numpy as np

from ...base import Design, NetworkCost, VerifyReport, VerifyRow
from .engine import choose_engine, run_engines
from .plan import RtlError

__all__ = ["SystolicDesign", "VerifyRow", "VerifyReport", "DEFAULT_MAX_CYCLES", "SIMULATORS"]

DEFAULT_MAX_CYCLES = 4000
SIMULATORS = ("auto", "pysim", "verilator")


class SystolicDesign(Design):
    """`arch` running the mappings of `cost` (one `LayerCost` per unique layer)."""

    def __init__(self, arch, cost: NetworkCost):
        if arch.flexible:
            raise RtlError("hardware.dataflow: a flexible array has no RTL generator (it builds os or ws/is "
                           "arrays); give a fixed dataflow")
        self.arch, self.cost = arch, cost

    def _layers(self, name):
        """The layers to run: all (None), one name, or a list of names (in the network's order)."""
        if name is None:
            return list(self.cost.layers)
        names = [name] if isinstance(name, str) else list(name)
        known = {lc.name for lc in self.cost.layers}
        for n in names:
            if n not in known:
                raise RtlError(f"--layer {n}: no such layer (layers: {', '.join(lc.name for lc in self.cost.layers)})")
        return [lc for lc in self.cost.layers if lc.name in names]

    def export(self, out_dir, layer: str | None = None, soc: bool = False) -> tuple[str, list]:
        """Write Verilog, design.json/yaml and PORTS.md; returns what was sized and the paths.
        With `soc`, the SoC (array + DMA + registers, `soc_export`) instead of the bare array."""
        from .export import export_verilog
        from .gemm_view import as_gemm
        from .soc_export import export_soc
        write = export_soc if soc else export_verilog
        if layer:
            lc = self._layers(layer)[0]
            run = as_gemm(lc.layer, lc.plan)
            paths = write(self.arch, out_dir, run.mapping, run.layer)
            return (f"memories sized for {lc.name} ({run.mapping.oneline()}{'; ' + run.note if run.note else ''})",
                    list(paths))
        return "memories sized from glb_kib / acc_kib", list(write(self.arch, out_dir))

    def verify(self, *, layer: str | list[str] | None = None, scale_down: bool = False, max_cycles: int = DEFAULT_MAX_CYCLES,
               seed: int = 0, vcd: str | None = None, sim: str = "auto", soc: bool = False) -> VerifyReport:
        """Simulate the layers (module docstring); returns the report.

        `sim`: ``pysim`` (Amaranth's simulator, layers within `max_cycles`),
        ``verilator`` (every layer at full size) or ``auto`` (pysim, and
        Verilator for a layer over the budget unless `scale_down`).
        `soc`: run each layer's tile program on the SoC (DMA, DRAM at
        ``dram_bw_bytes``; `soc_verify`) instead of the bare array.
        """
        if max_cycles < 1:
            raise RtlError(f"--max-cycles: must be positive, got {max_cycles}")
        if sim not in SIMULATORS:
            raise RtlError(f"--sim: must be one of {', '.join(SIMULATORS)}, got {sim!r}")
        if sim == "verilator" and (scale_down or vcd):
            raise RtlError(f"{'--scale-down' if scale_down else '--vcd'}: only with pysim (Verilator runs full size)")
        rng = np.random.default_rng(seed)
        if soc:
            from .soc_verify import verify_soc
            return verify_soc(self, self._layers(layer), rng, scale_down=scale_down, max_cycles=max_cycles, vcd=vcd,
                              sim=sim)
        runs = [self._prepare(lc, rng, scale_down, max_cycles, sim) for lc in self._layers(layer)]
        from .sim import simulate_many
        from .verilator_sim import simulate_verilator
        t0 = time.perf_counter()
        ran = run_engines(runs, lambda cases: simulate_many(self.arch, cases, vcd=vcd),
                          lambda cases: simulate_verilator(self.arch, cases), "clocks with loads")
        rows = tuple(self._row(r, res) for r, res in zip(runs, ran.results))
        return VerifyReport(f"{self.arch.describe()}: {len(runs)} layer(s) on the RTL ({ran.where}{ran.built})", rows,
                            time.perf_counter() - t0 - ran.build_s)

    def _prepare(self, lc, rng, scale_down: bool, max_cycles: int, sim: str) -> dict:
        from .gemm_view import as_gemm, scale_down as shrink
        from .plan import model_cycles
        from .sim import Case
        arch, layer = self.arch, lc.layer
        run = as_gemm(layer, lc.plan)
        full = model_cycles(arch, run.layer, run.mapping)
        bare = model_cycles(arch, run.layer, run.mapping, ports=False)     # compute, as the cost model's
        engine, why, small = choose_engine(layer.name, full, max_cycles, sim, scale_down)
        if small:
            run = shrink(arch, run, max_cycles)
        a, w, conv = self._operands(layer, run, rng, not small)
        stalls = model_cycles(arch, run.layer, run.mapping) - model_cycles(arch, run.layer, run.mapping, ports=False)
        return {"lc": lc, "run": run, "bare": bare, "conv": conv, "case": Case(run.layer, run.mapping, a, w),
                "port_stalls": stalls,
                "sim": engine, "why": why, "out_bits": arch.out_bits}

    def _operands(self, layer, run, rng, whole: bool):
        """Random operands: a conv's real tensors through the host's im2col (and the
        direct convolution to compare with), else random GEMM operands."""
        from .gemm_view import direct_conv, im2col
        from .sim import wrap
        lo, hi = -(1 << (self.arch.op_bits - 1)), 1 << (self.arch.op_bits - 1)
        if layer.op in ("conv2d", "depthwise_conv2d") and whole:
            p = dict(layer.params)
            x = rng.integers(lo, hi, (p["N"], p["C"], p["H"], p["W"]))
            k = rng.integers(lo, hi, (p["K"], p["C"] // p["groups"], p["R"], p["S"]))
            x.flat[0], k.flat[0] = lo, lo
            a, w = im2col(layer, x, k)
            return a, w, wrap(direct_conv(layer, x, k), self.arch.acc_bits)
        b = run.layer.bounds
        a = rng.integers(lo, hi, (b["M"], b["K"]))
        w = rng.integers(lo, hi, (b["K"], b["N"]))
        a.flat[0], w.flat[0] = lo, lo         # the extreme operand is always exercised
        return a, w, None

    @staticmethod
    def _row(r: dict, res) -> VerifyRow:
        lc, run, full, conv = r["lc"], r["run"], r["bare"], r["conv"]
        conv_ok = conv is None or np.array_equal(res.outputs, conv)
        notes = [run.note] if run.note else []
        if r["why"]:
            notes.append(r["why"])
        q_ok = np.array_equal(res.quantized, res.quantized_golden)
        notes.append(f"outputs requantized to int{r['out_bits']} at shift {res.shift} (shift, saturate) "
                     f"{'=' if q_ok else '!='} numpy")
        if conv is not None:
            notes.append(f"im2col of random conv tensors, {'=' if conv_ok else '!='} direct convolution")
        if r["port_stalls"]:
            notes.append(f"RTL and model cycles include {r['port_stalls']} of port pacing (narrow buffer ports)")
        groups = lc.layer.gemm_view()["G"]
        cost_cycles = int(lc.figures["compute_cycles"])
        if full * groups != cost_cycles:
            notes.append(f"full layer: cost model {cost_cycles} cycles on the {lc.op} loop nest, "
                         f"{full * groups} on its GEMM view" + (f" ({groups} x {full})" if groups > 1 else ""))
        return VerifyRow(lc.name, res.bit_exact and res.cycle_exact and conv_ok, res.cycles, res.model_cycles,
                         res.bit_exact, run.mapping.oneline(), tuple(notes))
