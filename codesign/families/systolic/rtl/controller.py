"""The loop controller: runs a glb tile's folds in the mapping's glb-level loop order.

Per-tile configuration (sampled when ``start`` is high; see PORTS.md) gives,
per role (0 = row, 1 = col, 2 = time): the tile extent ``ext``, the fold size
``fold`` (the rows / cols / pe factor), the number of folds ``nfold`` (=
ceil(ext / fold), so empty folds never run), the glb-level loop ``order``
(role codes, outermost first) and ``accumulate`` (the accumulator already
holds partial sums of this tile; else the first reduction fold overwrites).

Schedule (cycles counted while ``busy``; ``t``, ``r``, ``c`` are the fold's
streamed length, used rows and used cols, ragged at the tile edge):

- 1 set-up cycle after ``start`` (fold 0's parameters are registered);
- each fold lasts ``P = t + r + c - 1`` cycles, numbered ``tau = 0 .. P-1``:
  os reads the west (A) and north (B) vectors ``tau < t``; ws/is preloads
  stationary row ``tau`` for ``tau < r`` and reads the streamed vector
  ``tau < t``. At ``tau = t`` (os) / ``tau = r`` (ws, is) the output
  generator takes the fold's result rows: ``r`` rows (os) / ``t`` rows
  (ws, is), one per cycle, into column 0 of the accumulator chain;
- the next fold starts at ``tau = P``: the mesh's wavefronts never collide
  and each fold's tail (column skew, accumulator write) is carried by the
  registered chains, so folds overlap by a constant;
- after the last fold, 2 cycles finish the last accumulator write, then
  ``done``. Per tile: ``3 + sum over folds (t + r + c - 1)`` cycles.
"""
from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

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
            # aligned with the read data (one cycle after the read)
            "lane_valid": Out(p.rows), "first": Out(p.rows), "last": Out(p.rows),
            "pl_we": Out(1), "pl_row": Out(unsigned(row_bits)),
            # accumulator chain stage 0
            "out_valid": Out(1), "out_addr": Out(p.acc_addr_bits), "out_overwrite": Out(1),
            "out_cols": Out(unsigned(p.cols.bit_length())), "out_tap": Out(unsigned(row_bits)),
            "acc_pending": In(1),
        }
        super().__init__(sig)

    def elaborate(self, platform):
        m, s = Module(), SimpleNamespace()
        self._latched(s)
        self._loops(m, s)
        self._fold(m, s)
        self._sequence(m, s)
        self._reads(m, s)
        self._outputs(m, s)
        return m

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
        """Parameters of the fold the counters point at, and the registers of the running fold."""
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

    def _load_fold(self, s) -> list:
        """Register the pointed-at fold and advance the loop counters."""
        K = TIME if self.p.os else ROW
        L, lim, used = s.L, s.lim, s.used
        stmts = [s.cur_r.eq(used[ROW]), s.cur_c.eq(used[COL]), s.cur_t.eq(used[TIME]),
                 s.cur_west.eq(s.west_base), s.cur_north.eq(s.north_base), s.cur_acc.eq(s.acc_base),
                 s.cur_ovw.eq(~s.accumulate & (s.idx[K] == 0)),
                 s.cur_end.eq(used[TIME] + used[ROW] + used[COL] - 2),
                 s.has_more.eq(~s.is_last)]
        inner = L[2] == lim[2] - 1
        mid = L[1] == lim[1] - 1
        stmts += [L[2].eq(Mux(inner, 0, L[2] + 1)),
                  L[1].eq(Mux(inner, Mux(mid, 0, L[1] + 1), L[1])),
                  L[0].eq(Mux(inner & mid, L[0] + 1, L[0]))]
        return stmts

    def _sequence(self, m, s) -> None:
        """IDLE -> SETUP -> RUN (fold after fold) -> DRAIN, and the cycle counter."""
        s.tau = Signal(self.p.dim_bits + 2)
        s.issuing = Signal()
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    for mine, port in ((s.ext, self.ext), (s.fold, self.fold), (s.nfold, self.nfold),
                                       (s.order, self.order)):
                        m.d.sync += [mine[i].eq(port[i]) for i in range(3)]
                    m.d.sync += [s.accumulate.eq(self.accumulate), self.busy.eq(1), self.done.eq(0),
                                 self.cycles.eq(0)] + [s.L[l].eq(0) for l in range(3)]
                    m.next = "SETUP"
            with m.State("SETUP"):
                m.d.sync += self._load_fold(s) + [s.tau.eq(0)]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += s.issuing.eq(1)
                m.d.sync += s.tau.eq(s.tau + 1)
                with m.If(s.tau == s.cur_end):
                    with m.If(s.has_more):
                        m.d.sync += self._load_fold(s) + [s.tau.eq(0)]
                    with m.Else():
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                with m.If(~self.out_valid & ~self.acc_pending):
                    m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                    m.next = "IDLE"

    def _reads(self, m, s) -> None:
        """Scratchpad reads and the lane flags (aligned with the read data)."""
        p, tau = self.p, s.tau
        stream = Signal()
        m.d.comb += [stream.eq(s.issuing & (tau < s.cur_t)),
                     self.west_en.eq(stream), self.west_addr.eq(s.cur_west + tau)]
        rows_mask = Signal(p.rows)
        m.d.comb += rows_mask.eq(Cat(*(s.cur_r > i for i in range(p.rows))))
        m.d.sync += self.lane_valid.eq(Mux(stream, rows_mask, 0))
        if p.os:
            m.d.comb += [self.north_en.eq(stream), self.north_addr.eq(s.cur_north + tau)]
            m.d.sync += [self.first.eq(Mux(stream & (tau == 0), rows_mask, 0)),
                         self.last.eq(Mux(stream & (tau == s.cur_t - 1), rows_mask, 0))]
        else:
            preload = Signal()
            m.d.comb += [preload.eq(s.issuing & (tau < s.cur_r)),
                         self.north_en.eq(preload), self.north_addr.eq(s.cur_north + tau)]
            m.d.sync += [self.pl_we.eq(preload), self.pl_row.eq(tau)]

    def _outputs(self, m, s) -> None:
        """The output generator: the fold's result rows into the accumulator chain."""
        p, db = self.p, self.p.dim_bits
        og_k, og_n = Signal(db), Signal(db)
        og_base = Signal(p.acc_addr_bits)
        with m.If(self.out_valid):
            m.d.sync += og_k.eq(og_k + 1)
            with m.If(og_k == og_n - 1):
                m.d.sync += self.out_valid.eq(0)
        with m.If(s.issuing & (s.tau == (s.cur_t if p.os else s.cur_r))):
            m.d.sync += [self.out_valid.eq(1), og_k.eq(0), og_n.eq(s.cur_r if p.os else s.cur_t),
                         og_base.eq(s.cur_acc), self.out_overwrite.eq(s.cur_ovw),
                         self.out_cols.eq(s.cur_c), self.out_tap.eq(s.cur_r - 1)]
        m.d.comb += self.out_addr.eq(og_base + og_k)
