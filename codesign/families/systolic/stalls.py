"""Latency with DRAM stalls in ``rtl`` timing: the schedule of the SoC's DMA (`rtl/soc.py`).

The glb tiles ``i = 0 .. T-1`` run in the dram-level loop order. Operand
banks are double-buffered, the accumulator is not:

- prologue: the DMA loads tile 0's operands;
- step ``i``: the array computes tile ``i`` (``C_i`` compute cycles) while the
  DMA loads tile ``i+1``'s operands (``L_{i+1}`` cycles); the step lasts
  ``max(C_i + RUN_AFTER_COMPUTE, L_{i+1} + RUN_AFTER_LOAD)`` (the last step
  ``C_{T-1} + RUN_AFTER_COMPUTE``), plus ``STEP_CYCLES`` of sequencing;
- after step ``i``: a store of the output tile (``S_i + STORE_EXTRA``) when
  tile ``i`` ends a visit of its output tile, and a reload of partial sums
  (``S_{i+1} + RELOAD_EXTRA``) when tile ``i+1`` resumes a reduction.

DMA time moves whole on-chip words: ``L = west_words * k_w + north_words *
k_n``, ``S = acc_rows * k_a`` with ``k = ceil(word_bits / (8 *
dram_bw_bytes))`` cycles per word (a west word holds `rows` operands, a
north word and an accumulator row `cols`; the tile's words as the banks
hold them, `rtl/params.depths`). So every tile re-loads both operands (no
operand reuse across glb tiles) and ragged folds move padded words.

The sum of per-step maxima is exact without a loop per tile: the tiles of
a dim are full (extent ``e``) except the last (``l``), so a step's pair
(tile ``i``, tile ``i+1``) is one of few kinds, counted in closed form per
kind (`_mixed`); mappings whose every step is compute-bound or every step
load-bound skip the enumeration.
"""
from __future__ import annotations

import itertools

import numpy as np

from .dataflow import ROLES_ON
from .timing import FoldTiming
from .traffic import cdiv, level_sum

