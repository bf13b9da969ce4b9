"""Latency with DRAM stalls in ``soc`` timing: the schedule of the SoC's DMA (`rtl/soc.py`).

``soc`` computes as ``rtl`` (`compute_timing`) and replaces ``rtl``'s
analytic overlap (first load + max(compute, rest of transfer) + last
drain, at the reuse rule's DRAM bytes) with what the generated DMA does.

The glb tiles ``i = 0 .. T-1`` run in the dram-level loop order. Operand
banks are double-buffered, the accumulator is not:

- prologue: the DMA loads tile 0's operands (``L`` cycles);
- step ``i``: the array computes tile ``i`` (``C_i`` compute cycles) while the
  DMA loads tile ``i+1``'s operands; the step lasts
  ``max(C_i + RUN_AFTER_COMPUTE, L + RUN_AFTER_LOAD)`` (the last step
  ``C_{T-1} + RUN_AFTER_COMPUTE``), plus ``STEP_CYCLES`` of sequencing;
- after step ``i``: a store of the output tile (``S + STORE_EXTRA``) when
  tile ``i`` ends a visit of its output tile, and a reload of its partial
  sums (``S + RELOAD_EXTRA``) when tile ``i+1`` resumes a reduction.

DMA time moves whole on-chip words: ``L = west_words * k_w + north_words *
k_n``, ``S = acc_rows * k_a`` with ``k = ceil(word_bits / (8 *
dram_bw_bytes))`` cycles per word (a west word holds `rows` operands, a
north word and an accumulator row `cols`; words as the banks hold them,
`rtl/params.depths`). Every tile loads both operands (no operand reuse
across glb tiles) and always a *full* tile's words (a ragged tile's are
zero-padded in DRAM: fixed-size loads keep each step's max a function of
tile ``i`` alone); stores and reloads move the output tile's exact rows.

So the steps sum ``max(C + RUN_AFTER_COMPUTE, L + RUN_AFTER_LOAD)`` over
tiles, exact without a loop per tile: a tile is full (extent ``e``) along a
dim or the ragged last one (``l``), and the sum runs over these kinds with
their counts (`_tiles_sum`); mappings whose every tile is compute-bound or
every tile load-bound take a closed form.
"""
from __future__ import annotations

import itertools

import numpy as np

from .dataflow import ROLES_ON
from .timing import FoldTiming, floored_t_sum, fold_timing
from .traffic import cdiv, level_sum

__all__ = ["soc_latency", "soc_bound", "soc_bound_params", "compute_timing", "tile_compute_cycles", "PROLOGUE_CYCLES", "STEP_CYCLES", "RUN_AFTER_COMPUTE",
           "RUN_AFTER_LOAD", "STORE_EXTRA", "RELOAD_EXTRA"]

F_DRAM, F_GLB, F_ROWS, F_COLS, F_PE = range(5)

# Sequencer cycles (rtl/soc.py's FSM states; tests/test_soc.py measures them on the RTL):
#: FETCH0, the loader's go, two DMA commands (command + DMA busy beyond the beats + done seen) and PROLOGUE's exit
PROLOGUE_CYCLES = 9
#: SWAP, START, STORE, RELOAD and NEXT, one cycle each
STEP_CYCLES = 5
#: Top's `done` is seen the cycle after its last busy cycle
RUN_AFTER_COMPUTE = 1
#: the loader's go, two commands of 3 cycles besides their beats, RUN's exit
RUN_AFTER_LOAD = 8
#: a store: the DMA's address cycle, the last B response, the wait state's exit
STORE_EXTRA = 3
#: a reload: the DMA's address cycle and the wait state's exit
RELOAD_EXTRA = 2

_Q_COMPUTE = ("folds", "ur", "uc", "tf", "tl")
_Q_WORDS = ("west", "north")


def compute_timing(arch) -> FoldTiming:
    """The compute-cycle coefficients of an architecture's timing mode: ``soc`` computes as ``rtl``
    (the same array; it adds the DMA's stalls)."""
    return fold_timing("rtl" if arch.timing == "soc" else arch.timing, arch.dataflow)


def tile_compute_cycles(ft: FoldTiming, rows, cols, p):
    """Compute cycles of one glb tile from its per-dim factors `p` (D, N): fold counts
    (``folds``), used rows / cols sums (``ur``, ``uc``) and the pe extent of a full and of
    the last fold (``tf``, ``tl``).

    The only use of the compute timing here: what `cost._compute` charges a layer of one
    glb tile (its folds' ``max(t, floor)`` summed, `floored_t_sum`), without the per-layer
    constant; summed over the tiles that is the layer's compute less that constant.
    """
    folds, ur, uc = (np.prod(p[q], axis=0) for q in ("folds", "ur", "uc"))
    sum_t = floored_t_sum(p["tf"], p["tl"], p["folds"], ft.t_floor(rows))
    return ft.total(rows, cols, folds, ur, uc, sum_t, 1) - ft.per_layer


