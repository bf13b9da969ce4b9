"""The FIFOs' share of the budgets for the solver: lower bounds valid for every folding
(`fifo_bounds`) and the exact check of one folding (`FifoCheck`).

Lower bounds on an edge's depth in ``rtl`` timing (the schedule is a max-plus system: every start,
write and pop time is non-decreasing in every engine's job cycles; FIFOs are sized after it):

1. Frame 0 alone: the depth is a max over the writes of every frame, so the occupancy at frame 0's
   writes bounds it; frame 0's schedule does not depend on the II (the source starts it in cycle 0)
   and its jobs depend on frame-0 tokens only.
2. Source edges: when no MAC engine is upstream of an edge's producer (the graph input, through
   stream engines), its writes are the same for every folding; the consumer's pops only grow with the
   job cycles, so the frame-0 depth at the consumer's own job cycles, every other engine at its
   fewest job cycles, bounds the depth of every folding with that consumer option (`per_option`).
3. Residual joins: the short edge u -> v (port p) of a join whose other input q descends from u
   (a fork): token k' of port p is popped only after job J(k') - 1 of v started, hence after token
   need_v[J(k') - 1] - 1 of q was written; along the long branch each engine writes job j at least
   3 cycles after token need[j] - 1 of its input is written (readable one cycle later, popped before
   the start, one compute cycle), so that token of q follows u's token N(need_v[J(k') - 1] - 1),
   N the composed needs of the branch. Every token k' <= k with N(...) >= k is still in the FIFO
   when u writes token k: the depth is at least the largest such count, whatever the folding (the
   window lookahead of the long branch, e.g. two 3x3 convs on W-wide rows: about 2W + 2 tokens).
4. Every edge: depth >= 1.

A depth bound d gives the resource bound (`resource_floor`): an SRL FIFO of depth >= d or a block-RAM
one of depth >= max(d, 257), componentwise the fewer LUTs, and BRAM18 only for d > 256 (block RAM).
``finn`` timing: the FIFOs themselves (depth FINN_FIFO_DEPTH whatever the folding).
"""
from __future__ import annotations

import numpy as np

from .arch import StreamingArch
from .cost import Options
from .engines import MAC_KINDS, Pipeline
from . import finn
from .pipeline import FINN_FIFO_DEPTH, MAX_SRL_DEPTH, _depth, edges, evaluate, fifo_resources
from .timing import schedule_batch

__all__ = ["fifo_floor", "fifo_bounds", "depth_bounds", "resource_floor", "FifoCheck"]


