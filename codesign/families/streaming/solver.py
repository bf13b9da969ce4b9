"""The folding solver (this family's mapper): the optimal (PE, SIMD) of every engine, jointly.

Objective, lexicographic: (1) the minimum II the budgets allow (or, with ``target_fps``, any
II reaching it), (2) the fewest resources, the scalar sum over LUT, DSP and BRAM18 of use
/ budget (the ZCU104's figures where a budget is omitted, `Options.resource_cost`), (3) the
lowest latency among foldings with equal resources: options are pruned to the Pareto set
over (cycles, job cycles, LUT, DSP, BRAM18, DRAM bytes), and the schedule is monotone in
every job's cycles (a max-plus system), so a faster option at equal resources never
lengthens it.

Exact over the divisor lattice: feasibility is monotone in the II threshold T (a larger
T admits a superset of options), so a binary search over the sorted distinct per-engine
cycle values finds the smallest feasible T; at each T every engine takes its options
with cycles <= T and a branch and bound decides the multi-resource choice exactly
(per-engine componentwise minima as the bound; most engines have one option that is
minimal in every resource, i.e. resources monotone in PE x SIMD, and need no branching).
Weights stream from DRAM only when no on-chip folding fits (the DRAM streams then count
against II x dram_bw_bytes). Budgets cover the engines; the FIFOs, sized afterwards from
the schedule, are added to the totals and checked (`map_network`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .arch import StreamingArch
from .cost import Options

__all__ = ["Solution", "solve", "pareto_mask", "RESOURCES"]

RESOURCES = ("lut", "dsp", "bram18")
NODE_LIMIT = 20_000


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


def _ii_vec(o: Options, timing: str) -> np.ndarray:
    return np.maximum(o.cycles, o.swu_cycles) if (timing == "finn" and o.swu_cycles is not None) else o.cycles


def pareto_mask(m: np.ndarray) -> np.ndarray:
    """Rows of `m` (lower is better in every column) not dominated by another row; of identical rows the first."""
    n = len(m)
    le = np.all(m[:, None, :] <= m[None, :, :], axis=2)          # le[i, j]: i <= j everywhere
    lt = np.any(m[:, None, :] < m[None, :, :], axis=2)
    dominated = np.any(le & lt, axis=0)
    same = le & le.T
    first = np.argmax(same, axis=0) == np.arange(n)
    return ~dominated & first


@dataclass
class _Eng:
    name: str
    idx: np.ndarray          # option indices into the engine's Options
    ii: np.ndarray
    res: np.ndarray          # (n, 4): lut, dsp, bram18, dram bytes
    cost: np.ndarray
    jc: np.ndarray


def _prepare(opts, arch, pins, allow_dram):
    out = []
    for name, o in opts.items():
        keep = np.ones(len(o), bool) if allow_dram else ~o.dram
        pin = pins.get(o.engine.node) or pins.get(name) or {}
        if "pe" in pin:
            keep &= o.pe == pin["pe"]
        if "simd" in pin:
            keep &= o.simd == pin["simd"]
        idx = np.nonzero(keep)[0]
        ii = _ii_vec(o, arch.timing)[idx]
        res = np.stack([o.lut[idx], o.dsp[idx], o.bram18[idx], o.dram_bytes[idx]], axis=1).astype(float)
        jc = o.job_cycles[idx]
        m = pareto_mask(np.column_stack([ii, jc, res]))
        idx, ii, res, jc = idx[m], ii[m], res[m], jc[m]
        cost = o.resource_cost(arch)[idx]
        order = np.lexsort((jc, cost))
        out.append(_Eng(name, idx[order], ii[order], res[order], cost[order], jc[order]))
    return out


class _Search:
    """Branch and bound over the engines' options below an II threshold."""

    def __init__(self, engs, caps, t, minimize):
        self.sets = []
        for e in engs:
            ok = e.ii <= t
            self.sets.append((e.res[ok], e.cost[ok], e.idx[ok]))
        self.caps, self.minimize = caps, minimize
        self.nodes, self.exact = 0, True

    def run(self):
        if any(len(s[0]) == 0 for s in self.sets):
            return None
        mins = np.array([s[0].min(axis=0) for s in self.sets])
        cmin = np.array([s[1].min() for s in self.sets])
        self.rest = np.vstack([np.cumsum(mins[::-1], axis=0)[::-1], np.zeros((1, 4))])
        self.crest = np.append(np.cumsum(cmin[::-1])[::-1], 0.0)
        if np.any(self.rest[0] > self.caps):
            return None
        # the per-engine cheapest options: optimal if they fit together (the cost is separable)
        if np.all(sum(s[0][0] for s in self.sets) <= self.caps):
            return [int(s[2][0]) for s in self.sets], float(sum(s[1][0] for s in self.sets))
        # a componentwise-minimal option in every engine: take it, no search
        pick = []
        for (res, cost, idx), m in zip(self.sets, mins):
            hit = np.nonzero(np.all(res <= m, axis=1))[0]
            if not len(hit):
                break
            pick.append(hit[0])
        if len(pick) == len(self.sets):
            return [int(s[2][i]) for s, i in zip(self.sets, pick)], float(sum(s[1][i] for s, i in zip(self.sets, pick)))
        self.best, self.best_cost = None, math.inf
        self.lists = [([tuple(r) for r in res.tolist()], cost.tolist(), [int(i) for i in idx])
                      for res, cost, idx in self.sets]
        self.rest_l = [tuple(r) for r in self.rest.tolist()]
        self.caps_l = tuple(self.caps.tolist())
        self._dfs(0, (0.0, 0.0, 0.0, 0.0), 0.0, [])
        return None if self.best is None else (self.best, self.best_cost)

    def _dfs(self, i, used, cost, chosen):
        if self.nodes > NODE_LIMIT:
            self.exact = False
            return
        self.nodes += 1
        if i == len(self.sets):
            if cost < self.best_cost:
                self.best, self.best_cost = list(chosen), cost
            return
        res, c, idx = self.lists[i]
        rest, crest, caps = self.rest_l[i + 1], self.crest[i + 1], self.caps_l
        for k in range(len(c)):
            r = res[k]
            u = (used[0] + r[0], used[1] + r[1], used[2] + r[2], used[3] + r[3])
            if (u[0] + rest[0] > caps[0] or u[1] + rest[1] > caps[1] or u[2] + rest[2] > caps[2]
                    or u[3] + rest[3] > caps[3] or cost + c[k] + crest >= self.best_cost):
                continue
            chosen.append(idx[k])
            self._dfs(i + 1, u, cost + c[k], chosen)
            chosen.pop()
            if not self.minimize and self.best is not None:
                return


