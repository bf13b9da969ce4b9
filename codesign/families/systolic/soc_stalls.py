"""Latency with DRAM stalls in ``soc`` timing: the schedule of the SoC's DMA (`rtl/soc.py`).

``soc`` computes as ``rtl`` (`compute_timing`) and replaces ``rtl``'s
analytic overlap (first load + max(compute, rest of transfer) + last
drain, at the reuse rule's DRAM bytes) with what the generated DMA does.

The glb tiles ``i = 0 .. T-1`` run in the dram-level loop order. Operand
banks are double-buffered, the accumulator is not:

- prologue: the DMA loads tile 0's operands (``L_0`` cycles of words);
- step ``i``: the array computes tile ``i`` (``C_i`` compute cycles) while the
  DMA loads tile ``i+1``'s operands; the step lasts
  ``max(C_i + RUN_AFTER_COMPUTE, LD_{i+1})`` (the last step
  ``C_{T-1} + RUN_AFTER_COMPUTE``), plus ``STEP_CYCLES`` of sequencing;
- after step ``i``: a store of the output tile (``S + STORE_EXTRA``) when
  tile ``i`` ends a visit of its output tile, and a reload of its partial
  sums (``S + RELOAD_EXTRA``) when tile ``i+1`` resumes a reduction. The
  store after the last visit moves the final outputs requantized (rows of
  ``cols * out_bits``), the others raw accumulator rows.

DMA time moves whole on-chip words: ``LD = RUN_AFTER_LOAD + sum over the
loaded banks of (LOAD_EXTRA + words * k)``, ``S = acc_rows * k_a`` with
``k = ceil(word_bits / (8 * dram_bw_bytes))`` cycles per word (a west word
holds `rows` operands, a north word, an accumulator row and a requantized
output row `cols`; words as
the banks hold them, `rtl/params.depths`). A bank is not loaded when tile
``i+1``'s operand block is tile ``i``'s (operand reuse: the loops that
advance are all over dims that operand does not use; the descriptor's
keep flag), and a ragged tile loads its own words only.

So the steps sum ``max(C_i + 1, LD_{i+1})`` over the transitions between
consecutive tiles, exact without a loop per tile or per mapping: a
transition's class is its carry depth (which loop advances, which reset)
and, per dim, whether the tiles are at the ragged last tile; `_steps`
sums over the classes with their counts, and mappings whose every step is
compute-bound or every step load-bound take a closed form (`_Transitions.loads`).
"""
from __future__ import annotations

import itertools

import numpy as np

from .dataflow import ROLES_ON
from .timing import FoldTiming, floored_t_sum, fold_timing
from .traffic import cdiv, level_sum

__all__ = ["soc_latency", "soc_bound", "soc_bound_params", "compute_timing", "tile_compute_cycles", "PROLOGUE_CYCLES", "STEP_CYCLES", "RUN_AFTER_COMPUTE",
           "RUN_AFTER_LOAD", "LOAD_EXTRA", "STORE_EXTRA", "RELOAD_EXTRA"]

F_DRAM, F_GLB, F_ROWS, F_COLS, F_PE = range(5)

