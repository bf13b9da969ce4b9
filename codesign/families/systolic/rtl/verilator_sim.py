"""Full-size layers on the Verilated RTL: the host program, the run, the results.

`simulate_verilator(arch, cases)` does what `sim.simulate_many` does in
pysim, with the same host protocol through the top-level ports (no
backdoor): per glb tile (dram-level order) the operand words go into the
west and north banks, the tile configuration is set, ``start`` pulses, the
testbench clocks until ``done``; partial sums stay in the accumulator while
consecutive tiles share an output tile, else they are read out and, when
the reduction resumes, written back; a finished tile is read through the
requantizing port too (``out_rdata`` at ``requant_shift``). Python lays every word out with numpy
into one program file per layer (`Program`, the format in
``tb_verilator.cpp``); the C++ testbench runs it and writes the cycle
counter per tile and the accumulator rows read, which Python unpacks into
the output matrix. Nothing is scaled down.

`SimResult` is the pysim one: outputs against the numpy golden, RTL cycles
per tile against the cost model's ``rtl`` timing per tile.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..arch import SystolicArch
from .controller import ROLE_CODES
from .lanes import _limbs, pack_lanes, unpack_lanes
from .params import RtlParams
from .plan import COL, ROW, TIME, Plan, RtlError, make_plan, model_cycles, tile_model_cycles
from .sim import Case, SimResult, _check_operands, _operand, _shift_of, _words, golden, requantize
from .top import ROLE_NAMES
from .verilator import Build, build

__all__ = ["Program", "VerilatorRun", "simulate_verilator", "pack_lanes", "unpack_lanes"]

MAGIC, VERSION = 0x4C564443, 2
END, WRITE, RUN, READ, RELOAD, SHIFT = range(6)
WEST, NORTH, ACC = range(3)


class Program:
    """A testbench program being written: chunks of uint32 (format in ``tb_verilator.cpp``)."""

    def __init__(self, p: RtlParams):
        self.p = p
        self.limbs = (_limbs(p.rows * p.op_bits), _limbs(p.cols * p.op_bits), _limbs(p.cols * p.acc_bits),
                      _limbs(p.cols * p.out_bits))
        self.chunks = [np.array([MAGIC, VERSION, *self.limbs], dtype="<u4")]

    def _ops(self, *vals: int) -> None:
        self.chunks.append(np.array(vals, dtype="<u4"))

    def write(self, port: int, words: np.ndarray, bits: int) -> None:
        """Write rows of lanes into bank `port` from address 0, one word per clock."""
        self._ops(WRITE, port, len(words))
        self.chunks.append(pack_lanes(words, bits).ravel())

    def run(self, config: list[int], max_ticks: int) -> None:
        """One glb tile: the 13 configuration values, start, clock until done."""
        self._ops(RUN, *config, min(max_ticks, 2**32 - 1))

    def read(self, rows: int, slot: int, final: bool) -> None:
        """Read accumulator rows 0..rows-1 into the output and into host memory `slot`
        (a `final` tile also through the requantizing port)."""
        self._ops(READ, rows, slot, int(final))

    def shift(self, shift: int) -> None:
        """Drive ``requant_shift``."""
        self._ops(SHIFT, shift)

    def reload(self, slot: int) -> None:
        """Write host memory `slot` back into the accumulator."""
        self._ops(RELOAD, slot)

    def save(self, path: Path) -> None:
        self._ops(END)
        with open(path, "wb") as f:
            for c in self.chunks:
                f.write(c.tobytes())


@dataclass(frozen=True)
class _Layout:
    """Where a case's operands and results go (the same layout as `sim._Host`)."""

    plan: Plan
    west_op: np.ndarray
    north_op: np.ndarray
    x_role: int            # run dim of the north bank
    y_role: int            # run dim of the accumulator

    @classmethod
    def of(cls, case: Case, plan: Plan) -> "_Layout":
        os_ = plan.dataflow == "os"
        x, y = (TIME, ROW) if os_ else (ROW, TIME)
        d = plan.dims
        return cls(plan, _operand(case.a, case.b, d[ROW], d[TIME]), _operand(case.a, case.b, d[COL], d[x]), x, y)

    def operand_words(self, tile, p: RtlParams):
        n, plan = self.plan.folds_in(tile.extent), self.plan
        for op, run_role, blk, lanes, port in ((self.west_op, TIME, ROW, p.rows, WEST),
                                               (self.north_op, self.x_role, COL, p.cols, NORTH)):
            sub = op[tile.base[blk]:tile.base[blk] + tile.extent[blk],
                     tile.base[run_role]:tile.base[run_role] + tile.extent[run_role]]
            yield port, _words(sub, n[blk], plan.fold[blk], lanes)

    def config(self, tile, accumulate: bool) -> list[int]:
        plan = self.plan
        fold, n = plan.fold_in(tile.extent), plan.folds_in(tile.extent)
        return [*tile.extent, *fold, *n, *(ROLE_CODES[ROLE_NAMES[r]] for r in plan.glb_order), int(accumulate)]

    def acc_rows(self, tile) -> int:
        return self.plan.folds_in(tile.extent)[COL] * tile.extent[self.y_role]

    def place(self, out: np.ndarray, tile, words: np.ndarray) -> None:
        """Accumulator (or requantized) rows read after `tile` into the output matrix `out` (M x N)."""
        plan = self.plan
        view = out if (plan.dims[COL], plan.dims[self.y_role]) == ("M", "N") else out.T
        ncol, f, run = plan.folds_in(tile.extent)[COL], plan.fold[COL], tile.extent[self.y_role]
        blk = words[:, :f].reshape(ncol, run, f).transpose(0, 2, 1).reshape(ncol * f, run)
        view[tile.base[COL]:tile.base[COL] + tile.extent[COL],
             tile.base[self.y_role]:tile.base[self.y_role] + run] = blk[:tile.extent[COL]]