def _caps(arch, t):
    b = arch.budget()
    return np.array([b["lut"], b["dsp"], b["bram18"], t * arch.dram_bw_bytes])


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


def solve(opts: dict[str, Options], arch: StreamingArch, pins: dict | None = None) -> Solution:
    """The optimal folding (module docstring) of the engines' `opts`; `pins` by node or engine name."""
    t0 = time.perf_counter()
    pins = pins or {}
    last = None
    for allow_dram in (False, True):
        engs = _prepare(opts, arch, pins, allow_dram)
        considered = sum(len(o) for o in opts.values())
        values = np.unique(np.concatenate([e.ii for e in engs]))
        values = values[values >= max(int(e.ii.min()) for e in engs)]
        target = arch.target_ii_cycles
        feasible = lambda t, m=False: _Search(engs, _caps(arch, t), t, m).run()  # noqa: E731
        if target is not None:
            t = target
            if feasible(t) is None:
                last = engs
                continue
        else:
            if feasible(values[-1]) is None:
                last = engs
                continue
            lo, hi = 0, len(values) - 1
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if feasible(values[mid]) is not None else (mid + 1, hi)
            t = int(values[lo])
            if lo > 0 and allow_dram:     # between two cycle values only the DRAM term can move the II
                prev = int(values[lo - 1])
                s = _Search(engs, np.append(_caps(arch, t)[:3], math.inf), prev, True)
                got = s.run()
                if got is not None:
                    dram = sum(float(opts[e.name].dram_bytes[i]) for e, i in zip(engs, got[0]))
                    t = min(t, max(prev + 1, math.ceil(dram / arch.dram_bw_bytes)))
        s = _Search(engs, _caps(arch, t), t, True)
        got = s.run()
        choice = {e.name: i for e, i in zip(engs, got[0])}
        return Solution(choice, int(t), exact=s.exact, seconds=time.perf_counter() - t0, considered=considered)
    if arch.target_ii_cycles is not None:
        reason = (f"no folding reaches target_fps {arch.target_fps:g} (II <= {arch.target_ii_cycles} cycles) "
                  "within the budget")
        sol_engs = [_Eng(e.name, e.idx[e.ii <= arch.target_ii_cycles], e.ii, e.res[e.ii <= arch.target_ii_cycles],
                         e.cost, e.jc) for e in last]
        if all(len(e.res) for e in sol_engs):
            r, f = _why(sol_engs, arch)
            reason += f" ({r})"
            return Solution(None, 0, reason, f, seconds=time.perf_counter() - t0)
        return Solution(None, 0, reason + " (an engine is slower even fully unfolded)", 1.0,
                        seconds=time.perf_counter() - t0)
    r, f = _why(last, arch)
    return Solution(None, 0, f"nothing fits the budget: {r}", f, seconds=time.perf_counter() - t0)
