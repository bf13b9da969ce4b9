"""The loop controller: runs a glb tile's folds in the mapping's glb-level loop order.

Per-tile configuration (sampled when ``start`` is high; see PORTS.md) gives,
per role (0 = row, 1 = col, 2 = time): the tile extent ``ext``, the fold size
``fold`` (the rows / cols / pe factor), the number of folds ``nfold`` (=
ceil(ext / fold), so empty folds never run), the glb-level loop ``order``
(role codes, outermost first) and ``accumulate`` (the accumulator already
holds partial sums of this tile; else the first reduction fold overwrites).

Schedule (cycles counted while ``busy``; ``t``, ``r``, ``c`` are the fold's
streamed length, used rows and used cols, ragged at the tile edge; ``R``,
``C`` the physical array):

- 1 set-up cycle after ``start`` (fold 0's parameters are registered);
- ws/is only: ``R`` fill cycles, preloading fold 0's ``r`` stationary rows;
- each fold lasts ``P = max(t, R)`` cycles, numbered ``tau = 0 .. P-1``,
  back to back: the west (and os: north) vector ``tau`` is read for
  ``tau < t``; the fold marker (os ``first``, ws ``swap``) goes with
  vector 0. ws/is: during fold ``f`` the north bank gives fold ``f+1``'s
  stationary row ``tau`` for ``tau < r_next`` (into the shadow weights),
  and the output of vector ``x`` enters the accumulator chain ``R + 1``
  cycles after its read (a delay line: the sum leaves the last physical
  row). os: fold ``f``'s ``r`` result rows enter the chain from the cycle
  after fold ``f+1``'s first read (each PE's sum is read as it restarts);
- after the last fold, ``R + C + 1`` drain cycles (os: the first is a
  flush marker that reads out the last fold), then ``done``. ``P >= R``
  is what keeps the drains of consecutive folds apart (os: ``r <= R``
  output rows per column bus per fold; ws: ``r_next <= R`` preload rows).

Per tile: ``2 + R + C (+ R for ws/is) + sum over folds max(t, R)`` cycles.

Port pacing (`RtlParams.paced`: a buffer port narrower than a step's bits):
each step above (a cycle of the unstalled schedule) lasts ``k`` cycles, ``k``
per step class (`RtlParams.pacing`: stream ``tau < min(t, R)``, long ``R <= tau < t``,
pad ``t <= tau < R``, fill, drain; set-up and idle 1). ``adv`` is high in a step's last cycle; the
controller's state (all but the cycle counter), the mesh, the accumulator and
the scratchpads' read ports advance only then (`EnableInserter`), so every
port moves a step's words within its ``k`` cycles. The model's formula is
`codesign.families.systolic.pacing.array_port_stalls`.
"""
from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, EnableInserter, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .mesh import delayed
from .params import RtlParams
from .plan import COL, ROW, TIME

__all__ = ["Controller", "ROLE_CODES"]

#: order codes on the ``order`` port
ROLE_CODES = {"row": 0, "col": 1, "time": 2}