# Sequencer cycles (rtl/soc.py's FSM states; tests/test_soc.py measures them on the RTL):
#: FETCH0, the loader's go, two DMA commands (command + DMA busy beyond the beats + done seen) and PROLOGUE's exit
PROLOGUE_CYCLES = 9
#: SWAP, START, STORE, RELOAD and NEXT, one cycle each
STEP_CYCLES = 5
#: Top's `done` is seen the cycle after its last busy cycle
RUN_AFTER_COMPUTE = 1
#: the loader's go and RUN's exit (the loader's cycles besides its commands)
RUN_AFTER_LOAD = 2
#: a load command: 3 cycles besides its beats (command, address, done seen); none for a kept bank
LOAD_EXTRA = 3
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
    dram-level loop positions `dram_pos` (D, N; larger is inner); `compute` the layer's compute cycles."""
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
    fl = _factors(roles, arch.dataflow, F, last, x, ("west", "north", "acc"))
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=np.float64), (N,))  # noqa: E731
    rows, cols = full(av.rows), full(av.cols)
    kw, kn, ka, kq = (full(_word_cycles(w * b, bw)) for w, b in ((av.rows, arch.op_bits), (av.cols, arch.op_bits),
                                                                   (av.cols, arch.acc_bits), (av.cols, arch.out_bits)))
    row, col, time = ROLES_ON[arch.dataflow]
    tr = _Transitions(n, dram_pos, roles != col, roles != (row if arch.dataflow == "os" else time))

    def comp(p, idx=slice(None)):
        return tile_compute_cycles(ft, rows[idx], cols[idx], p)

    prod = lambda fac: {q: np.prod(v, axis=0) for q, v in fac.items()}  # noqa: E731
    c_last = comp(fl)
    l_first = (prod(fe)["west"] * kw + prod(fe)["north"] * kn)          # tile 0: a full tile, both banks
    steps = _steps(tr, fe, fl, comp, (kw, kn), compute - ft.per_layer - c_last)
    # output tiles: visits per output tile (dram loops over unused dims outside its innermost loop)
    out = info.rel["outputs"][live, None]
    p_star = np.where(out & (n > 1), dram_pos, -1).max(axis=0)
    visits = np.prod(np.where(~out & (dram_pos < p_star) & (n > 1), n, 1), axis=0)
    out_tiles = np.prod(np.where(out, n, 1), axis=0)
    acc_rows = np.prod(np.where(out, (n - 1) * fe["acc"] + fl["acc"], 1), axis=0)
    stores = (visits - 1) * acc_rows * ka + acc_rows * kq + visits * out_tiles * STORE_EXTRA   # the last: requantized
    reloads = (visits - 1) * (acc_rows * ka + out_tiles * RELOAD_EXTRA)
    total = (ft.per_layer + PROLOGUE_CYCLES + l_first + STEP_CYCLES * np.prod(n, axis=0) + steps + c_last
             + RUN_AFTER_COMPUTE + stores + reloads)
    return np.rint(total).astype(np.int64)


class _Transitions:
    """The dram loop nest's tile-to-tile transitions. Per mapping, the loops (dims with
    ``n > 1``) get levels, 0 innermost; a transition of carry depth ``j`` advances the loop
    at level ``j`` and resets those below it. A bank is loaded at that transition iff
    some loop at a level ``<= j`` is a dim its operand uses (`uses_w`, `uses_n`: (D, N)),
    i.e. iff ``j >= j_w`` (``j_n``), the level of the innermost loop it uses."""

    def __init__(self, n, pos, uses_w, uses_n):
        loop = n > 1
        self.n, self.loop = n, loop
        # level = loops inner to this one
        self.level = (loop[None] & (pos[None] > pos[:, None])).sum(axis=1)
        self.depth = loop.sum(axis=0)
        inner = lambda uses: np.where(loop & uses, self.level, self.depth).min(axis=0)  # noqa: E731
        self.j_w, self.j_n = inner(uses_w), inner(uses_n)

    def loads(self, j, fe_w, fl_w):
        """Over the transitions: the loads of a bank whose innermost used loop is at level
        `j` (N,) and the sum of their words (full / last per-dim word factors `fe_w`, `fl_w`).
        The loaded tiles are those at index 0 along every loop below `j`, but tile 0."""
        m = ~self.loop | (self.level >= j)
        count = np.prod(np.where(m, self.n, 1), axis=0) - 1
        words = np.prod(np.where(m, (self.n - 1) * fe_w + fl_w, fe_w), axis=0) - np.prod(fe_w, axis=0)
        return count, words


def _regimes(c_min, c_max, ld_min, ld_max, T):
    """Masks (N,) of the mappings whose every step is compute-bound, and of those neither all
    compute- nor all load-bound (`_steps` enumerates their transition classes); the smallest
    and largest step compute (+ RUN_AFTER_COMPUTE) and loads."""
    return c_min >= ld_max, (c_min < ld_max) & (c_max > ld_min) & (T > 1)


