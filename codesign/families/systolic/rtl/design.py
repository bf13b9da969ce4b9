"""A chosen systolic design as what ``export`` and ``verify`` use (`Family.generate`).

`SystolicDesign.export` writes the Verilog of the architecture (memories sized
from ``glb_kib``/``acc_kib``, or for one layer's mapping with its host
program). `SystolicDesign.verify` runs each layer on the RTL in Amaranth's
simulator with random int8 operands: outputs bit exact against numpy and RTL
cycles equal to the model's. Conv layers run as their im2col GEMM; a layer
over the cycle budget is refused, or with ``scale_down`` shrunk (said in
its note).
"""
from __future__ import annotations

import time

import numpy as np

from ...base import Design, NetworkCost, VerifyReport, VerifyRow
from .plan import RtlError

__all__ = ["SystolicDesign", "VerifyRow", "VerifyReport", "DEFAULT_MAX_CYCLES"]

DEFAULT_MAX_CYCLES = 4000


class SystolicDesign(Design):
    """`arch` running the mappings of `cost` (one `LayerCost` per unique layer)."""

    def __init__(self, arch, cost: NetworkCost):
        if arch.flexible:
            raise RtlError("hardware.dataflow: a flexible array has no RTL generator (it builds os or ws/is "
                           "arrays); give a fixed dataflow")
        self.arch, self.cost = arch, cost

    def _layers(self, name: str | None):
        if name is None:
            return list(self.cost.layers)
        hit = [lc for lc in self.cost.layers if lc.name == name]
        if not hit:
            names = ", ".join(lc.name for lc in self.cost.layers)
            raise RtlError(f"--layer {name}: no such layer (layers: {names})")
        return hit

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

    def verify(self, *, layer: str | None = None, scale_down: bool = False, max_cycles: int = DEFAULT_MAX_CYCLES,
               seed: int = 0, vcd: str | None = None) -> VerifyReport:
        """Simulate the layers (module docstring); returns the report."""
        from .sim import simulate_many
        if max_cycles < 1:
            raise RtlError(f"--max-cycles: must be positive, got {max_cycles}")
        rng = np.random.default_rng(seed)
        runs = [self._prepare(lc, rng, scale_down, max_cycles) for lc in self._layers(layer)]
        t0 = time.perf_counter()
        results = simulate_many(self.arch, [r["case"] for r in runs], vcd=vcd)
        rows = tuple(self._row(r, res) for r, res in zip(runs, results))
        return VerifyReport(f"{self.arch.describe()}: {len(runs)} layer(s) on the RTL (Amaranth pysim)", rows,
                            time.perf_counter() - t0)

    def _prepare(self, lc, rng, scale_down: bool, max_cycles: int) -> dict:
        from .gemm_view import as_gemm, scale_down as shrink
        from .plan import model_cycles
        from .sim import Case
        arch, layer = self.arch, lc.layer
        run = as_gemm(layer, lc.plan)
        full = model_cycles(arch, run.layer, run.mapping)
        if full > max_cycles:
            if not scale_down:
                raise RtlError(f"layer {layer.name!r}: {full} model cycles exceed the pysim budget of "
                               f"{max_cycles}; use --scale-down (or --max-cycles)")
            run = shrink(arch, run, max_cycles)
        a, w, conv = self._operands(layer, run, rng, full <= max_cycles)
        return {"lc": lc, "run": run, "full": full, "conv": conv, "case": Case(run.layer, run.mapping, a, w)}

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
        lc, run, full, conv = r["lc"], r["run"], r["full"], r["conv"]
        conv_ok = conv is None or np.array_equal(res.outputs, conv)
        notes = [run.note] if run.note else []
        if conv is not None:
            notes.append(f"im2col of random conv tensors, {'=' if conv_ok else '!='} direct convolution")
        groups = lc.layer.gemm_view()["G"]
        cost_cycles = int(lc.figures["compute_cycles"])
        if full * groups != cost_cycles:
            notes.append(f"full layer: cost model {cost_cycles} cycles on the {lc.op} loop nest, "
                         f"{full * groups} on its GEMM view" + (f" ({groups} x {full})" if groups > 1 else ""))
        return VerifyRow(lc.name, res.bit_exact and res.cycle_exact and conv_ok, res.cycles, res.model_cycles,
                         res.bit_exact, run.mapping.oneline(), tuple(notes))
