"""Simulation harness: run a GEMM layer on the generated RTL (Amaranth pysim).

`simulate` plays the host: per glb tile (dram-level loop order) it lays the
tile's operands out in the scratchpad banks, pulses ``start``, waits for
``done``, keeps partial sums in the accumulator while consecutive tiles
share an output tile (else reads them out and, when the reduction resumes,
writes them back), and finally compares the results with a numpy golden
``a @ b`` (int64) wrapped to ``acc_bits`` two's complement. A finished
output tile is also read through the requantizing port (``out_rdata``) and
compared with `requantize` of the golden at the same shift: arithmetic
shift right, saturate to ``out_bits``. The shift is the case's ``shift``, or
by default `requant_shift` of the layer's reduction length (the streaming
family's rule). The measured
cycles are the RTL's cycle counter summed over glb tiles; `model_cycles`
is the cost model's ``rtl`` timing formula for the same mapping.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from ..arch import SystolicArch
from ..mapping import Mapping
from ....workload import Layer
from .controller import ROLE_CODES
from .lanes import pack_ints
from .params import RtlParams, depths
from .plan import COL, ROW, TIME, Plan, RtlError, make_plan, model_cycles, tile_model_cycles
from .top import ROLE_NAMES, Top

__all__ = ["SimResult", "Case", "simulate", "simulate_many", "model_cycles", "golden", "wrap", "requantize",
           "requant_shift"]


def wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Integers wrapped to `bits`-bit two's complement (as int64)."""
    x = np.asarray(x, dtype=np.int64)
    half = np.int64(1) << np.int64(bits - 1)
    return ((x + half) & ((half << np.int64(1)) - 1)) - half if bits < 64 else x


def golden(a: np.ndarray, b: np.ndarray, acc_bits: int) -> np.ndarray:
    """The reference result: ``a @ b`` in int64, wrapped to `acc_bits`."""
    return wrap(a.astype(np.int64) @ b.astype(np.int64), acc_bits)


def requantize(x: np.ndarray, shift: int, out_bits: int) -> np.ndarray:
    """``clip(x >> shift)`` to signed `out_bits` (int64, arithmetic shift): the RTL's
    read-out path (`buffers.requantize`) and the streaming engines' rule."""
    x = np.asarray(x, dtype=np.int64)
    return np.clip(x >> shift, -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1)