def _steps(tr, fe, fl, comp, k, sum_c):
    """Sum over the transitions (tile ``i`` to ``i + 1``) of ``max(C_i + RUN_AFTER_COMPUTE,
    LD_{i+1})``; `sum_c` is the compute of all tiles but the last, `k` the cycles per west
    and per north word.

    Closed form when even the smallest tile is compute-bound against the largest load, or
    the largest tile load-bound against the smallest load (`_Transitions.loads`). Else the
    transition classes are enumerated: the carry depth ``j`` and, for each dim ragged
    somewhere, whether the tiles are at its ragged last tile (loops below ``j``: tile ``i``
    at the last, ``i + 1`` at the first; the loop at ``j``: ``i`` full, ``i + 1`` either;
    above: both alike)."""
    D, N = tr.n.shape
    T = np.prod(tr.n, axis=0)

    def load(pw, pn, jw, jn, idx=slice(None)):
        """The loader's cycles for the next tile's words `pw`, `pn` when it loads west (`jw`) / north (`jn`)."""
        return RUN_AFTER_LOAD + jw * (LOAD_EXTRA + pw * k[0][idx]) + jn * (LOAD_EXTRA + pn * k[1][idx])

    pe, pl = ({q: np.prod(f[q], axis=0) for q in ("west", "north")} for f in (fe, fl))
    bound, mixed = _regimes(comp(fl) + RUN_AFTER_COMPUTE, comp(fe) + RUN_AFTER_COMPUTE,
                            load(pl["west"], pl["north"], tr.j_w == 0, tr.j_n == 0),
                            load(pe["west"], pe["north"], 1, 1), T)
    (cw, ww), (cn, wn) = tr.loads(tr.j_w, fe["west"], fl["west"]), tr.loads(tr.j_n, fe["north"], fl["north"])
    ld_sum = (T - 1) * RUN_AFTER_LOAD + (cw + cn) * LOAD_EXTRA + ww * k[0] + wn * k[1]
    total = np.where(bound, sum_c + (T - 1) * RUN_AFTER_COMPUTE, ld_sum).astype(np.float64)
    mixed = np.flatnonzero(mixed)
    if not len(mixed):
        return total
    qs, nq = _Q_COMPUTE + _Q_WORDS, len(_Q_COMPUTE)
    e, l = (np.stack([f[q][:, mixed] for q in qs]) for f in (fe, fl))  # noqa: E741
    lvl, depth = np.where(tr.loop[:, mixed], tr.level[:, mixed], D), tr.depth[mixed]
    jw, jn = tr.j_w[mixed], tr.j_n[mixed]
    # the enumeration runs over positions: per mapping, its dims in level order (innermost loop
    # first, then the dims of one tile); `inv` maps a position's kinds back to the dims
    order = np.argsort(lvl, axis=0, kind="stable")
    inv = np.argsort(order, axis=0)
    n = np.take_along_axis(tr.n[:, mixed], order, 0)
    pos = np.arange(D)[:, None]
    rag = (pos < depth) & np.take_along_axis((e != l).any(axis=0), order, 0)
    leaves = []
    for j in range(int(depth.max())):
        # positions < j: tile i at the last tile, i + 1 at the first; j: the loop that advances
        # (i full, i + 1 either); above: both alike. The ragged positions from j up are
        # enumerated depth first, each branch on the mappings it weighs; the others' weights
        # are both kinds' together.
        ks = [p for p in range(j, D) if rag[p].any()]
        w_both = np.where(pos < j, 1, np.where(pos == j, n - 1, n))
        w0 = np.prod(np.where(np.isin(pos, ks), 1, w_both), axis=0) * (depth > j)
        idx = np.flatnonzero(w0)
        # a class: the mappings it weighs, its weights, and bit masks over the positions at
        # the last tile for tile i and for tile i + 1
        stack = [(0, idx, w0[idx], (1 << j) - 1, 0)]
        while stack:
            i, idx, w, bits_i, bits_n = stack.pop()
            if i == len(ks):
                leaves.append((idx, w, np.full(len(idx), bits_i), np.full(len(idx), bits_n), np.full(len(idx), j)))
                continue
            p = ks[i]
            r = rag[p, idx]
            for wc, last in ((w * np.where(r, n[p, idx] - (2 if p == j else 1), w_both[p, idx]), False),
                             (w * r, True)):
                keep = np.flatnonzero(wc)
                if len(keep):       # the last tile along p: for tile i unless p advances; for tile i + 1
                    stack.append((i + 1, idx[keep], wc[keep], bits_i | (last and p != j) << p,
                                  bits_n | last << p))
    # all classes' steps at once: one evaluation over the (class, mapping) pairs that weigh
    idx, w, bits_i, bits_n, j = (np.concatenate(x) for x in zip(*leaves))
    lst_i, lst_n = (np.take_along_axis((b[None] >> pos) & 1 == 1, inv[:, idx], 0) for b in (bits_i, bits_n))
    m = mixed[idx]
    p_i = np.where(lst_i[None], l[:nq][:, :, idx], e[:nq][:, :, idx])
    w_n = np.where(lst_n[None], l[nq:][:, :, idx], e[nq:][:, :, idx]).prod(axis=1)
    step = np.maximum(comp(dict(zip(_Q_COMPUTE, p_i)), m) + RUN_AFTER_COMPUTE,
                      load(w_n[0], w_n[1], j >= jw[idx], j >= jn[idx], m))
    total[mixed] = np.bincount(idx, weights=w * step, minlength=len(mixed))
    return total


