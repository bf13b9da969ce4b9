"""The SoC at full size on Verilator: the exported ``codesign_systolic_soc`` with a C++ DRAM and host.

`simulate_soc_verilator(arch, cases)` does what `soc_sim.simulate_soc` does in
pysim: the same tile programs and DRAM images (`descriptors.make_program`),
descriptors, NDESC and CTRL written over AXI4-Lite, clocks until ``irq``,
CYCLES and COMPUTE_CYCLES read over AXI4-Lite, results read out of DRAM
(`descriptors.read_outputs`) and compared with numpy and the cost model
(``soc`` timing) exactly as pysim's are (`soc_sim._result`).

The Verilated top is the SoC itself (the Verilog `codesign export --soc`
writes), not a wrapper: the DRAM is an AXI4 slave in the testbench
(``tb_soc_verilator.cpp``), the cycle behaviour of `axi.DramModel` in ~40
lines of C++. That keeps the DRAM size a run-time value (one build per SoC
design serves every layer; an Amaranth DRAM would fix its depth, and so the
build, per set of layers), fills and reads DRAM with a copy instead of a
port (no backdoor ports added to the RTL) and costs nothing to simulate.
`tests/test_soc_verilator.py` holds it to pysim's DramModel: CYCLES, COMPUTE_CYCLES
and the outputs read from DRAM are equal on four tilings (4x4 ws at 2 bytes/cycle:
stores, reloads, words of several beats). The register map and the descriptor
size come from `regs` in the program file's header.

The build is `verilator.build` with the SoC target (same cache, keyed also by
the AXI data width and the descriptor depth).
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from ..arch import SystolicArch
from ..cost import evaluate_mapping
from .descriptors import Program, make_program
from .lanes import ints_to_limbs, limbs_to_ints
from .params import RtlParams
from .plan import RtlError
from .regs import DESC_WORDS, REGISTERS, desc_base
from .sim import Case, _check_operands
from .soc_export import SOC_MODULE
from .soc_sim import SocResult, _result, check_bandwidth, soc_params
from .verilator import Build, Target, build

__all__ = ["SocRun", "simulate_soc_verilator", "soc_target", "desc_depth_for", "SOC_TESTBENCH"]

SOC_TESTBENCH = Path(__file__).with_name("tb_soc_verilator.cpp")
MAGIC, VERSION = 0x43534443, 2


def _soc(p: RtlParams, data_bytes: int, desc_depth: int):
    from .soc import Soc
    return Soc(p, data_bytes, desc_depth)


def soc_target(data_bytes: int, desc_depth: int) -> Target:
    """The build target of a SoC with AXI data width `data_bytes` and `desc_depth` descriptors."""
    return Target(SOC_MODULE, SOC_TESTBENCH, partial(_soc, data_bytes=data_bytes, desc_depth=desc_depth),
                  (data_bytes, desc_depth))


def desc_depth_for(programs: list[Program]) -> int:
    """The descriptor memory's depth for these programs: the next power of two (as `soc_sim` sizes it)."""
    return 1 << max(0, (max(len(p.descriptors) for p in programs) - 1).bit_length())


@dataclass(frozen=True)
class SocRun:
    """One case on the Verilated SoC: the result, every clock (host register writes included), wall and CPU s."""

    result: SocResult
    clocks: int
    seconds: float
    cpu_seconds: float


def _program_file(path: Path, prog: Program, data_bytes: int, depth: int, max_clocks: int) -> None:
    beats = ints_to_limbs(prog.beats, data_bytes)
    head = [MAGIC, VERSION, beats.shape[1], data_bytes.bit_length() - 1, desc_base(depth), len(prog.descriptors),
            min(max_clocks, 2**32 - 1), len(prog.beats),
            *(REGISTERS[r] for r in ("CTRL", "NDESC", "CYCLES", "COMPUTE_CYCLES")), DESC_WORDS]
    words = [w for i in range(len(prog.descriptors)) for w in prog.words(i)]
    with open(path, "wb") as f:
        for chunk in (np.array(head, dtype="<u4"), np.array(words, dtype="<u4"), beats):
            f.write(np.ascontiguousarray(chunk, dtype="<u4").tobytes())


def _run_case(exe: Path, arch: SystolicArch, case: Case, prog: Program, params: RtlParams, data_bytes: int,
              depth: int, work: Path) -> SocRun:
    prog_file, dram_file = work / "program.bin", work / "dram.bin"
    model = evaluate_mapping(case.layer, replace(arch, timing="soc"), case.mapping)["latency_cycles"]
    _program_file(prog_file, prog, data_bytes, depth, 2 * int(model) + 100_000)     # a hang guard, not a check
    r = subprocess.run([str(exe), str(prog_file), str(dram_file)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RtlError(f"layer {case.layer.name!r} on the Verilated SoC: "
                       f"{r.stderr.strip() or f'exit {r.returncode}'}")
    said = r.stdout.split()                      # `clocks N seconds S cpu C` and `cycles X compute Y`
    out = dict(zip(said[::2], said[1::2]))
    limbs = np.fromfile(dram_file, dtype="<u4").reshape(len(prog.beats), -1)
    beats = limbs_to_ints(limbs, data_bytes)
    res = _result(arch, case, prog, params, beats, int(out["cycles"]), int(out["compute"]))
    return SocRun(res, int(out["clocks"]), float(out["seconds"]), float(out["cpu"]))


def simulate_soc_verilator(arch: SystolicArch, cases: list[Case], *, on_build=None) -> tuple[list[SocRun], Build]:
    """Run every case's tile program on one Verilated SoC (memories and descriptor depth sized for all).

    Returns the runs in order and the build (cached or fresh); `on_build`, if
    given, is called with the `Build` before the first case runs.
    """
    data_bytes = check_bandwidth(arch)
    for c in cases:
        _check_operands(arch, c)
    params = soc_params(arch, cases)
    progs = [make_program(arch, c.layer, c.mapping, c.a, c.b, params, data_bytes) for c in cases]
    depth = desc_depth_for(progs)
    b = build(params, target=soc_target(data_bytes, depth))
    if on_build:
        on_build(b)
    with tempfile.TemporaryDirectory(prefix="codesign-socvl-") as tmp:
        return [_run_case(b.exe, arch, c, pr, params, data_bytes, depth, Path(tmp)) for c, pr in zip(cases, progs)], b