def resource_floor(depth, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(LUT, BRAM18) no FIFO of at least `depth` entries of `width` bits goes below (module docstring)."""
    d = np.asarray(depth, np.int64)
    srl = np.where(d <= MAX_SRL_DEPTH, finn.fifo_lut(d, width, "rtl"), np.iinfo(np.int64).max)
    lut = np.minimum(srl, finn.fifo_lut(np.maximum(d, MAX_SRL_DEPTH + 1), width, "vivado"))
    return lut.astype(np.int64), np.where(d > MAX_SRL_DEPTH, fifo_resources(d, width)[1], 0).astype(np.int64)


def _ancestors(pipe: Pipeline, name: str) -> set:
    out, todo = set(), [name]
    while todo:
        for s in pipe.engine(todo.pop()).inputs:
            if s not in out:
                out.add(s)
                todo.append(s)
    return out


def _path(pipe: Pipeline, src: str, dst: str) -> list | None:
    """Engines from `src` (excluded) to `dst` (included) along first inputs that descend from `src`."""
    if dst == src:
        return []
    for s in pipe.engine(dst).inputs:
        if s == src or src in _ancestors(pipe, s):
            rest = _path(pipe, src, s)
            return None if rest is None else rest + [dst]
    return None


def _join_depth(pipe: Pipeline, u: str, v: str, port: int) -> int:
    """Bound 3 (module docstring) on the edge u -> v, port `port` (1 when no other input descends from u)."""
    e = pipe.engine(v)
    best = 1
    for q, src in enumerate(e.inputs):
        path = _path(pipe, u, src) if q != port else None
        if not path:
            continue
        lag = np.arange(pipe.engine(u).jobs)                      # N: token of u behind each token of q
        for x in path:
            lag = np.concatenate([[lag[0]], lag])[pipe.engine(x).need]  # need[j] - 1 of the input, as u's token
        n = e.tokens_in
        owner = np.searchsorted(e.need, np.arange(n), side="right")     # J(k'): first job needing token k'
        guard = np.where(owner > 0, lag[np.clip(e.need[np.maximum(owner - 1, 0)] - 1, 0, len(lag) - 1)], -1)
        guard = np.maximum.accumulate(guard)                        # N(...) of tokens 0..k', non-decreasing
        first = np.searchsorted(guard, np.arange(n), side="left")  # smallest k' whose N(...) >= k
        best = max(best, int(np.max(np.arange(n) - np.minimum(first, np.arange(n)) + 1)))
    return best


FOCUS_SHARE = 0.5    # pair bounds: options within this share of the focus II get exact tables (others a floor)


class _Bounds:
    """Frame-0 schedules behind bounds 1-2: per MAC engine m (or None), every engine whose MAC ancestors
    are within {m}, scheduled once per distinct job-cycle value of m, the other engines at their fewest."""

    def __init__(self, pipe, opts, focus=None):
        self.pipe, self.opts, self.focus = pipe, opts, focus
        self.fewest = {n: int(o.job_cycles.min()) for n, o in opts.items()}
        self.macs: dict = {}
        for e in pipe.engines:
            self.macs[e.name] = set().union(*(self.macs[s] for s in e.inputs)) | ({e.name} if e.kind in MAC_KINDS else set())
        self._stage: dict = {}

    def stage(self, m):
        if m not in self._stage:
            names = {n for n, ms in self.macs.items() if ms <= ({m} if m else set())}
            cm = np.unique(self.opts[m].job_cycles) if m else np.array([self.fewest[self.pipe.engines[0].name]])
            jc = {n: cm if n == m else np.full(len(cm), self.fewest[n]) for n in names}
            self._stage[m] = (cm, names, schedule_batch(self.pipe, jc, np.ones(len(cm), np.int64), 1, engines=names))
        return self._stage[m]

    def _near(self, name, values):
        """Which job-cycle `values` of engine `name` give cycles within FOCUS_SHARE of the focus II."""
        if self.focus is None:
            return np.zeros(len(values), bool)
        o = self.opts[name]
        cyc = np.array([o.cycles[o.job_cycles == v].max() for v in values])
        return cyc >= FOCUS_SHARE * self.focus

    def edge(self, u, v, port):
        """(keys, depth): the engines the bound depends on (producer side first) and the bound,
        an array over their options (1 or 2 axes); None when more than one MAC feeds the producer."""
        um = self.macs[u]
        if len(um) > 1:
            return None
        m = next(iter(um)) if um else None
        extra = self.macs[v] - um
        if not extra or (m is None and extra == {v}):
            key = m if m else (v if extra else None)
            cm, _, sch = self.stage(key)
            d = _depth(sch.write[u], sch.pop[(v, port)])
            if key is None:
                return (), int(d[0])
            return (key,), d[np.searchsorted(cm, self.opts[key].job_cycles)]
        cm, closure, s1 = self.stage(m)
        q = [e.name for e in self.pipe.engines if (e.name in self.ancestors(v) or e.name == v) and e.name not in closure]
        x = next(n for n in q if n in extra)
        # the consumer-side engine x: exact near the focus, else at its fewest job cycles (bound 2);
        # the producer side m: exact job cycles, x near the focus only where m is near it too
        ux = np.unique(self.opts[x].job_cycles)
        cx = np.unique(np.append(ux[self._near(x, ux)], self.fewest[x]))
        near_m = self._near(m, cm) if m else np.ones(1, bool)
        rows_m = np.concatenate([np.repeat(np.nonzero(near_m)[0], len(cx)), np.nonzero(~near_m)[0]])
        rows_x = np.concatenate([np.tile(cx, int(near_m.sum())), np.full(int((~near_m).sum()), cx[0])])
        feeds = {s for n in q for s in self.pipe.engine(n).inputs if s in closure}
        jc = {n: rows_x if n == x else np.full(len(rows_m), self.fewest[n]) for n in q}
        sch = schedule_batch(self.pipe, jc, np.ones(len(rows_m), np.int64), 1, engines=set(q),
                             given={n: s1.write[n][rows_m] for n in feeds})
        d = _depth(sch.write[u], sch.pop[(v, port)])
        table = np.zeros((len(cm), len(cx)), np.int64)
        gx = np.searchsorted(cx, rows_x)
        table[rows_m[rows_x == cx[0]]] = d[rows_x == cx[0], None]    # floor for every x where m is far
        table[rows_m, gx] = d
        ox = np.searchsorted(cx, self.opts[x].job_cycles, side="right") - 1
        if m is None:
            return (x,), table[0][ox]
        om = np.searchsorted(cm, self.opts[m].job_cycles)
        return ((m,), table[om, 0]) if len(cx) == 1 else ((m, x), table[om][:, ox])

    def ancestors(self, name):
        return _ancestors(self.pipe, name)


def depth_bounds(pipe: Pipeline, opts: dict[str, Options], arch: StreamingArch, focus: int | None = None) -> dict:
    """Per edge, (keys, bound): a lower bound on its depth (module docstring, bounds 1-4), an int
    (keys empty) or an array over the options of the engines in `keys` (one or two). `focus`: an II
    near which the pair bounds are exact (FOCUS_SHARE; without it every consumer-side engine of a
    pair is at its fewest job cycles)."""
    b = _Bounds(pipe, opts, focus)
    out = {}
    for u, v, port in edges(pipe):
        d = _join_depth(pipe, u, v, port)
        got = b.edge(u, v, port)
        out[(u, v, port)] = ((), d) if got is None else (got[0], np.maximum(got[1], d))
    return out


def fifo_bounds(pipe: Pipeline, opts: dict[str, Options], arch: StreamingArch,
                focus: int | None = None, bounds: dict | None = None) -> tuple[dict, dict, list]:
    """(reserve, per_option, pairs): the FIFOs' least LUT and BRAM18, split into a part valid for every
    folding (``{"lut": .., "bram18": ..}``, taken off the budgets), per MAC engine an (options, 2) array
    of LUT and BRAM18 its options add at least, and (engine a, engine b, (options a, options b, 2))
    tables of what a pair of options adds at least. `bounds`: `depth_bounds`' answer, if at hand."""
    if arch.timing == "finn":
        return fifo_floor(pipe, arch), {}, []
    reserve, per_option, pairs = {"lut": 0, "bram18": 0}, {}, []
    for (u, v, _), (keys, d) in (bounds or depth_bounds(pipe, opts, arch, focus)).items():
        lut, bram = resource_floor(d, pipe.engine(u).channels_out * arch.op_bits)
        if len(keys) == 2:
            pairs.append((keys[0], keys[1], np.stack([lut, bram], axis=-1)))
        elif keys:
            extra = per_option.setdefault(keys[0], np.zeros((len(opts[keys[0]]), 2), np.int64))
            extra += np.stack([lut, bram], axis=1)
        else:
            reserve["lut"] += int(lut)
            reserve["bram18"] += int(bram)
    return reserve, per_option, pairs


def fifo_floor(pipe: Pipeline, arch: StreamingArch) -> dict:
    """A lower bound on the FIFOs' LUT and BRAM18 valid for every folding, bound 4 alone (``finn``
    timing: the FIFOs themselves, depth FINN_FIFO_DEPTH whatever the folding)."""
    lut = bram = 0
    for src, _, _ in edges(pipe):
        w = pipe.engine(src).channels_out * arch.op_bits
        if arch.timing == "finn":
            lut += int(finn.fifo_lut(FINN_FIFO_DEPTH, w, "rtl"))
        else:
            lut += int(resource_floor(1, w)[0])
    return {"lut": lut, "bram18": bram}


class FifoCheck:
    """The solver's lazy constraint: whether the engines of a folding and their FIFOs (sized from its
    schedule) fit the budgets together. Counts the foldings it rejected; `last`: the FIFO share of the
    last one it checked. A folding whose frame-0 FIFO depths (bound 1, exact for every folding with the
    same job cycles on the MAC engines feeding each edge's consumer) already overflow is rejected
    without its full schedule, and each such edge becomes a cut in `cuts`: (engines, their job cycles,
    edge, LUT and BRAM18 beyond the static bound of `depth_bounds`), which the solver applies to every
    folding with those job cycles. With `frame0_only` it accepts what passes that test (a relaxation:
    frame 0's depths never exceed the full ones)."""

    def __init__(self, pipe: Pipeline, opts: dict[str, Options], arch: StreamingArch, bounds: dict | None = None):
        """`bounds`: `depth_bounds`' answer (frame-0 rejections and cuts; later by `use`)."""
        self.pipe, self.opts, self.arch = pipe, opts, arch
        self.rejected = self.cut_rejected = 0     # by the full schedule; by frame 0 (each with its cuts)
        self.last: dict | None = None
        self.cuts: list = []
        self._seen: dict = {}
        self._static: dict = {}
        self.frame0_only = False    # accept by the frame-0 depths alone (a relaxation of the check)
        if bounds is not None:
            self.use(bounds)

    def use(self, bounds: dict) -> None:
        """Reject by frame-0 depths and learn cuts from now on, against the static `depth_bounds`."""
        if self.arch.timing != "rtl":
            return
        macs = _Bounds(self.pipe, self.opts).macs
        self._feeds = {(u, v, p): tuple(sorted(macs[v])) for u, v, p in edges(self.pipe)}
        self._static = bounds

    def __call__(self, choice: dict[str, int]) -> bool:
        key = (tuple(choice.values()), self.frame0_only)
        if key not in self._seen:
            self._seen[key] = (self._fits(choice), self.last)
        good, self.last = self._seen[key]
        return good

    @property
    def frame0_capable(self) -> bool:
        """Whether frame-0 rejections are on (`use`)."""
        return bool(self._static)

    def _engines(self, choice) -> dict:
        return {r: sum(int(getattr(self.opts[n], r)[i]) for n, i in choice.items()) for r in ("lut", "dsp", "bram18")}

    def _frame0(self, choice, tot) -> bool:
        """Bound 1 at this folding: fits or not; new cuts for the edges above their static bound."""
        jc = {n: np.array([self.opts[n].job_cycles[i]]) for n, i in choice.items()}
        sch = schedule_batch(self.pipe, jc, np.ones(1, np.int64), 1)
        lut = bram = 0
        found = []
        for edge, (keys, bound) in self._static.items():
            u, v, port = edge
            w = self.pipe.engine(u).channels_out * self.arch.op_bits
            d0 = int(_depth(sch.write[u], sch.pop[(v, port)])[0])
            s_lut, s_bram = resource_floor(bound[tuple(choice[k] for k in keys)] if keys else bound, w)
            f_lut, f_bram = resource_floor(d0, w)
            lut, bram = lut + max(int(f_lut), int(s_lut)), bram + max(int(f_bram), int(s_bram))
            if f_lut > s_lut or f_bram > s_bram:
                names = self._feeds[edge]
                found.append((names, tuple(int(jc[n][0]) for n in names), edge,
                              (max(0, int(f_lut - s_lut)), max(0, int(f_bram - s_bram)))))
        b = self.arch.budget()
        good = tot["lut"] + lut <= b["lut"] and tot["bram18"] + bram <= b["bram18"]
        if not good:
            self.cuts.extend(found)
            self.last = {"lut": lut, "bram18": bram}
        return good

    def _fits(self, choice) -> bool:
        tot = self._engines(choice)
        if self._static and not self._frame0(choice, tot):
            self.cut_rejected += 1
            return False
        if self.frame0_only:
            return True
        pc = evaluate(self.pipe, self.opts, choice, self.arch)
        b = self.arch.budget()
        good = (tot["lut"] + pc.fifo_lut <= b["lut"] and tot["dsp"] <= b["dsp"]
                and tot["bram18"] + pc.fifo_bram18 <= b["bram18"])
        self.rejected += not good
        self.last = {"lut": pc.fifo_lut, "bram18": pc.fifo_bram18}
        return good
