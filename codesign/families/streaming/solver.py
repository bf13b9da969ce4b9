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
  non-decreasing option ranks (symmetry breaking). Costs within 1e-12 of the incumbent are not
  explored. `Solution.exact` is False only if a search hit NODE_LIMIT or ACCEPT_LIMIT.
- The FIFOs (`map_network`): their least share over all foldings (`fifos.fifo_floor`) is
  taken off the budgets, so the engines-only problem is a relaxation; if its optimum's own FIFOs
  fit, it is optimal for the full problem. Otherwise the search runs again with the FIFO check
  as a lazy constraint at every leaf (`accept`): still exact, as the bounds stay valid for the
  relaxation. Only if that check rejects ACCEPT_LIMIT foldings does it fall back to taking the
  last folding's FIFO share off the budgets (up to 4 rounds, `exact` False: not proven).
Weights stream from DRAM only when no on-chip folding fits or a pin says ``weights: dram``
(the DRAM streams then count against II x dram_bw_bytes).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .arch import StreamingArch
from .cost import Options, ii_share

__all__ = ["Solution", "solve", "pareto_mask", "RESOURCES"]

RESOURCES = ("lut", "dsp", "bram18")
NODE_LIMIT = 200_000     # DFS nodes per search (the shipped configs and benchmarks need < 2,500)
ACCEPT_LIMIT = 8         # foldings the lazy check (`accept`, its `rejected` count) may reject per solve


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
    paired: bool = False     # in a FIFO pair term: options of different job cycles never dominate each other


def _dominance(res, jc, paired):
    """The columns `pareto_mask` compares: resources, and for a paired engine its job cycles both ways."""
    return np.column_stack([res, jc, -jc]) if paired else res


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
        m = pareto_mask(np.column_stack([ii, jc, _dominance(res, jc, name in paired)]))
        idx, ii, res, jc = idx[m], ii[m], res[m], jc[m]
        cost = o.resource_cost(arch)[idx]
        order = np.lexsort((jc, cost))
        out.append(_Eng(name, idx[order], ii[order], res[order], cost[order], jc[order], name in paired))
    return out


_TOL = 1e-12            # costs within this of the incumbent are not explored further


def _dual(sets, caps, minimize: bool, iters: int = 120):
    """The Lagrangian dual of the multiple-choice knapsack over the engines' `sets`: multipliers
    lam >= 0 on the budgets (normalized to 1) maximizing L(lam) = sum_i min_k (c_ik + lam . r_ik)
    - lam . 1, a lower bound on the cost of every folding that fits (without `minimize` the
    costs are 0 and lam lies on the simplex: L > 0 proves that nothing fits). Projected
    subgradient ascent; any lam gives a valid bound, the ascent only tightens it."""
    finite = np.isfinite(caps) & (caps > 0)
    scale = np.where(finite, caps, np.inf)
    e, k = len(sets), max(len(s[1]) for s in sets)
    c = np.full((e, k), np.inf)
    r = np.zeros((e, k, len(caps)))
    for i, (res, cost, _) in enumerate(sets):
        c[i, :len(cost)], r[i, :len(cost)] = cost, res / scale
    lam = np.zeros(len(caps)) if minimize else finite / max(finite.sum(), 1)
    rows = np.arange(e)
    best, best_lam = -math.inf, lam
    step0 = max(float(np.ptp(np.where(np.isfinite(c), c, 0.0), axis=1).sum()), 1.0) if minimize else 1.0
    for it in range(iters):
        val = c + r @ lam
        pick = val.argmin(axis=1)
        bound = float(val[rows, pick].sum() - lam[finite].sum())
        if bound > best:
            best, best_lam = bound, lam.copy()
        g = r[rows, pick].sum(axis=0) - 1.0
        g[~finite] = 0.0
        if not np.any(g > 0) and not np.any((lam > 0) & (g < 0)):
            break                                   # complementary slackness: the bound is tight
        norm = math.sqrt(float(g @ g))
        if norm == 0:
            break
        lam = np.maximum(0.0, lam + step0 / math.sqrt(it + 1) * g / norm)
        if not minimize:
            lam = lam / lam.sum() if lam.sum() > 0 else finite / max(finite.sum(), 1)
    return best_lam, best, scale