class Controller(wiring.Component):
    """Fold sequencing, scratchpad read addresses, flags, output generator, cycle counter."""

    def __init__(self, p: RtlParams):
        self.p = p
        db, row_bits = p.dim_bits, max(1, (p.rows - 1).bit_length())
        sig = {
            "start": In(1), "busy": Out(1), "done": Out(1), "cycles": Out(p.cycle_bits),
            "ext": In(data.ArrayLayout(unsigned(db), 3)), "fold": In(data.ArrayLayout(unsigned(db), 3)),
            "nfold": In(data.ArrayLayout(unsigned(db), 3)), "order": In(data.ArrayLayout(unsigned(2), 3)),
            "accumulate": In(1),
            # scratchpad reads
            "west_en": Out(1), "west_addr": Out(p.west_addr_bits),
            "north_en": Out(1), "north_addr": Out(p.north_addr_bits),
            # aligned with the read data (one cycle after the read); marker: os first, ws swap
            "lane_valid": Out(p.rows), "marker": Out(1),
            # accumulator chain stage 0
            "out_valid": Out(1), "out_addr": Out(p.acc_addr_bits), "out_overwrite": Out(1),
            "out_cols": Out(unsigned(p.cols.bit_length())),
        }
        if not p.os:
            sig |= {"pl_we": Out(1), "pl_row": Out(unsigned(row_bits))}
        if p.paced:     # high in the last cycle of each step: the datapath advances
            sig |= {"adv": Out(1)}
        super().__init__(sig)

    def elaborate(self, platform):
        m, s = Module(), SimpleNamespace()
        self._latched(s)
        self._loops(m, s)
        self._fold(m, s)
        self._sequence(m, s)
        self._reads(m, s)
        if self.p.os:
            self._os_outputs(m, s)
        else:
            self._ws_outputs(m, s)
        if not self.p.paced:
            return m
        outer = Module()        # the cycle counter counts every cycle, the rest advances with `adv`
        outer.submodules.core = EnableInserter(self.adv)(m)
        self._pacer(outer, s)
        with outer.If(self.busy):
            outer.d.sync += self.cycles.eq(self.cycles + 1)
        with outer.Elif(self.start):
            outer.d.sync += self.cycles.eq(0)
        return outer

    def _pacer(self, m, s) -> None:
        """``adv``: high in the last of the ``k`` cycles of the current step's class."""
        ks = self.p.pacing
        beat, k = Signal(range(max(ks)), name="beat"), Signal(range(max(ks) + 1), name="pace")
        m.d.comb += [k.eq(Mux(s.stream, Mux(s.tau < self.p.rows, ks[0], ks[1]),
                              Mux(s.running, ks[2], Mux(s.filling, ks[3], Mux(s.draining, ks[4], 1))))),
                     self.adv.eq(beat == k - 1)]
        m.d.sync += beat.eq(Mux(self.adv, 0, beat + 1))

    def _latched(self, s) -> None:
        """The tile configuration, latched at start."""
        db = self.p.dim_bits
        s.ext = [Signal(db, name=f"ext{r}") for r in range(3)]
        s.fold = [Signal(db, name=f"fold{r}") for r in range(3)]
        s.nfold = [Signal(db, name=f"nfold{r}") for r in range(3)]
        s.order = [Signal(2, name=f"order{l}") for l in range(3)]
        s.accumulate = Signal()

    def _loops(self, m, s) -> None:
        """The glb-level loop counters (by loop position, outermost first) and the role indices."""
        db = self.p.dim_bits
        s.L = [Signal(db, name=f"loop{l}") for l in range(3)]
        s.lim = [Signal(db, name=f"lim{l}") for l in range(3)]
        for l in range(3):
            m.d.comb += s.lim[l].eq(Mux(s.order[l] == 0, s.nfold[0], Mux(s.order[l] == 1, s.nfold[1], s.nfold[2])))
        s.idx = [Signal(db, name=f"idx{r}") for r in range(3)]
        for r in range(3):
            m.d.comb += s.idx[r].eq(Mux(s.order[0] == r, s.L[0], Mux(s.order[1] == r, s.L[1], s.L[2])))
        s.is_last = Signal()
        m.d.comb += s.is_last.eq((s.L[0] == s.lim[0] - 1) & (s.L[1] == s.lim[1] - 1) & (s.L[2] == s.lim[2] - 1))

    def _fold(self, m, s) -> None:
        """Parameters of the fold the counters point at (the next one while a fold runs),
        and the registers of the running fold and of the one before it."""
        p, db = self.p, self.p.dim_bits
        s.off = [Signal(2 * db, name=f"off{r}") for r in range(3)]
        s.used = [Signal(db, name=f"used{r}") for r in range(3)]
        for r in range(3):
            rem = s.ext[r] - s.off[r]
            m.d.comb += [s.off[r].eq(s.idx[r] * s.fold[r]), s.used[r].eq(Mux(rem < s.fold[r], rem, s.fold[r]))]
        s.west_base = s.idx[ROW] * s.ext[TIME] + s.off[TIME]
        if p.os:
            s.north_base = s.idx[COL] * s.ext[TIME] + s.off[TIME]
            s.acc_base = s.idx[COL] * s.ext[ROW] + s.off[ROW]
        else:
            s.north_base = s.idx[COL] * s.ext[ROW] + s.off[ROW]
            s.acc_base = s.idx[COL] * s.ext[TIME] + s.off[TIME]
        s.cur_r, s.cur_c, s.cur_t = (Signal(db, name=n) for n in ("cur_rows", "cur_cols", "cur_t"))
        s.cur_west = Signal(p.west_addr_bits)
        s.cur_north = Signal(p.north_addr_bits)
        s.cur_acc = Signal(p.acc_addr_bits)
        s.cur_ovw, s.cur_end = Signal(), Signal(db + 2)
        s.has_more = Signal()
        if p.os:    # the previous fold, read out while this one streams
            s.prev_r, s.prev_c = Signal(db, name="prev_rows"), Signal(db, name="prev_cols")
            s.prev_acc, s.prev_ovw, s.has_prev = Signal(p.acc_addr_bits), Signal(), Signal()

    def _load_fold(self, s, has_prev: int) -> list:
        """Register the pointed-at fold (os: keeping the running one as `prev`) and advance the loop counters."""
        p = self.p
        K = TIME if p.os else ROW
        L, lim, used = s.L, s.lim, s.used
        stmts = [s.cur_r.eq(used[ROW]), s.cur_c.eq(used[COL]), s.cur_t.eq(used[TIME]),
                 s.cur_west.eq(s.west_base), s.cur_north.eq(s.north_base), s.cur_acc.eq(s.acc_base),
                 s.cur_ovw.eq(~s.accumulate & (s.idx[K] == 0)),
                 s.cur_end.eq(Mux(used[TIME] > p.rows, used[TIME] - 1, p.rows - 1)),      # P = max(t, R)
                 s.has_more.eq(~s.is_last)]
        if p.os:
            stmts += [s.prev_r.eq(s.cur_r), s.prev_c.eq(s.cur_c), s.prev_acc.eq(s.cur_acc),
                      s.prev_ovw.eq(s.cur_ovw), s.has_prev.eq(has_prev)]
        inner = L[2] == lim[2] - 1
        mid = L[1] == lim[1] - 1
        stmts += [L[2].eq(Mux(inner, 0, L[2] + 1)),
                  L[1].eq(Mux(inner, Mux(mid, 0, L[1] + 1), L[1])),
                  L[0].eq(Mux(inner & mid, L[0] + 1, L[0]))]
        return stmts

    def _sequence(self, m, s) -> None:
        """IDLE -> SETUP -> (ws: FILL) -> RUN (fold after fold) -> DRAIN, and the cycle counter."""
        p = self.p
        s.tau = Signal(p.dim_bits + 2)
        s.filling, s.running, s.draining = Signal(), Signal(), Signal()
        if not p.paced:         # paced: counted outside the enable (`elaborate`)
            with m.If(self.busy):
                m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    for mine, port in ((s.ext, self.ext), (s.fold, self.fold), (s.nfold, self.nfold),
                                       (s.order, self.order)):
                        m.d.sync += [mine[i].eq(port[i]) for i in range(3)]
                    m.d.sync += [s.accumulate.eq(self.accumulate), self.busy.eq(1), self.done.eq(0)] + \
                        ([] if p.paced else [self.cycles.eq(0)]) + [s.L[l].eq(0) for l in range(3)]
                    m.next = "SETUP"
            with m.State("SETUP"):
                m.d.sync += self._load_fold(s, 0) + [s.tau.eq(0)]
                m.next = "RUN" if p.os else "FILL"
            if not p.os:
                with m.State("FILL"):
                    m.d.comb += s.filling.eq(1)
                    m.d.sync += s.tau.eq(s.tau + 1)
                    with m.If(s.tau == p.rows - 1):
                        m.d.sync += s.tau.eq(0)
                        m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += s.running.eq(1)
                m.d.sync += s.tau.eq(s.tau + 1)
                with m.If(s.tau == s.cur_end):
                    m.d.sync += s.tau.eq(0)
                    with m.If(s.has_more):
                        m.d.sync += self._load_fold(s, 1)
                    with m.Else():
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += s.draining.eq(1)
                m.d.sync += s.tau.eq(s.tau + 1)
                with m.If(s.tau == p.rows + p.cols):
                    m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                    m.next = "IDLE"

    def _reads(self, m, s) -> None:
        """Scratchpad reads, the lane mask and the fold marker (aligned with the read data)."""
        p, tau = self.p, s.tau
        stream = s.stream = Signal()
        m.d.comb += [stream.eq(s.running & (tau < s.cur_t)),
                     self.west_en.eq(stream), self.west_addr.eq(s.cur_west + tau)]
        rows_mask = Signal(p.rows)
        m.d.comb += rows_mask.eq(Cat(*(s.cur_r > i for i in range(p.rows))))
        m.d.sync += self.lane_valid.eq(Mux(stream, rows_mask, 0))
        if p.os:
            m.d.comb += [self.north_en.eq(stream), self.north_addr.eq(s.cur_north + tau)]
            m.d.sync += self.marker.eq((s.running | s.draining) & (tau == 0))     # draining: the flush
        else:
            # fold 0's stationary rows while filling, then fold f+1's during fold f (into the shadows)
            preload = Signal()
            m.d.comb += [preload.eq((s.filling & (tau < s.cur_r)) | (s.running & s.has_more & (tau < s.used[ROW]))),
                         self.north_en.eq(preload),
                         self.north_addr.eq(Mux(s.filling, s.cur_north, s.north_base) + tau)]
            m.d.sync += [self.marker.eq(s.running & (tau == 0)), self.pl_we.eq(preload), self.pl_row.eq(tau)]

    def _os_outputs(self, m, s) -> None:
        """os output generator: at a fold's first read (or the flush) the previous fold's
        result rows, one per cycle from the next cycle, into the accumulator chain."""
        p, db = self.p, self.p.dim_bits
        og_k, og_n = Signal(db), Signal(db)
        og_base = Signal(p.acc_addr_bits)
        with m.If(self.out_valid):
            m.d.sync += og_k.eq(og_k + 1)
            with m.If(og_k == og_n - 1):
                m.d.sync += self.out_valid.eq(0)
        flush = s.draining & (s.tau == 0)
        with m.If((s.running & (s.tau == 0) & s.has_prev) | flush):
            def pick(last, prev):
                return Mux(flush, last, prev)
            m.d.sync += [self.out_valid.eq(1), og_k.eq(0), og_n.eq(pick(s.cur_r, s.prev_r)),
                         og_base.eq(pick(s.cur_acc, s.prev_acc)), self.out_overwrite.eq(pick(s.cur_ovw, s.prev_ovw)),
                         self.out_cols.eq(pick(s.cur_c, s.prev_c))]
        m.d.comb += self.out_addr.eq(og_base + og_k)

    def _ws_outputs(self, m, s) -> None:
        """ws/is output generator: each streamed vector's (valid, address, overwrite, cols)
        delayed R + 1 cycles, when its sum leaves the mesh's last row."""
        p = self.p
        word = Signal(1 + p.acc_addr_bits + 1 + p.cols.bit_length())
        m.d.comb += word.eq(Cat(s.stream, (s.cur_acc + s.tau)[:p.acc_addr_bits], s.cur_ovw,
                                s.cur_c[:p.cols.bit_length()]))
        late = delayed(m, word, p.rows + 1, "og")
        ab, cb = p.acc_addr_bits, p.cols.bit_length()
        m.d.comb += [self.out_valid.eq(late[0]), self.out_addr.eq(late[1:1 + ab]),
                     self.out_overwrite.eq(late[1 + ab]), self.out_cols.eq(late[2 + ab:2 + ab + cb])]