def requant_shift(k: int, op_bits: int, out_bits: int) -> int:
    """The default per-layer shift, the streaming engines' rule generalized to `out_bits`:
    a product of random `op_bits` operands has about ``2 (op_bits - 1)`` magnitude bits and
    a sum of `k` of them ``log2(k) / 2`` more, so ``2 op_bits - 1 - out_bits + ceil(log2 k) // 2``
    (``op_bits - 1 + ceil(log2 k) // 2`` at ``out_bits == op_bits``, as
    `codesign.families.streaming.rtl.plan.requant_shift`) maps random data onto most of the
    output range; extreme operands saturate."""
    return max(0, 2 * op_bits - 1 - out_bits + math.ceil(math.log2(max(k, 1))) // 2)


@dataclass(frozen=True)
class Case:
    """One layer run: a GEMM layer, its mapping and operands ``a`` (M x K), ``b`` (K x N);
    `shift` the requantization shift (None: `requant_shift` of the layer's K)."""

    layer: Layer
    mapping: Mapping
    a: np.ndarray
    b: np.ndarray
    shift: int | None = None


@dataclass(frozen=True)
class SimResult:
    """Outcome of one simulated layer.

    `outputs` are the accumulators (``acc_bits``), `quantized` the same read
    through the requantizing port (``out_bits``, at `shift`), each with its
    golden. `cycles` sums the RTL cycle counter over the glb tiles;
    `tile_cycles` and `model_tile_cycles` give it per tile (measured / formula).
    """

    outputs: np.ndarray
    golden: np.ndarray
    cycles: int
    model_cycles: int
    tile_cycles: tuple[int, ...]
    model_tile_cycles: tuple[int, ...]
    folds: int
    quantized: np.ndarray | None = None
    quantized_golden: np.ndarray | None = None
    shift: int = 0

    @property
    def glb_tiles(self) -> int:
        return len(self.tile_cycles)

    @property
    def bit_exact(self) -> bool:
        """Accumulators and requantized outputs both equal numpy's."""
        return bool(np.array_equal(self.outputs, self.golden)
                    and np.array_equal(self.quantized, self.quantized_golden))

    @property
    def cycle_exact(self) -> bool:
        return self.cycles == self.model_cycles and self.tile_cycles == self.model_tile_cycles

    def summary(self) -> str:
        bad = int(np.count_nonzero((self.outputs != self.golden) | (self.quantized != self.quantized_golden)))
        return (f"outputs {'bit exact' if self.bit_exact else f'{bad} of {self.outputs.size} WRONG'}, "
                f"RTL {self.cycles} cycles vs model {self.model_cycles} "
                f"({self.glb_tiles} glb tiles, {self.folds} folds)")


def _operand(a: np.ndarray, b: np.ndarray, d1: str, d2: str) -> np.ndarray:
    """The operand indexed [d1, d2]: A is [M, K], B is [K, N] (transposed as needed)."""
    ops = {("M", "K"): a, ("K", "N"): b}
    return ops[(d1, d2)] if (d1, d2) in ops else ops[(d2, d1)].T


def _words(mat: np.ndarray, nblk: int, fold: int, lanes: int) -> np.ndarray:
    """Vectors of a [blocked dim, run dim] tile: word ``blk*run + x`` holds lanes ``mat[blk*fold + i, x]``."""
    run = mat.shape[1]
    pad = np.zeros((nblk * fold, run), dtype=np.int64)
    pad[:mat.shape[0]] = mat
    w = pad.reshape(nblk, fold, run).transpose(0, 2, 1).reshape(nblk * run, fold)
    out = np.zeros((nblk * run, lanes), dtype=np.int64)
    out[:, :fold] = w
    return out


def _pack(words: np.ndarray, bits: int) -> list[int]:
    """Each row of lanes as one integer, lane i in bits [i*bits, (i+1)*bits) (vectorized: `lanes.pack_ints`)."""
    if bits < 64:
        return pack_ints(words, bits)
    mask = (1 << bits) - 1
    return [sum((int(v) & mask) << (i * bits) for i, v in enumerate(row)) for row in words]


def _unpack(word: int, lanes: int, bits: int) -> list[int]:
    mask, half = (1 << bits) - 1, 1 << (bits - 1)
    return [((word >> (i * bits)) & mask) - ((word >> (i * bits)) & half) * 2 for i in range(lanes)]


class _Host:
    """The testbench side of the host protocol for one case."""

    def __init__(self, top: Top, arch: SystolicArch, case: Case, plan: Plan, backdoor: bool):
        self.top, self.arch, self.case, self.plan, self.backdoor = top, arch, case, plan, backdoor
        self.p = top.p
        self.shift = _shift_of(case, top.p)
        dims = plan.dims
        self.x_role = TIME if plan.dataflow == "os" else ROW      # north run dim
        self.y_role = ROW if plan.dataflow == "os" else TIME      # accumulator run dim
        self.west_op = _operand(case.a, case.b, dims[ROW], dims[TIME])
        self.north_op = _operand(case.a, case.b, dims[COL], dims[self.x_role])
        self.out = np.zeros((case.layer.bounds["M"], case.layer.bounds["N"]), dtype=np.int64)
        self.out_view = self.out if (dims[COL], dims[self.y_role]) == ("M", "N") else self.out.T
        self.q = np.zeros_like(self.out)
        self.q_view = self.q if self.out_view is self.out else self.q.T

    async def write(self, ctx, mem, port: str, words: list[int]):
        if self.backdoor:
            for addr, w in enumerate(words):
                ctx.set(mem[addr], w)
            return
        top = self.top
        ctx.set(getattr(top, f"{port}_we"), 1)
        for addr, w in enumerate(words):
            ctx.set(getattr(top, f"{port}_addr"), addr)
            ctx.set(getattr(top, f"{port}_wdata"), w)
            await ctx.tick()
        ctx.set(getattr(top, f"{port}_we"), 0)

    def _acc_block(self, tile, view=None):
        sl = tuple(slice(tile.base[r], tile.base[r] + tile.extent[r]) for r in (COL, self.y_role))
        return (self.out_view if view is None else view)[sl]

    async def acc_out(self, ctx, tile, final: bool):
        """Read the tile's accumulator rows into the host's output array; a `final` tile
        (its reduction done) also through the requantizing port, always via the ports."""
        p, plan = self.p, self.plan
        n = plan.folds_in(tile.extent)
        rows = n[COL] * tile.extent[self.y_role]
        words = np.zeros((rows, p.cols), dtype=np.int64)
        qwords = np.zeros((rows, p.cols), dtype=np.int64)
        for addr in range(rows):
            if self.backdoor and not final:
                words[addr] = [ctx.get(self.top.acc.banks[j][addr]) for j in range(p.cols)]
            else:
                ctx.set(self.top.acc_addr, addr)
                await ctx.tick()
                words[addr] = _unpack(ctx.get(self.top.acc_rdata), p.cols, p.acc_bits)
                qwords[addr] = _unpack(ctx.get(self.top.out_rdata), p.cols, p.out_bits)
        f = plan.fold[COL]
        for w, view in ((words, self.out_view), (qwords, self.q_view)) if final else ((words, self.out_view),):
            blk = w[:, :f].reshape(n[COL], tile.extent[self.y_role], f).transpose(0, 2, 1)
            self._acc_block(tile, view)[...] = blk.reshape(n[COL] * f, -1)[:tile.extent[COL]]

    async def acc_in(self, ctx, tile):
        """Write the tile's partial sums back into the accumulator."""
        n = self.plan.folds_in(tile.extent)
        words = _words(self._acc_block(tile), n[COL], self.plan.fold[COL], self.p.cols)
        if self.backdoor:
            for addr, row in enumerate(words):
                for j in range(self.p.cols):
                    ctx.set(self.top.acc.banks[j][addr], int(row[j]))
        else:
            await self.write(ctx, None, "acc", _pack(words, self.p.acc_bits))

    async def run_tile(self, ctx, tile, accumulate: bool) -> int:
        p, plan, top = self.p, self.plan, self.top
        n = plan.folds_in(tile.extent)
        for op, role, lanes, bank, port in ((self.west_op, TIME, p.rows, top.west, "west"),
                                            (self.north_op, self.x_role, p.cols, top.north, "north")):
            blk = ROW if port == "west" else COL
            sub = op[tile.base[blk]:tile.base[blk] + tile.extent[blk],
                     tile.base[role]:tile.base[role] + tile.extent[role]]
            await self.write(ctx, bank.mem_data, port, _pack(_words(sub, n[blk], plan.fold[blk], lanes), p.op_bits))
        for r, name in enumerate(ROLE_NAMES):
            ctx.set(getattr(top, f"ext_{name}"), tile.extent[r])
            ctx.set(getattr(top, f"fold_{name}"), plan.fold_in(tile.extent)[r])
            ctx.set(getattr(top, f"nfold_{name}"), n[r])
        for l, name in enumerate(("outer", "middle", "inner")):
            ctx.set(getattr(top, f"order_{name}"), ROLE_CODES[ROLE_NAMES[plan.glb_order[l]]])
        ctx.set(top.accumulate, int(accumulate))
        ctx.set(top.start, 1)
        await ctx.tick()
        ctx.set(top.start, 0)
        ticks = 0
        while not ctx.get(top.done):
            await ctx.tick()
            ticks += 1
        counted = ctx.get(top.cycles)
        if counted != ticks:
            raise RtlError(f"cycle counter {counted} != {ticks} clock ticks from start to done")
        return counted

    async def run(self, ctx) -> tuple[list[int], int]:
        plan = self.plan
        ctx.set(self.top.requant_shift, self.shift)
        k = plan.k_role
        k_tiles = max(t.index[k] for t in plan.tiles()) + 1
        out_roles = [r for r in range(3) if r != k]
        tiles = list(plan.tiles())
        resident, cycles, folds = None, [], 0
        for i, tile in enumerate(tiles):
            key = tuple(tile.index[r] for r in out_roles)
            if tile.index[k] > 0 and key != resident:
                await self.acc_in(ctx, tile)
            cycles.append(await self.run_tile(ctx, tile, tile.index[k] > 0))
            folds += sum(1 for _ in plan.fold_extents(tile))
            resident = key
            nxt = tuple(tiles[i + 1].index[r] for r in out_roles) if i + 1 < len(tiles) else None
            if nxt != key:
                await self.acc_out(ctx, tile, tile.index[k] == k_tiles - 1)
        return cycles, folds


def _tile_model(arch: SystolicArch, plan: Plan) -> list[int]:
    """The timing formula per glb tile (same coefficients as `model_cycles`)."""
    return tile_model_cycles(arch, plan)


def _shift_of(case: Case, p: RtlParams) -> int:
    """The case's requantization shift (default `requant_shift`), checked against the port."""
    if case.shift is None:
        return min(requant_shift(case.layer.bounds["K"], p.op_bits, p.out_bits), p.acc_bits - 1)
    shift = case.shift
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift < p.acc_bits:
        raise RtlError(f"requant_shift: must be an integer in 0..{p.acc_bits - 1} (acc_bits - 1), got {shift!r}")
    return shift


def _check_operands(arch: SystolicArch, case: Case):
    M, N, K = (case.layer.bounds[d] for d in ("M", "N", "K"))
    a, b = np.asarray(case.a), np.asarray(case.b)
    if a.shape != (M, K) or b.shape != (K, N):
        raise RtlError(f"operands must be a {M}x{K} and b {K}x{N}, got {a.shape} and {b.shape}")
    lo, hi = -(1 << (arch.op_bits - 1)), (1 << (arch.op_bits - 1)) - 1
    for name, x in (("a", a), ("b", b)):
        if x.size and (x.min() < lo or x.max() > hi):
            raise RtlError(f"operand {name} has values outside int{arch.op_bits} [{lo}, {hi}]")


def simulate_many(arch: SystolicArch, cases: list[Case], *, params: RtlParams | None = None,
                  backdoor: bool = True, vcd: str | None = None, monitors=()) -> list[SimResult]:
    """Simulate several layers one after the other on one elaborated design.

    `backdoor=True` loads and reads the memories directly (instant, for
    speed); `False` uses the host ports cycle by cycle. Neither counts in the
    measured cycles (only start-to-done does). `monitors`: functions of the
    `Top` returning an async process (``ctx`` argument) run beside the host.
    """
    plans = [make_plan(arch, c.layer, c.mapping) for c in cases]
    for c in cases:
        _check_operands(arch, c)
    params = params or RtlParams.for_plans(arch, plans)
    for plan in plans:
        for tile in plan.tiles():
            need = depths(plan, tile.extent)
            have = (params.west_depth, params.north_depth, params.acc_depth)
            if any(n > h for n, h in zip(need, have)):
                raise RtlError(f"glb tile {tile.extent} needs {need} words (west, north, acc), "
                               f"the design has {have}")
    top = Top(params)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    results: list[SimResult] = []

    async def bench(ctx):
        for case, plan in zip(cases, plans):
            host = _Host(top, arch, case, plan, backdoor)
            cycles, folds = await host.run(ctx)
            want = golden(case.a, case.b, arch.acc_bits)
            results.append(SimResult(host.out.copy(), want, sum(cycles),
                                     model_cycles(arch, case.layer, case.mapping), tuple(cycles),
                                     tuple(_tile_model(arch, plan)), folds, host.q.copy(),
                                     requantize(want, host.shift, params.out_bits), host.shift))

    sim.add_testbench(bench)
    for monitor in monitors:
        sim.add_process(monitor(top))
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return results


def simulate(arch: SystolicArch, layer: Layer, mapping: Mapping, a: np.ndarray, b: np.ndarray, *,
             backdoor: bool = True, vcd: str | None = None, shift: int | None = None) -> SimResult:
    """Run one GEMM layer on the RTL; outputs (int64, wrapped to acc_bits), requantized
    outputs (at `shift`, default `requant_shift`) and measured cycles."""
    return simulate_many(arch, [Case(layer, mapping, a, b, shift)], backdoor=backdoor, vcd=vcd)[0]