def soc_bound_params(arch, bits, operand_elements) -> tuple:
    """What `soc_bound` needs of an architecture: bits per element the DMA moves at least (the
    tensor's, at most its on-chip word's; inputs, weights, outputs), cycles per west / north
    word, which tensor (index) the west / north bank holds, the operands' elements as the
    banks see them (inputs, weights: the product of the bounds of the dims each uses, im2col),
    and the bits of a final (requantized) output at least."""
    return (np.minimum(bits, [arch.op_bits, arch.op_bits, arch.acc_bits]),
            tuple(_word_cycles(w * arch.op_bits, arch.dram_bw_bytes) for w in (arch.rows, arch.cols)),
            (1, 0) if arch.dataflow == "is" else (0, 1), tuple(operand_elements), min(bits[2], arch.out_bits))


def soc_bound(params, compute, glb_tiles, fp, used_rows, used_cols, out_traffic, zsize, bw, partial):
    """A lower bound of `soc_latency` (less the per-layer constant) from a mapping's compute
    cycles, glb tiles, full-tile footprints (N, 3), fold rows / cols (products of the rows / cols
    factors) and output traffic, monotone in all of them (the pruning model's terms, `bounds`):
    tile 0 is a full tile and loads both operands (``L_0``: at least its footprint; on a complete
    mapping at least its words, which hold at most fold-rows / fold-cols elements); every step
    lasts at least its compute + 1, and every transition loads at least one operand (a dim is
    unused by one operand at most), while all loads together bring every operand element at
    least once; stores and reloads move at least the reuse rule's output traffic (the
    final outputs requantized). Not exact:
    the SoC's words are padded, kept operands and ragged tiles load less than ``L_0``."""
    b, (kw, kn), (w, n), elems, qbits = params
    load = (fp[:, 0] * b[0] + fp[:, 1] * b[1]) / 8 / bw
    if not partial:
        load = np.maximum(load, fp[:, w] / used_rows * kw + fp[:, n] / used_cols * kn)
    all_loads = (elems[0] * b[0] + elems[1] * b[1]) / 8 / bw
    steps = np.maximum(load + compute + glb_tiles * RUN_AFTER_COMPUTE,
                       np.maximum(all_loads, load) + (glb_tiles - 1) * (RUN_AFTER_LOAD + LOAD_EXTRA))
    outputs = (2 * (out_traffic - zsize) * b[2] + zsize * qbits) / 8 / bw
    return PROLOGUE_CYCLES + STEP_CYCLES * glb_tiles + steps + outputs