def _word_cycles(bits, bw):
    """Cycles the DMA needs per on-chip word of `bits` at `bw` bytes per cycle."""
    return np.ceil(bits / (8.0 * bw) - 1e-9)


def _factors(roles, dataflow, F, E, x, words):
    """Per dim (D, N) factors of a tile with extents `E`: fold counts, used-extent sums
    (rows, cols, pe levels) and the word counts named in `words` (west, north, acc rows)."""
    nf = cdiv(E, x)
    f_pe = F[F_PE]
    out = {"folds": nf, "ur": level_sum(F, F_ROWS, E, x, nf), "uc": level_sum(F, F_COLS, E, x, nf),
           "tf": np.where(f_pe > 1, f_pe, 1), "tl": np.where(f_pe > 1, np.minimum(f_pe, E - (nf - 1) * x), 1)}
    row, col, time = ROLES_ON[dataflow]
    run_n, run_a = (time, row) if dataflow == "os" else (row, time)
    kinds = {"west": (row, F_ROWS, time), "north": (col, F_COLS, run_n), "acc": (col, F_COLS, run_a)}
    for w in words:
        blocked, level, run = kinds[w]
        f = np.where(roles == blocked, cdiv(E, F[level]), 1)
        out[w] = np.where((roles == run) | (roles == "g"), E, f)
    return out


def soc_latency(info, av, F: np.ndarray, dram_pos: np.ndarray, ft: FoldTiming, compute) -> np.ndarray:
    """Total cycles of the SoC schedule (module docstring) for mappings F (5, D, N) with
    dram-level loop positions `dram_pos` (D, N); `compute` the layer's compute cycles."""
    arch, bw = av.base, av.dram_bw_bytes
    N = F.shape[2]
    # bound-1 dims: one tile, every factor 1 (a 1x1x1 layer keeps one)
    live = np.flatnonzero(info.bounds > 1) if (info.bounds > 1).any() else np.arange(1)
    F, dram_pos, B = F[:, live], dram_pos[live], info.bounds[live, None]
    roles = np.array(info.roles)[live, None]
    t_arr = F[F_ROWS] * F[F_COLS] * F[F_PE]
    x = np.minimum(t_arr, B)
    e = np.minimum(t_arr * F[F_GLB], B)
    n = cdiv(B, e)
    last = np.maximum(B - (n - 1) * e, 1)
    fe = _factors(roles, arch.dataflow, F, e, x, ("west", "north", "acc"))
    fl = _factors(roles, arch.dataflow, F, last, x, ("acc",))
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=np.float64), (N,))  # noqa: E731
    rows, cols = full(av.rows), full(av.cols)
    kw, kn, ka = (full(_word_cycles(w * b, bw)) for w, b in ((av.rows, arch.op_bits), (av.cols, arch.op_bits),
                                                               (av.cols, arch.acc_bits)))

    def comp(p, idx=slice(None)):
        return tile_compute_cycles(ft, rows[idx], cols[idx], p)

    def load(p, idx=slice(None)):
        return p["west"] * kw[idx] + p["north"] * kn[idx]

    prod = lambda fac: {q: np.prod(v, axis=0) for q, v in fac.items()}  # noqa: E731
    c_last, l_full = comp(fl), load(prod(fe))
    floor = l_full + RUN_AFTER_LOAD                     # every step but the last loads a full tile
    steps = _tiles_sum(n, fe, fl, comp, floor, compute - ft.per_layer) - np.maximum(c_last + RUN_AFTER_COMPUTE, floor)
    # output tiles: visits per output tile (dram loops over unused dims outside its innermost loop)
    out = info.rel["outputs"][live, None]
    p_star = np.where(out & (n > 1), dram_pos, -1).max(axis=0)
    visits = np.prod(np.where(~out & (dram_pos < p_star) & (n > 1), n, 1), axis=0)
    out_tiles = np.prod(np.where(out, n, 1), axis=0)
    acc_rows = np.prod(np.where(out, (n - 1) * fe["acc"] + fl["acc"], 1), axis=0)
    stores = visits * (acc_rows * ka + out_tiles * STORE_EXTRA)
    reloads = (visits - 1) * (acc_rows * ka + out_tiles * RELOAD_EXTRA)
    total = (ft.per_layer + PROLOGUE_CYCLES + l_full + STEP_CYCLES * np.prod(n, axis=0) + steps + c_last + RUN_AFTER_COMPUTE
             + stores + reloads)
    return np.rint(total).astype(np.int64)


