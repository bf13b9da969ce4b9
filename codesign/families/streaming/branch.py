"""The branch and bound behind the folding solver (`solver`'s docstring states what it proves):
a multiple-choice multidimensional knapsack over the engines' options below an II threshold, with a
Lagrangian bound, FIFO pair terms and the lazy FIFO check's cuts."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["Search", "dominance_columns", "pareto_mask", "NODE_LIMIT", "LAZY_NODE_LIMIT", "ACCEPT_LIMIT", "CUT_LIMIT"]

NODE_LIMIT = 200_000     # DFS nodes per search (the shipped configs and benchmarks need < 2,500)
LAZY_NODE_LIMIT = 3_000_000  # with a lazy check, which turns symmetry breaking off (ResNet-18 U250 rtl: 391k)
ACCEPT_LIMIT = 8         # foldings the lazy check (`accept`, its `rejected` count) may reject per solve
CUT_LIMIT = 400          # foldings it may reject by a cut (its `cut_rejected` count: cheap, and each adds cuts)


def pareto_mask(m: np.ndarray) -> np.ndarray:
    """Rows of `m` (lower is better in every column) not dominated by another row; of identical rows the first."""
    n = len(m)
    le = np.all(m[:, None, :] <= m[None, :, :], axis=2)          # le[i, j]: i <= j everywhere
    lt = np.any(m[:, None, :] < m[None, :, :], axis=2)
    dominated = np.any(le & lt, axis=0)
    same = le & le.T
    first = np.argmax(same, axis=0) == np.arange(n)
    return ~dominated & first


def dominance_columns(res, jc, paired):
    """The columns `pareto_mask` compares: resources, and for a paired engine its job cycles both ways."""
    return np.column_stack([res, jc, -jc]) if paired else res


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


class Search:
    """Branch and bound over the engines' options below an II threshold `t` (module docstring).
    `goal`: "cost" (the cheapest folding that fits), "dram" (the fewest DRAM bytes) or "any"
    (a folding that fits). `accept(choice)` is the lazy constraint a leaf must also meet."""

    def __init__(self, engs, caps, t, goal="cost", accept=None, excess=()):
        self.sets, self.jcs = [], []
        for e in engs:
            ok = np.nonzero((e.ii <= t) & np.all(e.res <= caps, axis=1))[0]   # over a budget alone: never fits
            # below the threshold the cycles no longer matter: keep the options no other one beats in
            # every resource (of identical ones the first, i.e. the fewest job cycles: `_prepare`'s order)
            ok = ok[pareto_mask(dominance_columns(e.res[ok], e.jc[ok], e.paired))] if len(ok) > 1 else ok
            cost = {"cost": e.cost[ok], "dram": e.res[ok, 3], "any": np.zeros(len(ok))}[goal]
            self.sets.append((e.res[ok], cost, e.idx[ok]))
            self.jcs.append(e.jc[ok])
        self.names = [e.name for e in engs]
        pos = {n: i for i, n in enumerate(self.names)}
        self.excess = [(pos[a], pos[b], t) for a, b, t in excess]
        self.caps, self.minimize, self.accept = caps, goal != "any", accept
        self.cuts = getattr(accept, "cuts", None)    # learned by the lazy check, applied in the DFS
        self.ncuts = 0
        self.limit = NODE_LIMIT if accept is None else LAZY_NODE_LIMIT
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
        if getattr(self.accept, "rejected", 0) >= ACCEPT_LIMIT or getattr(self.accept, "cut_rejected", 0) >= CUT_LIMIT:
            self.exact = False
            self.nodes = self.limit + 1          # give up the search: stop the DFS
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
        cut = {n for names, *_ in (self.cuts or ()) for n in names}    # engines of known cuts first: they prune early
        order = sorted(range(len(self.sets)), key=lambda i: (self.names[i] not in cut, -spread[i], key[i]))
        self.order = order
        # identical engines (equal options, e.g. repeated blocks) are interchangeable: only
        # non-decreasing option ranks along a run of them (symmetry breaking, exact)
        # (not with a lazy check: the FIFOs tell the positions of identical engines apart)
        self.same = [d > 0 and key[order[d]] == key[order[d - 1]] and self.accept is None for d in range(len(order))]
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
        self.depth_of = {self.names[i]: d for i, d in depth.items()}
        self.jc_l = []
        for i in order:
            res, cost, idx = self.sets[i]
            o = np.argsort(cost + (res / scale) @ lam, kind="stable")
            self.jc_l.append(self.jcs[i][o].tolist())
        self.cuts_at, self.edge_ex = [[] for _ in order], {}
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
        if self.nodes > self.limit:
            self.exact = False
            return
        self.nodes += 1
        if self.cuts is not None and len(self.cuts) > self.ncuts:
            self._index_cuts()
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
            fired = self._fire(i, k, chosen) if self.cuts_at[i] else ()
            for edge, prev, new in fired:
                u = (u[0] + new[0] - prev[0], u[1], u[2] + new[1] - prev[1], u[3])
            if (u[0] + rest[0] > caps[0] or u[1] + rest[1] > caps[1] or u[2] + rest[2] > caps[2]
                    or u[3] + rest[3] > caps[3] or cost + c[k] + crest >= self.best_cost - _TOL):
                continue
            for edge, prev, new in fired:
                self.edge_ex[edge] = new
            chosen.append(k)
            self._dfs(i + 1, u, cost + c[k], lam_used + lr[k], chosen)
            chosen.pop()
            for edge, prev, new in reversed(fired):
                self.edge_ex[edge] = prev
            if not self.minimize and self.best is not None:
                return

    def _index_cuts(self):
        """File the new cuts under the deepest of their engines (the DFS checks them there)."""
        for names, values, edge, extra in self.cuts[self.ncuts:]:
            if not all(n in self.depth_of for n in names):
                continue
            conds = sorted((self.depth_of[n], v) for n, v in zip(names, values))
            (d, v), rest = conds[-1], conds[:-1]
            self.cuts_at[d].append((rest, v, edge, extra))
        self.ncuts = len(self.cuts)

    def _fire(self, i, k, chosen) -> list:
        """The cuts option k at depth i completes: (edge, its FIFO excess so far, after), the larger one per edge."""
        out, jc = [], self.jc_l
        for rest, v, edge, extra in self.cuts_at[i]:
            if jc[i][k] != v or any(jc[d][chosen[d]] != w for d, w in rest):
                continue
            prev = next((n for e, _, n in reversed(out) if e == edge), self.edge_ex.get(edge, (0, 0)))
            new = (max(prev[0], extra[0]), max(prev[1], extra[1]))
            if new != prev:
                out.append((edge, prev, new))
        return out

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