__all__ = ["soc_latency", "tile_compute_cycles", "PROLOGUE_CYCLES", "STEP_CYCLES", "RUN_AFTER_COMPUTE",
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

_Q_COMPUTE = ("folds", "ur", "uc", "t")
_Q_WORDS = ("west", "north")


def tile_compute_cycles(ft: FoldTiming, rows, cols, folds, sum_used_rows, sum_used_cols, sum_t):
    """Compute cycles of one glb tile from its fold count and its folds' extent sums.

    The only use of the compute timing here: whatever `FoldTiming.total`
    charges a layer of one glb tile, without its per-layer constant.
    """
    return ft.total(rows, cols, folds, sum_used_rows, sum_used_cols, sum_t, 1) - ft.per_layer


def _word_cycles(bits, bw):
    """Cycles the DMA needs per on-chip word of `bits` at `bw` bytes per cycle."""
    return np.ceil(bits / (8.0 * bw) - 1e-9)


def _factors(info, arch, F, E, x):
    """Per dim (D, N) factors of a tile with extents `E`: fold counts, used-extent sums
    (rows, cols, pe levels) and word counts (west, north, acc rows)."""
    nf = cdiv(E, x)
    out = {"folds": nf, "ur": level_sum(F, F_ROWS, E, x, nf), "uc": level_sum(F, F_COLS, E, x, nf),
           "t": level_sum(F, F_PE, E, x, nf)}
    row, col, time = ROLES_ON[arch.dataflow]
    roles = np.array(info.roles)[:, None]
    run_n, run_a = (time, row) if arch.dataflow == "os" else (row, time)

    def words(blocked, level, run):
        f = np.ones_like(E)
        f = np.where(roles == blocked, cdiv(E, F[level]), f)
        return np.where((roles == run) | (roles == "g"), E, f)
    out["west"] = words(row, F_ROWS, time)
    out["north"] = words(col, F_COLS, run_n)
    out["acc"] = words(col, F_COLS, run_a)
    return out


def soc_latency(info, av, F: np.ndarray, dram_pos: np.ndarray, ft: FoldTiming, compute) -> np.ndarray:
    """Total cycles of the SoC schedule (module docstring) for mappings F (5, D, N) with
    dram-level loop positions `dram_pos` (D, N); `compute` the layer's compute cycles."""
    arch, bw = av.base, av.dram_bw_bytes
    B = info.bounds[:, None]
    t_arr = F[F_ROWS] * F[F_COLS] * F[F_PE]
    x = np.minimum(t_arr, B)
    e = np.minimum(t_arr * F[F_GLB], B)
    n = cdiv(B, e)
    last = np.maximum(B - (n - 1) * e, 1)
    fe, fl = _factors(info, arch, F, e, x), _factors(info, arch, F, last, x)
    kw = _word_cycles(av.rows * arch.op_bits, bw)
    kn = _word_cycles(av.cols * arch.op_bits, bw)
    ka = _word_cycles(av.cols * arch.acc_bits, bw)

    def comp(fac):
        p = {q: np.prod(fac[q], axis=0) for q in _Q_COMPUTE}
        return tile_compute_cycles(ft, av.rows, av.cols, p["folds"], p["ur"], p["uc"], p["t"])

    def load(fac):
        return np.prod(fac["west"], axis=0) * kw + np.prod(fac["north"], axis=0) * kn

    T = np.prod(n, axis=0)
    tot = {q: np.prod((n - 1) * fe[q] + fl[q], axis=0) for q in ("west", "north", "acc")}
    c_first, c_last = comp(fe), comp(fl)
    l_first, l_last = load(fe), load(fl)
    sum_c = compute - ft.per_layer
    sum_l = tot["west"] * kw + tot["north"] * kn
    bound_c = c_last + RUN_AFTER_COMPUTE >= l_first + RUN_AFTER_LOAD      # every step compute-bound
    bound_l = c_first + RUN_AFTER_COMPUTE <= l_last + RUN_AFTER_LOAD      # every step load-bound
    steps = np.where(bound_c, sum_c - c_last + (T - 1) * RUN_AFTER_COMPUTE,
                     sum_l - l_first + (T - 1) * RUN_AFTER_LOAD).astype(np.float64)
    mixed = np.flatnonzero(~bound_c & ~bound_l)
    if len(mixed):
        sub = lambda d: {q: v[:, mixed] for q, v in d.items()}  # noqa: E731
        steps[mixed] = _mixed(n[:, mixed], dram_pos[:, mixed], sub(fe), sub(fl), comp, load)
    # output tiles: visits per output tile (dram loops over unused dims outside its innermost loop)
    out = info.rel["outputs"][:, None]
    p_star = np.where(out & (n > 1), dram_pos, -1).max(axis=0)
    visits = np.prod(np.where(~out & (dram_pos < p_star) & (n > 1), n, 1), axis=0)
    out_tiles = np.prod(np.where(out, n, 1), axis=0)
    acc_rows = np.prod(np.where(out, (n - 1) * fe["acc"] + fl["acc"], 1), axis=0)
    stores = visits * (acc_rows * ka + out_tiles * STORE_EXTRA)
    reloads = (visits - 1) * (acc_rows * ka + out_tiles * RELOAD_EXTRA)
    total = (ft.per_layer + PROLOGUE_CYCLES + l_first + STEP_CYCLES * T + steps + c_last + RUN_AFTER_COMPUTE
             + stores + reloads)
    return np.rint(total).astype(np.int64)


def _mixed(n, pos, fe, fl, comp, load):
    """Sum over steps i < T-1 of max(C_i + RUN_AFTER_COMPUTE, L_{i+1} + RUN_AFTER_LOAD), by step kind.

    A step is the transition where dim ``j``'s dram index goes up by one and
    every dim inside it wraps from its last tile to its first; dims outside
    keep their index (full or last tile). Dims never split are fixed."""
    D, N = n.shape
    split = [d for d in range(D) if (n[d] > 1).any()]
    total = np.zeros(N)
    for j in split:
        others = [d for d in split if d != j]
        for cj, choice in itertools.product((0, 1), itertools.product((0, 1), repeat=len(others))):
            w = np.maximum(n[j] - 2, 0) if cj == 0 else (n[j] >= 2).astype(np.int64)
            fi = {q: fl[q].copy() for q in fe}
            fn = {q: fl[q].copy() for q in fe}
            for q in fe:
                fi[q][j] = fe[q][j]
                fn[q][j] = fe[q][j] if cj == 0 else fl[q][j]
            for d, c in zip(others, choice):
                outer = pos[d] < pos[j]
                if c == 0:
                    w = w * np.where(outer, n[d] - 1, 0)
                    for q in fe:
                        fi[q][d], fn[q][d] = fe[q][d], fe[q][d]
                else:
                    for q in fe:
                        fn[q][d] = np.where(outer, fl[q][d], fe[q][d])
            live = w > 0
            if live.any():
                total += np.where(live, w * np.maximum(comp(fi) + RUN_AFTER_COMPUTE, load(fn) + RUN_AFTER_LOAD), 0)
    return total