def _tiles_sum(n, fe, fl, comp, floor, sum_c):
    """Sum over all glb tiles of max(C + RUN_AFTER_COMPUTE, floor).

    Tiles are full (extent ``e``) along a dim except the last (``l``), so a
    tile's kind is which of its dims are at a ragged last tile: when even the
    smallest tile is compute-bound (or the largest load-bound) the sum is
    closed form, else the kinds of the dims ragged somewhere are enumerated."""
    D, N = n.shape
    fe, fl = ({q: f[q] for q in _Q_COMPUTE} for f in (fe, fl))
    c_min, c_max = comp(fl) + RUN_AFTER_COMPUTE, comp(fe) + RUN_AFTER_COMPUTE
    T = np.prod(n, axis=0)
    total = np.where(c_min >= floor, sum_c + T * RUN_AFTER_COMPUTE, T * floor).astype(np.float64)
    mixed = np.flatnonzero((c_min < floor) & (c_max > floor))
    if not len(mixed):
        return total
    nm = n[:, mixed]
    e = {q: fe[q][:, mixed] for q in _Q_COMPUTE}
    l = {q: fl[q][:, mixed] for q in _Q_COMPUTE}  # noqa: E741
    rag = (nm > 1) & np.any([e[q] != l[q] for q in _Q_COMPUTE], axis=0)
    dims = [d for d in range(D) if rag[d].any()]
    rest = np.array([d not in dims for d in range(D)])[:, None]
    w0 = np.prod(np.where(rest, nm, 1), axis=0)
    acc = np.zeros(len(mixed))
    # a dim ragged for some mappings only: its two kinds coincide for the others (weights n - 1 and 1)
    for choice in itertools.product((0, 1), repeat=len(dims)):
        w, last = w0, np.zeros((D, 1), dtype=bool)
        for d, c in zip(dims, choice):
            w = w * (nm[d] - 1 if c == 0 else 1)
            last[d] = c == 1
        p = {q: np.where(last, l[q], e[q]) for q in _Q_COMPUTE}   # the tile kind's per-dim factors
        acc += w * np.maximum(comp(p, mixed) + RUN_AFTER_COMPUTE, floor[mixed])
    total[mixed] = acc
    return total


def soc_bound_params(arch, bits) -> tuple:
    """What `soc_bound` needs of an architecture: bits per element the DMA moves at least (the
    tensor's, at most its on-chip word's; inputs, weights, outputs), cycles per west / north
    word, and which tensor (index) the west / north bank holds."""
    return (np.minimum(bits, [arch.op_bits, arch.op_bits, arch.acc_bits]),
            tuple(_word_cycles(w * arch.op_bits, arch.dram_bw_bytes) for w in (arch.rows, arch.cols)),
            (1, 0) if arch.dataflow == "is" else (0, 1))


def soc_bound(params, compute, glb_tiles, fp, used_rows, used_cols, out_traffic, zsize, bw, partial):
    """A lower bound of `soc_latency` (less the per-layer constant) from a mapping's compute
    cycles, glb tiles, full-tile footprints (N, 3), fold rows / cols (products of the rows / cols
    factors) and output traffic, monotone in all of them (the pruning model's terms, `bounds`):
    every tile loads at least a full tile's operand footprint (``L``; on a complete mapping at
    least its words, which hold at most fold-rows / fold-cols elements), every step lasts at least
    its compute + 1 and, but the last, ``L + 8``; stores and reloads move at least the reuse
    rule's output traffic. Not exact: the SoC's words are padded."""
    b, (kw, kn), (w, n) = params
    load = (fp[:, 0] * b[0] + fp[:, 1] * b[1]) / 8 / bw
    if not partial:
        load = np.maximum(load, fp[:, w] / used_rows * kw + fp[:, n] / used_cols * kn)
    steps = np.maximum(compute + glb_tiles * RUN_AFTER_COMPUTE, (glb_tiles - 1) * (load + RUN_AFTER_LOAD))
    outputs = (2 * out_traffic - zsize) * b[2] / 8 / bw
    return PROLOGUE_CYCLES + load + STEP_CYCLES * glb_tiles + steps + outputs