class _Search:
    """Branch and bound over the engines' options below an II threshold `t` (module docstring).
    `goal`: "cost" (the cheapest folding that fits), "dram" (the fewest DRAM bytes) or "any"
    (a folding that fits). `accept(choice)` is the lazy constraint a leaf must also meet."""

    def __init__(self, engs, caps, t, goal="cost", accept=None, excess=()):
        self.sets = []
        for e in engs:
            ok = np.nonzero((e.ii <= t) & np.all(e.res <= caps, axis=1))[0]   # over a budget alone: never fits
            # below the threshold the cycles no longer matter: keep the options no other one beats in
            # every resource (of identical ones the first, i.e. the fewest job cycles: `_prepare`'s order)
            ok = ok[pareto_mask(_dominance(e.res[ok], e.jc[ok], e.paired))] if len(ok) > 1 else ok
            cost = {"cost": e.cost[ok], "dram": e.res[ok, 3], "any": np.zeros(len(ok))}[goal]
            self.sets.append((e.res[ok], cost, e.idx[ok]))
        self.names = [e.name for e in engs]
        pos = {n: i for i, n in enumerate(self.names)}
        self.excess = [(pos[a], pos[b], t) for a, b, t in excess]
        self.caps, self.minimize, self.accept = caps, goal != "any", accept
        self.nodes, self.exact = 0, True

    def _excess(self, picks) -> np.ndarray:
        """The pair terms' excess (LUT, -, BRAM18, -) of option indices `picks` (engines' order)."""
        out = np.zeros(4)
        for a, b, t in self.excess:
            out[[0, 2]] += t[picks[a], picks[b]]
        return out

    def _ok(self, picks) -> bool:
        if self.accept is None:
            return True
        if getattr(self.accept, "rejected", 0) >= ACCEPT_LIMIT:
            self.exact = False
            self.nodes = NODE_LIMIT + 1          # give up the search: stop the DFS
            return False
        return self.accept(dict(zip(self.names, picks)))

    def run(self):
        if any(len(s[0]) == 0 for s in self.sets):
            return None
        mins = np.array([s[0].min(axis=0) for s in self.sets])
        if np.any(mins.sum(axis=0) > self.caps):
            return None
        # the per-engine cheapest options: optimal if they fit together (the cost is separable)
        first = [int(np.argmin(s[1])) for s in self.sets]
        if np.all(sum(s[0][k] for s, k in zip(self.sets, first)) + self._excess(
                [int(s[2][k]) for s, k in zip(self.sets, first)]) <= self.caps):
            picks = [int(s[2][k]) for s, k in zip(self.sets, first)]
            if self._ok(picks):
                return picks, float(sum(s[1][k] for s, k in zip(self.sets, first)))
        lam, bound, scale = _dual(self.sets, self.caps, self.minimize)
        if not self.minimize and bound > _TOL:
            return None
        self._setup(lam, scale, mins)
        self.best, self.best_cost = None, math.inf if self.minimize else 2 * _TOL
        self._dfs(0, (0.0, 0.0, 0.0, 0.0), 0.0, 0.0, [])
        return None if self.best is None else self.folding()

    def _setup(self, lam, scale, mins):
        """Engines with the most options first; each engine's options by Lagrangian reduced cost
        c + lam . r (so the first leaf is the dual's folding, and a bound that fails for one
        option fails for all later ones)."""
        sig = {}
        alone = {i for a, b, _ in self.excess for i in (a, b)}       # paired engines are not interchangeable
        keys = [(res.tobytes(), cost.tobytes(), i if i in alone else -1) for i, (res, cost, _) in enumerate(self.sets)]
        for k in keys:
            sig.setdefault(k, len(sig))
        key = [sig[k] for k in keys]
        spread = [float(np.ptp(c + (r / scale) @ lam)) if len(c) else 0.0 for r, c, _ in self.sets]
        order = sorted(range(len(self.sets)), key=lambda i: (-spread[i], key[i]))
        self.order = order
        # identical engines (equal options, e.g. repeated blocks) are interchangeable: only
        # non-decreasing option ranks along a run of them (symmetry breaking, exact)
        self.same = [d > 0 and key[order[d]] == key[order[d - 1]] for d in range(len(order))]
        self.lists, red_min = [], []
        for i in order:
            res, cost, idx = self.sets[i]
            rn = res / scale
            v = cost + rn @ lam
            o = np.argsort(v, kind="stable")
            self.lists.append(([tuple(x) for x in res[o].tolist()], cost[o].tolist(), v[o].tolist(),
                               (rn[o] @ lam).tolist(), [int(x) for x in idx[o]]))
            red_min.append(float(v[o][0]))
        m = mins[order]
        cmin = np.array([self.sets[i][1].min() for i in order])
        self.rest_l = [tuple(x) for x in np.vstack([np.cumsum(m[::-1], axis=0)[::-1], np.zeros((1, 4))]).tolist()]
        self.crest = np.append(np.cumsum(cmin[::-1])[::-1], 0.0).tolist()
        self.lsuf = np.append(np.cumsum(np.array(red_min)[::-1])[::-1], 0.0).tolist()
        self.lam_total = float(lam[np.isfinite(scale)].sum())
        self.caps_l = tuple(self.caps.tolist())
        # pair terms: checked at the deeper of the two engines, by the partner's rank and its own
        depth = {i: d for d, i in enumerate(order)}
        self.pairs_at = [[] for _ in order]
        for a, b, t in self.excess:
            da, db = depth[a], depth[b]
            ia, ib = np.array(self.lists[da][4]), np.array(self.lists[db][4])
            if da > db:
                self.pairs_at[da].append((db, t[ia][:, ib].transpose(1, 0, 2).tolist()))
            else:
                self.pairs_at[db].append((da, t[ia][:, ib].tolist()))

    def _dfs(self, i, used, cost, lam_used, chosen):
        """Depth i; `used` absolute resources, `lam_used` = lam . (used / budgets)."""
        if self.nodes > NODE_LIMIT:
            self.exact = False
            return
        self.nodes += 1
        if i == len(self.lists):
            if self._ok(self._picks(chosen)):
                self.best, self.best_cost = list(chosen), cost
            return
        res, c, v, lr, idx = self.lists[i]
        rest, crest, caps, pairs = self.rest_l[i + 1], self.crest[i + 1], self.caps_l, self.pairs_at[i]
        base = cost - (self.lam_total - lam_used) + self.lsuf[i + 1]
        for k in range(chosen[-1] if self.same[i] else 0, len(c)):
            if base + v[k] >= self.best_cost - _TOL:
                break                                # Lagrangian bound, options sorted by v
            r = res[k]
            u = (used[0] + r[0], used[1] + r[1], used[2] + r[2], used[3] + r[3])
            for partner, table in pairs:
                x = table[chosen[partner]][k]
                u = (u[0] + x[0], u[1], u[2] + x[1], u[3])
            if (u[0] + rest[0] > caps[0] or u[1] + rest[1] > caps[1] or u[2] + rest[2] > caps[2]
                    or u[3] + rest[3] > caps[3] or cost + c[k] + crest >= self.best_cost - _TOL):
                continue
            chosen.append(k)
            self._dfs(i + 1, u, cost + c[k], lam_used + lr[k], chosen)
            chosen.pop()
            if not self.minimize and self.best is not None:
                return

    def _picks(self, chosen) -> list[int]:
        """Option index per engine (engines' order) of per-depth ranks `chosen`."""
        out = [0] * len(self.order)
        for depth, i in enumerate(self.order):
            out[i] = self.lists[depth][4][chosen[depth]]
        return out

    def folding(self):
        """(option index per engine, cost) of the incumbent."""
        out = self._picks(self.best)
        return out, float(sum(float(s[1][list(s[2]).index(k)]) for s, k in zip(self.sets, out)))


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
        s = _Search(engs, _caps(arch, t, reserve) if caps is None else caps, t, goal, accept, excess)
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
        s = _Search(engs, _caps(arch, t, reserve), t, "cost", accept, excess) if t is not None else None
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