def host_program(p: RtlParams, arch: SystolicArch, case: Case, plan: Plan) -> tuple[Program, list, int]:
    """The program of one case; the (tile, final) reads of the accumulator in order and the fold count."""
    lay, prog = _Layout.of(case, plan), Program(p)
    prog.shift(_shift_of(case, p))
    k = plan.k_role
    out_roles = [r for r in range(3) if r != k]
    tiles, model = list(plan.tiles()), tile_model_cycles(arch, plan)
    k_tiles = max(t.index[k] for t in tiles) + 1
    slots: dict[tuple, int] = {}
    resident, reads, folds = None, [], 0
    for i, tile in enumerate(tiles):
        key = tuple(tile.index[r] for r in out_roles)
        if tile.index[k] > 0 and key != resident:
            prog.reload(slots[key])
        for port, words in lay.operand_words(tile, p):
            prog.write(port, words, p.op_bits)
        prog.run(lay.config(tile, tile.index[k] > 0), 4 * model[i] + 1024)    # a hang guard, not a check
        folds += sum(1 for _ in plan.fold_extents(tile))
        resident = key
        nxt = tuple(tiles[i + 1].index[r] for r in out_roles) if i + 1 < len(tiles) else None
        if nxt != key:
            final = tile.index[k] == k_tiles - 1
            prog.read(lay.acc_rows(tile), slots.setdefault(key, len(slots)), final)
            reads.append((tile, final))
    return prog, reads, folds


@dataclass(frozen=True)
class VerilatorRun:
    """One case on Verilator: the result, every simulated clock (loads included), wall and CPU seconds."""

    result: SimResult
    clocks: int
    seconds: float
    cpu_seconds: float


def _run_case(exe: Path, p: RtlParams, arch: SystolicArch, case: Case, plan: Plan, work: Path) -> VerilatorRun:
    prog, reads, folds = host_program(p, arch, case, plan)
    files = [work / n for n in ("program.bin", "cycles.bin", "acc.bin", "quant.bin")]
    prog.save(files[0])
    r = subprocess.run([str(exe), *map(str, files)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RtlError(f"layer {case.layer.name!r} on Verilator: {(r.stderr.strip() or f'exit {r.returncode}')}")
    clocks, seconds, cpu = r.stdout.split()[1::2]
    cyc = np.fromfile(files[1], dtype="<u4").reshape(-1, 2)
    bad = np.nonzero(cyc[:, 0] != cyc[:, 1])[0]
    if bad.size:
        i = int(bad[0])
        raise RtlError(f"glb tile {i}: cycle counter {cyc[i, 0]} != {cyc[i, 1]} clock ticks from start to done")
    acc = np.fromfile(files[2], dtype="<u4").reshape(-1, _limbs(p.cols * p.acc_bits))
    quant = np.fromfile(files[3], dtype="<u4").reshape(-1, _limbs(p.cols * p.out_bits))
    lay = _Layout.of(case, plan)
    out = np.zeros((case.layer.bounds["M"], case.layer.bounds["N"]), dtype=np.int64)
    q = np.zeros_like(out)
    row = qrow = 0
    for tile, final in reads:
        n = lay.acc_rows(tile)
        lay.place(out, tile, unpack_lanes(acc[row:row + n], p.cols, p.acc_bits))
        row += n
        if final:
            lay.place(q, tile, unpack_lanes(quant[qrow:qrow + n], p.cols, p.out_bits))
            qrow += n
    tiles = tuple(int(c) for c in cyc[:, 0])
    want, shift = golden(case.a, case.b, arch.acc_bits), _shift_of(case, p)
    res = SimResult(out, want, sum(tiles), model_cycles(arch, case.layer, case.mapping), tiles,
                    tuple(tile_model_cycles(arch, plan)), folds, q, requantize(want, shift, p.out_bits), shift)
    return VerilatorRun(res, int(clocks), float(seconds), float(cpu))


def simulate_verilator(arch: SystolicArch, cases: list[Case], *, params: RtlParams | None = None,
                       on_build=None) -> tuple[list[VerilatorRun], Build]:
    """Run every case at full size on one Verilated design (memories sized for all of them).

    Returns the runs in order and the build (cached or fresh). `on_build`,
    if given, is called with the `Build` before the first case runs.
    """
    plans = [make_plan(arch, c.layer, c.mapping) for c in cases]
    for c in cases:
        _check_operands(arch, c)
    need = RtlParams.for_plans(arch, plans)
    params = params or need
    short = [f"{k} {getattr(need, k)} > {getattr(params, k)}" for k in ("west_depth", "north_depth", "acc_depth")
             if getattr(need, k) > getattr(params, k)]
    if short:
        raise RtlError(f"the layers' glb tiles need deeper memories than the design has: {', '.join(short)} words")
    b = build(params)
    if on_build:
        on_build(b)
    with tempfile.TemporaryDirectory(prefix="codesign-vl-") as tmp:
        return [_run_case(b.exe, params, arch, c, pl, Path(tmp)) for c, pl in zip(cases, plans)], b
