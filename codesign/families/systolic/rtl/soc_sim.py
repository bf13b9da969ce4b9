"""Simulation of the SoC (Amaranth pysim): tile program in, DRAM in and out, total cycles.

`simulate_soc` builds `Soc` + `DramModel` (data width = ``dram_bw_bytes``),
and per case plays the host: lays the operands out in DRAM
(`descriptors.make_program`), writes the descriptors and NDESC over
AXI4-Lite (or straight into the descriptor memories with `backdoor`),
starts the program, waits for ``irq``, reads CYCLES and COMPUTE_CYCLES
over AXI4-Lite and takes the results out of DRAM. Only the program's run
counts (the host's register writes do not). `SocResult.model_cycles` is
the cost model's ``latency_cycles`` for the same mapping (`cost.evaluate`,
``soc`` timing), which the measured cycles must equal.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import numpy as np
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from ..arch import SystolicArch
from ..cost import evaluate_mapping
from .axi import DramModel
from .descriptors import Program, make_program, read_outputs
from .params import RtlParams
from .plan import RtlError, make_plan
from .regs import REGISTERS, desc_base
from .sim import Case, _check_operands, golden, requantize
from .soc import Soc

__all__ = ["SocResult", "simulate_soc", "soc_params", "check_bandwidth"]


@dataclass(frozen=True)
class SocResult:
    """One layer on the SoC: outputs (requantized, read from DRAM) vs golden (numpy, requantized at the
    program's shift), total and compute cycles vs the cost model."""

    outputs: np.ndarray
    golden: np.ndarray
    cycles: int
    compute_cycles: int
    model_cycles: int
    model_compute_cycles: int
    glb_tiles: int
    dram_read_beats: int = 0      # read beats the DRAM served in the run (pysim's `DramModel`)
    shift: int = 0                # the final stores' requantization shift

    @property
    def wrong_outputs(self) -> int:
        return int(np.count_nonzero(self.outputs != self.golden))

    @property
    def bit_exact(self) -> bool:
        return self.outputs.shape == self.golden.shape and self.wrong_outputs == 0

    @property
    def cycle_exact(self) -> bool:
        return (self.cycles, self.compute_cycles) == (self.model_cycles, self.model_compute_cycles)

    @property
    def stall_cycles(self) -> int:
        return self.cycles - self.compute_cycles

    def summary(self) -> str:
        bad = self.wrong_outputs
        return (f"outputs {'bit exact' if self.bit_exact else f'{bad} of {self.outputs.size} WRONG'}, "
                f"RTL {self.cycles} cycles ({self.compute_cycles} compute, {self.stall_cycles} stalls) vs model "
                f"{self.model_cycles} ({self.model_compute_cycles} compute), {self.glb_tiles} glb tiles")


def check_bandwidth(arch: SystolicArch) -> int:
    """The AXI data width in bytes: ``dram_bw_bytes``, which must be a power of two from 1 to 128."""
    bw = arch.dram_bw_bytes
    if bw != int(bw) or int(bw) & (int(bw) - 1) or not 1 <= bw <= 128:
        raise RtlError(f"hardware.dram_bw_bytes: the SoC's AXI4 data width is dram_bw_bytes, which must be a "
                       f"power of two from 1 to 128, got {bw:g}")
    if not arch.double_buffered:
        raise RtlError("hardware.double_buffered: the SoC double-buffers the operand banks; "
                       "a single-buffered schedule is not built")
    return int(bw)


def soc_params(arch: SystolicArch, cases: list[Case]) -> RtlParams:
    """Memories sized for every glb tile of the cases (each scratchpad half holds one tile); no
    port pacing (the SoC's model, ``soc`` timing, has no port stalls: `pacing.rtl_pacing`)."""
    return RtlParams.for_plans(arch, [make_plan(arch, c.layer, c.mapping) for c in cases], ports=False)


async def _lite_write(ctx, bus, addr: int, value: int):
    ctx.set(bus.awaddr, addr)
    ctx.set(bus.wdata, value & 0xFFFFFFFF)
    ctx.set(bus.wstrb, 0xF)
    ctx.set(bus.awvalid, 1)
    ctx.set(bus.wvalid, 1)
    ctx.set(bus.bready, 1)
    await ctx.tick().until(bus.awready)
    ctx.set(bus.awvalid, 0)
    ctx.set(bus.wvalid, 0)
    await ctx.tick().until(bus.bvalid)
    ctx.set(bus.bready, 0)


async def _lite_read(ctx, bus, addr: int) -> int:
    ctx.set(bus.araddr, addr)
    ctx.set(bus.arvalid, 1)
    ctx.set(bus.rready, 1)
    await ctx.tick().until(bus.arready)
    ctx.set(bus.arvalid, 0)
    value, = await ctx.tick().sample(bus.rdata).until(bus.rvalid)
    ctx.set(bus.rready, 0)
    return value


def simulate_soc(arch: SystolicArch, cases: list[Case], *, backdoor: bool = True,
                 vcd: str | None = None, reuse: bool = True) -> list[SocResult]:
    """Run each GEMM case's tile program on one elaborated SoC (module docstring); `reuse`
    as `make_program`'s."""
    data_bytes = check_bandwidth(arch)
    for c in cases:
        _check_operands(arch, c)
    params = soc_params(arch, cases)
    progs = [make_program(arch, c.layer, c.mapping, c.a, c.b, params, data_bytes, reuse) for c in cases]
    depth = max(len(p.descriptors) for p in progs)
    soc = Soc(params, data_bytes, desc_depth=1 << max(0, (depth - 1).bit_length()))
    dram = DramModel(data_bytes, max(1, max(len(p.beats) for p in progs)))
    bench = Module()
    bench.submodules.soc, bench.submodules.dram = soc, dram
    wiring.connect(bench, soc.mem, dram.axi)
    sim = Simulator(bench)
    sim.add_clock(1e-6)
    results: list[SocResult] = []
    base = desc_base(soc.desc_depth)

    async def host(ctx):
        for case, prog in zip(cases, progs):
            for i, beat in enumerate(prog.beats):
                ctx.set(dram.mem_data[i], beat)
            for d in range(len(prog.descriptors)):
                for f, word in enumerate(prog.words(d)):
                    if backdoor:
                        ctx.set(soc.regs.field_data[f][d], word)
                    else:
                        await _lite_write(ctx, soc.ctrl, base + (d * 16 + f) * 4, word)
            await _lite_write(ctx, soc.ctrl, REGISTERS["NDESC"], len(prog.descriptors))
            beats0 = ctx.get(dram.read_beats)
            await _lite_write(ctx, soc.ctrl, REGISTERS["CTRL"], 1)
            await ctx.tick().until(soc.irq)
            read = ctx.get(dram.read_beats) - beats0
            cycles = await _lite_read(ctx, soc.ctrl, REGISTERS["CYCLES"])
            compute = await _lite_read(ctx, soc.ctrl, REGISTERS["COMPUTE_CYCLES"])
            beats = [ctx.get(dram.mem_data[i]) for i in range(len(prog.beats))]
            results.append(replace(_result(arch, case, prog, params, beats, cycles, compute), dram_read_beats=read))

    sim.add_testbench(host)
    with sim.write_vcd(vcd) if vcd else contextlib.nullcontext():
        sim.run()
    return results


def _result(arch, case: Case, prog: Program, params: RtlParams, beats, cycles: int, compute: int) -> SocResult:
    M, N = case.layer.bounds["M"], case.layer.bounds["N"]
    model = evaluate_mapping(case.layer, replace(arch, timing="soc"), case.mapping)
    want = requantize(golden(case.a, case.b, arch.acc_bits), prog.shift, params.out_bits)
    return SocResult(read_outputs(prog, params, beats, (M, N)), want, cycles,
                     compute, int(model["latency_cycles"]), int(model["compute_cycles"]), len(prog.descriptors),
                     shift=prog.shift)
