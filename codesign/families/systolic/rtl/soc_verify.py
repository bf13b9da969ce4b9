"""``codesign verify --soc``: each layer's tile program on the SoC, DRAM served at ``dram_bw_bytes``.

Per layer (its im2col GEMM, as `design.SystolicDesign.verify` runs it): the
descriptors and DRAM image (`descriptors.make_program`), the SoC run from
CTRL.start to ``irq`` against a DRAM that moves one ``dram_bw_bytes`` beat
per cycle, the output tiles read out of DRAM (raw ``acc_bits``
accumulators, what the SoC's DMA stores) and compared bit for bit with
numpy (and, for a conv, with the direct convolution). CYCLES (total, DRAM
stalls included) must equal the cost model's ``latency_cycles`` in ``soc``
timing for the same mapping, and COMPUTE_CYCLES its ``compute_cycles``.
When the config's timing is not ``soc``, the mappings are still the ones
the mapper chose under that timing and the header says the comparison is
against the ``soc`` model. pysim (`soc_sim`) takes layers within the cycle
budget; Verilator (`soc_verilator`) runs the rest at full size on one build.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ...base import VerifyReport, VerifyRow
from ..cost import evaluate_mapping
from .engine import choose_engine, run_engines
from .sim import requantize

__all__ = ["SocVerifyRow", "verify_soc"]


@dataclass(frozen=True)
class SocVerifyRow(VerifyRow):
    """A layer on the SoC: CYCLES beside the model's latency, COMPUTE_CYCLES beside its compute cycles."""

    compute_cycles: int = 0
    model_compute_cycles: int = 0

    def line(self) -> str:
        notes = f"  ({'; '.join(self.notes)})" if self.notes else ""
        return (f"{'PASS' if self.passed else 'FAIL'}  {self.name:<24} CYCLES {self.rtl_cycles:>8}  model "
                f"{self.model_cycles:>8}  COMPUTE_CYCLES {self.compute_cycles:>8}  model {self.model_compute_cycles:>8}"
                f"  {'bit exact' if self.bit_exact else 'OUTPUTS DIFFER'}  {self.mapping}" + notes)


def _prepare(design, lc, rng, soc_arch, scale_down: bool, max_cycles: int, sim: str) -> dict:
    from .gemm_view import as_gemm, scale_down as shrink
    from .sim import Case
    run = as_gemm(lc.layer, lc.plan)
    latency = int(evaluate_mapping(run.layer, soc_arch, run.mapping)["latency_cycles"])
    engine, why, small = choose_engine(lc.layer.name, latency, max_cycles, sim, scale_down)
    if small:
        run = shrink(design.arch, run, max_cycles)
    a, w, conv = design._operands(lc.layer, run, rng, not small)
    return {"lc": lc, "run": run, "conv": conv, "case": Case(run.layer, run.mapping, a, w), "sim": engine,
            "why": why, "small": small}


def _row(r: dict, res, soc_arch) -> SocVerifyRow:
    lc, run, conv = r["lc"], r["run"], r["conv"]
    conv_ok = conv is None or np.array_equal(res.outputs, requantize(conv, res.shift, soc_arch.out_bits))
    notes = [run.note] if run.note else []
    if r["why"]:
        notes.append(r["why"])
    notes.append(f"{res.stall_cycles} stall cycles over {res.glb_tiles} glb tiles; outputs: requantized to int"
                 f"{soc_arch.out_bits} at shift {res.shift} by the DMA's stores, read from DRAM")
    if conv is not None:
        notes.append(f"im2col of random conv tensors, {'=' if conv_ok else '!='} direct convolution")
    groups = lc.layer.gemm_view()["G"]
    if not r["small"]:
        whole = int(evaluate_mapping(lc.layer, soc_arch, lc.plan)["latency_cycles"])
        if res.model_cycles * groups != whole:
            notes.append(f"full layer: soc model {whole} cycles on the {lc.op} loop nest, "
                         f"{res.model_cycles * groups} on its GEMM view" +
                         (f" ({groups} x {res.model_cycles})" if groups > 1 else ""))
    return SocVerifyRow(lc.name, res.bit_exact and res.cycle_exact and conv_ok, res.cycles, res.model_cycles,
                        res.bit_exact, run.mapping.oneline(), tuple(notes), res.compute_cycles,
                        res.model_compute_cycles)


def verify_soc(design, layers: list, rng, *, scale_down: bool, max_cycles: int, vcd: str | None,
               sim: str) -> VerifyReport:
    """Run `layers` (LayerCosts of `design`) on the SoC (module docstring); returns the report."""
    from .soc_sim import check_bandwidth, simulate_soc
    from .soc_verilator import simulate_soc_verilator
    arch = design.arch
    data_bytes = check_bandwidth(arch)
    soc_arch = replace(arch, timing="soc")
    runs = [_prepare(design, lc, rng, soc_arch, scale_down, max_cycles, sim) for lc in layers]
    t0 = time.perf_counter()
    ran = run_engines(runs, lambda cases: simulate_soc(arch, cases, vcd=vcd),
                      lambda cases: simulate_soc_verilator(arch, cases))
    rows = tuple(_row(r, res, soc_arch) for r, res in zip(runs, ran.results))
    model = ("" if arch.timing == "soc" else
             f"; model: the same mappings in timing soc (the config's timing is {arch.timing})")
    head = (f"{arch.describe()}: {len(runs)} layer(s) on the SoC (AXI4 DMA, DRAM {data_bytes} B/cycle; "
            f"{ran.where}{ran.built}){model}")
    return VerifyReport(head, rows, time.perf_counter() - t0 - ran.build_s)
