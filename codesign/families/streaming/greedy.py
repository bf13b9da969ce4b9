"""FINN's greedy folding, ``SetFolding``, re-implemented as the baseline for the solver.

transformation/fpgadataflow/set_folding.py:47-245 (Xilinx/finn @ 39f0c9a): for every node in
graph order, MVAU: SIMD up the divisors of MW until ``get_exp_cycles() < target`` or the
weight stream gets wider than ``mvau_wwidth_max`` = 36 bits (then revert one step, lines
137-150), then PE up the divisors of MH until the target is met (optimize_attribute_val,
lines 90-97); VVAU: SIMD = 1, PE up the divisors of the channels, and SIMD up the divisors
of k_h k_w only when PE is maxed and still too slow (lines 159-174). Two-pass relaxation
(lines 225-243): if the slowest node misses the target, fold again with its cycles as the
target. Our stream engines run at full channel parallelism (not folded by it).

`greedy_for_budget` is how a FINN user meets a budget: try targets from slow to fast and
keep the fastest folding that fits.
"""
from __future__ import annotations

import numpy as np

from . import finn
from .arch import StreamingArch
from .cost import Options
from .folding import divisors

__all__ = ["set_folding", "greedy_for_budget"]


def _exp_cycles(e, pe, simd) -> int:
    if e.kind == "mvau":
        return int(finn.mvau_cycles(e.mh, e.mw, pe, simd, e.jobs))
    r, s = e.window[2], e.window[3]
    return int(finn.vvau_cycles(e.mh, r, s, pe, simd, e.jobs, 1))


def _optimize(e, target, fixed, attr):
    """optimize_attribute_val (set_folding.py:90-97): the first divisor meeting the target, else the max."""
    top = e.mh if (attr == "pe") else (e.mw if e.kind == "mvau" else e.window[2] * e.window[3])
    val = 1
    for val in divisors(top):
        pe, simd = (val, fixed) if attr == "pe" else (fixed, val)
        if _exp_cycles(e, pe, simd) < target:
            break
    return val


def _fold(e, target, w_bits, wwidth_max):
    if e.kind == "mvau":
        simd = 1
        for val in divisors(e.mw):
            prev, simd = simd, val
            if _exp_cycles(e, 1, simd) < target:
                break
            if w_bits * simd > wwidth_max:
                simd = prev
                break
        return _optimize(e, target, simd, "pe"), simd
    pe = _optimize(e, target, 1, "pe")
    simd = 1
    if pe == e.mh and _exp_cycles(e, pe, 1) > target:
        simd = _optimize(e, target, pe, "simd")
    return pe, simd


def set_folding(opts: dict[str, Options], arch: StreamingArch, target_cycles: int, wwidth_max: int = 36,
                two_pass: bool = True) -> dict[str, int]:
    """SetFolding's choice (module docstring) as option indices (weights on chip)."""
    choice = {}
    for name, o in opts.items():
        e = o.engine
        if e.kind not in ("mvau", "vvau"):
            choice[name] = 0
            continue
        pe, simd = _fold(e, target_cycles, arch.op_bits, wwidth_max)
        choice[name] = int(np.nonzero((o.pe == pe) & (o.simd == simd) & ~o.dram)[0][0])
    if two_pass:
        worst = max(int(o.cycles[choice[n]]) for n, o in opts.items())
        if worst > target_cycles:
            return set_folding(opts, arch, worst, wwidth_max, two_pass=False)
    return choice


def _fits(opts, choice, arch) -> bool:
    b = arch.budget()
    tot = {r: sum(int(getattr(o, r)[choice[n]]) for n, o in opts.items()) for r in ("lut", "dsp", "bram18")}
    return all(tot[r] <= b[r] for r in tot)


def greedy_for_budget(opts: dict[str, Options], arch: StreamingArch, steps: int = 64) -> dict[str, int] | None:
    """The fastest SetFolding result that fits the budget, over `steps` targets spaced
    geometrically from the slowest unfolded engine to 1 cycle (None if none fits)."""
    slow = max(int(o.cycles.max()) for o in opts.values())
    best, best_ii = None, None
    for target in np.unique(np.geomspace(1, slow + 1, steps).astype(np.int64))[::-1]:
        choice = set_folding(opts, arch, int(target))
        if not _fits(opts, choice, arch):
            continue
        ii = max(int(o.cycles[choice[n]]) for n, o in opts.items())
        if best_ii is None or ii < best_ii:
            best, best_ii = choice, ii
    return best
