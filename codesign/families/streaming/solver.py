"""The folding solver (this family's mapper): the optimal (PE, SIMD) of every engine, jointly.

Objective, lexicographic: (1) the minimum II the budgets allow (or, with ``target_fps``, any
II reaching it), (2) the fewest engine resources, the scalar sum over LUT, DSP and BRAM18 of
use / budget (the ZCU104's figures where a budget is omitted, `Options.resource_cost`; the
FIFOs constrain but are not in this sum), (3) among options with identical LUT, DSP, BRAM18 and
DRAM bytes, the fewest job cycles (the schedule is monotone in every job's cycles, a max-plus
system, so this never lengthens the latency). Constraint: engines + FIFOs within the budgets.

What is proven (tests/test_streaming_solver.py checks it against brute force, pins included):
- Feasibility is monotone in the II threshold T (a larger T admits a superset of options, and
  a folding's FIFOs do not depend on T), so a binary search over the sorted distinct per-engine
  cycle values finds the smallest feasible T; between two values only the DRAM streams can set
  the II, and the fewest DRAM bytes of the foldings within the lower value (a "dram" search) give it.
- At each T a branch and bound over the options decides exactly (a multiple-choice multi-
  dimensional knapsack): per engine only the options no other beats in every resource (below T
  the cycles no longer matter); pins filter the lattice first; bounds are the per-engine
  componentwise minima (feasibility) and the Lagrangian dual L(lam) = sum_i min_k (c_ik + lam .
  r_ik) - lam . caps, lam >= 0 by subgradient ascent (any lam is a valid lower bound); engines
  with the widest reduced-cost spread branch first; identical engines (repeated blocks) take
  non-decreasing option ranks (symmetry breaking; not with a lazy FIFO check, below: FIFOs tell
  identical engines' positions apart). Costs within 1e-12 of the incumbent are not explored.
  `Solution.exact` is False only if a search hit its node limit (`branch.NODE_LIMIT`,
  `branch.LAZY_NODE_LIMIT`) or the lazy check its limits (`branch.ACCEPT_LIMIT`, `branch.CUT_LIMIT`).
- The FIFOs (`map_network`, `fifos`): lower bounds on every edge's FIFO resources valid for every
  folding count against the budgets -- a constant part (`reserve`), per-option parts (`fifo`: the
  frame-0 depth of an edge behind at most one MAC engine, as a function of that engine's option)
  and pair parts (`pairs`: of two engines' options; their least share over the partner is added to
  one engine's options, the excess when both are chosen) -- so the problem solved is a relaxation;
  if its optimum's own FIFOs fit, it is optimal for the full problem. Otherwise the search runs
  again with the FIFO check as a lazy constraint at every leaf (`accept`): still exact, as every
  bound stays valid for the relaxation. The check rejects a folding by its frame-0 FIFO depths where
  it can, and turns each such edge into a cut: every folding with the same job cycles on the MAC
  engines feeding that edge's consumer has the same frame-0 depth there, so the DFS adds that FIFO
  (beyond its static bound) as soon as those engines are chosen; engines of known cuts branch first.
  Only if the check gives up does `map_network` fall back to taking the last folding's FIFO share
  off the budgets (up to 4 rounds, `exact` False: not proven).
Weights stream from DRAM only when no on-chip folding fits or a pin says ``weights: dram``
(the DRAM streams then count against II x dram_bw_bytes).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .arch import StreamingArch
from .branch import Search, dominance_columns, pareto_mask
from .cost import Options, ii_share

__all__ = ["Solution", "solve", "RESOURCES"]

RESOURCES = ("lut", "dsp", "bram18")


@dataclass(frozen=True)
class Solution:
    """The solver's answer: option index per engine (None when nothing fits), the II
    threshold, and why not when infeasible (`reason` names the resource)."""

    choice: dict | None
    ii_cycles: int
    reason: str = ""
    fits: float = 0.0
    exact: bool = True
    seconds: float = 0.0
    considered: int = 0




@dataclass
class _Eng:
    name: str
    idx: np.ndarray          # option indices into the engine's Options
    ii: np.ndarray
    res: np.ndarray          # (n, 4): lut, dsp, bram18, dram bytes
    cost: np.ndarray
    jc: np.ndarray
    paired: bool = False     # in a FIFO pair term: options of different job cycles never dominate each other


def _split_pairs(pairs, opts):
    """Each pair table (a, b, (na, nb, 2)) as a's least share over b (added to a's options) and the
    excess over it (>= 0, added when both are chosen)."""
    base, excess = {}, []
    for a, b, t in pairs or ():
        low = t.min(axis=1)
        base[a] = base.get(a, np.zeros((len(opts[a]), 2), np.int64)) + low
        excess.append((a, b, t - low[:, None, :]))
    return base, excess


def _prepare(opts, arch, pins, allow_dram, fifo=None, base=None, paired=()):
    out = []
    for name, o in opts.items():
        extra = (fifo or {}).get(name, np.zeros((len(o), 2), np.int64)) + (base or {}).get(name, 0)
        pin = pins.get(o.engine.node) or pins.get(name) or {}
        keep = np.ones(len(o), bool) if allow_dram or pin.get("weights") == "dram" else ~o.dram
        if "pe" in pin:
            keep &= o.pe == pin["pe"]
        if "simd" in pin:
            keep &= o.simd == pin["simd"]
        if "weights" in pin:
            keep &= o.dram == (pin["weights"] == "dram")
        idx = np.nonzero(keep)[0]
        ii = ii_share(o, arch.timing)[idx]
        dram = o.dram_bytes[idx] * (arch.timing == "rtl" or o.engine.kind != "input")  # as pipeline._dram_cycles
        res = np.stack([o.lut[idx] + extra[idx, 0], o.dsp[idx], o.bram18[idx] + extra[idx, 1], dram],
                       axis=1).astype(float)
        jc = o.job_cycles[idx]
        m = pareto_mask(np.column_stack([ii, jc, dominance_columns(res, jc, name in paired)]))
        idx, ii, res, jc = idx[m], ii[m], res[m], jc[m]
        cost = o.resource_cost(arch)[idx]
        order = np.lexsort((jc, cost))
        out.append(_Eng(name, idx[order], ii[order], res[order], cost[order], jc[order], name in paired))
    return out


def _caps(arch, t, reserve=None):
    b = arch.budget()
    r = reserve or {}
    return np.array([b["lut"] - r.get("lut", 0), b["dsp"] - r.get("dsp", 0), b["bram18"] - r.get("bram18", 0),
                     t * arch.dram_bw_bytes])


def _why(engs, arch):
    """The resource the least-resource folding overflows, in words."""
    mins = np.array([e.res.min(axis=0) for e in engs]).sum(axis=0)
    b = arch.budget()
    over = [(mins[i] / b[r], r) for i, r in enumerate(RESOURCES) if mins[i] > b[r]]
    if not over:
        return "no folding fits the budgets together (each resource alone would fit)", 1.0
    worst = max(over)
    return (", ".join(f"{r}: needs at least {int(mins[RESOURCES.index(r)])} > budget {int(b[r])}"
                      for _, r in sorted(over, reverse=True)), float(sum(v - 1 for v, _ in over)))


def _min_ii(engs, arch, reserve, accept, probes, excess=()):
    """The smallest II any folding reaches within the budgets (None if none fits)."""
    def feasible(t, goal="any", caps=None):
        s = Search(engs, _caps(arch, t, reserve) if caps is None else caps, t, goal, accept, excess)
        got = s.run()
        probes.append(s)
        return got
    values = np.unique(np.concatenate([e.ii for e in engs]))
    values = values[values >= max(int(e.ii.min()) for e in engs)]
    if feasible(values[-1]) is None:
        return None
    lo, hi = 0, len(values) - 1
    while lo < hi:                     # feasibility is monotone in the threshold
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if feasible(values[mid]) is not None else (mid + 1, hi)
    t = int(values[lo])
    if lo > 0:
        # between two cycle values only the DRAM streams can set the II: the fewest DRAM bytes
        # of the foldings whose engines are all within the previous value
        prev = int(values[lo - 1])
        got = feasible(prev, "dram", np.append(_caps(arch, t, reserve)[:3], math.inf))
        if got is not None:
            t = min(t, max(prev + 1, math.ceil(got[1] / arch.dram_bw_bytes)))
    return t


def solve(opts: dict[str, Options], arch: StreamingArch, pins: dict | None = None, accept=None,
          reserve: dict | None = None, fifo: dict | None = None, pairs: list | None = None) -> Solution:
    """The optimal folding (module docstring) of the engines' `opts`; `pins` by node or engine name.
    `reserve`: resources taken off the budgets first (a lower bound on the FIFOs'); `fifo[engine]`:
    an (options, 2) array of LUT and BRAM18 each option's FIFOs need at least (counted against the
    budgets, not in the cost); `accept(choice)`: a lazy constraint every returned folding meets (the
    FIFOs fit), checked at the leaves; `pairs`: (engine a, engine b, (options a, options b, 2)) tables of
    LUT and BRAM18 the FIFOs need at least for a pair of options (same use)."""
    t0 = time.perf_counter()
    pins = pins or {}
    base, excess = _split_pairs(pairs, opts)
    last, probes = None, []
    for allow_dram in (False, True):
        engs = _prepare(opts, arch, pins, allow_dram, fifo, base, {n for a, b, _ in excess for n in (a, b)})
        considered = sum(len(o) for o in opts.values())
        if arch.target_ii_cycles is not None:
            t = arch.target_ii_cycles
        else:
            t = _min_ii(engs, arch, reserve, accept, probes, excess)
        s = Search(engs, _caps(arch, t, reserve), t, "cost", accept, excess) if t is not None else None
        got = s.run() if s is not None else None
        probes += [s] if s is not None else []
        if got is None:
            last = engs
            continue
        choice = {e.name: i for e, i in zip(engs, got[0])}
        exact = all(p.exact for p in probes)
        return Solution(choice, int(t), exact=exact, seconds=time.perf_counter() - t0, considered=considered)
    ex = all(p.exact for p in probes)        # False: a search gave up, `nothing fits` is not proven
    if arch.target_ii_cycles is not None:
        reason = (f"no folding reaches target_fps {arch.target_fps:g} (II <= {arch.target_ii_cycles} cycles) "
                  "within the budget")
        sol_engs = [_Eng(e.name, e.idx[e.ii <= arch.target_ii_cycles], e.ii, e.res[e.ii <= arch.target_ii_cycles],
                         e.cost, e.jc) for e in last]
        if all(len(e.res) for e in sol_engs):
            r, f = _why(sol_engs, arch)
            reason += f" ({r})"
            return Solution(None, 0, reason, f, seconds=time.perf_counter() - t0, exact=ex)
        return Solution(None, 0, reason + " (an engine is slower even fully unfolded)", 1.0,
                        seconds=time.perf_counter() - t0, exact=ex)
    r, f = _why(last, arch)
    return Solution(None, 0, f"nothing fits the budget: {r}", f, seconds=time.perf_counter() - t0, exact=ex)
