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

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .params import RtlParams

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
        p, m = self.p, Module()
        db = p.dim_bits
        tb = db + 2
        ROW, COL, TIME = 0, 1, 2
        K = TIME if p.os else ROW

        # -- configuration, latched at start -------------------------------
        ext = [Signal(db, name=f"ext{r}") for r in range(3)]
        fold = [Signal(db, name=f"fold{r}") for r in range(3)]
        nfold = [Signal(db, name=f"nfold{r}") for r in range(3)]
        order = [Signal(2, name=f"order{l}") for l in range(3)]
        accumulate = Signal()

        # -- glb-level loop counters (by loop position, outermost first) ---
        L = [Signal(db, name=f"loop{l}") for l in range(3)]
        lim = [Signal(db, name=f"lim{l}") for l in range(3)]
        for l in range(3):
            m.d.comb += lim[l].eq(Mux(order[l] == 0, nfold[0], Mux(order[l] == 1, nfold[1], nfold[2])))
        idx = [Signal(db, name=f"idx{r}") for r in range(3)]
        for r in range(3):
            m.d.comb += idx[r].eq(Mux(order[0] == r, L[0], Mux(order[1] == r, L[1], L[2])))
        is_last = Signal()
        m.d.comb += is_last.eq((L[0] == lim[0] - 1) & (L[1] == lim[1] - 1) & (L[2] == lim[2] - 1))

        # -- parameters of the fold the counters point at ------------------
        off = [Signal(2 * db, name=f"off{r}") for r in range(3)]
        used = [Signal(db, name=f"used{r}") for r in range(3)]
        for r in range(3):
            rem = ext[r] - off[r]
            m.d.comb += [off[r].eq(idx[r] * fold[r]), used[r].eq(Mux(rem < fold[r], rem, fold[r]))]
        west_base = idx[ROW] * ext[TIME] + off[TIME]
        if p.os:
            north_base = idx[COL] * ext[TIME] + off[TIME]
            acc_base = idx[COL] * ext[ROW] + off[ROW]
        else:
            north_base = idx[COL] * ext[ROW] + off[ROW]
            acc_base = idx[COL] * ext[TIME] + off[TIME]

        cur_r, cur_c, cur_t = (Signal(db, name=n) for n in ("cur_rows", "cur_cols", "cur_t"))
        cur_west = Signal(p.west_addr_bits)
        cur_north = Signal(p.north_addr_bits)
        cur_acc = Signal(p.acc_addr_bits)
        cur_ovw, cur_end = Signal(), Signal(tb)
        has_more = Signal()

        def load_fold():
            """Register the pointed-at fold and advance the loop counters."""
            stmts = [cur_r.eq(used[ROW]), cur_c.eq(used[COL]), cur_t.eq(used[TIME]),
                     cur_west.eq(west_base), cur_north.eq(north_base), cur_acc.eq(acc_base),
                     cur_ovw.eq(~accumulate & (idx[K] == 0)),
                     cur_end.eq(used[TIME] + used[ROW] + used[COL] - 2),
                     has_more.eq(~is_last)]
            inner = L[2] == lim[2] - 1
            mid = L[1] == lim[1] - 1
            stmts += [L[2].eq(Mux(inner, 0, L[2] + 1)),
                      L[1].eq(Mux(inner, Mux(mid, 0, L[1] + 1), L[1])),
                      L[0].eq(Mux(inner & mid, L[0] + 1, L[0]))]
            return stmts

        # -- sequencing ----------------------------------------------------
        tau = Signal(tb)
        issuing = Signal()
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [ext[r].eq(self.ext[r]) for r in range(3)]
                    m.d.sync += [fold[r].eq(self.fold[r]) for r in range(3)]
                    m.d.sync += [nfold[r].eq(self.nfold[r]) for r in range(3)]
                    m.d.sync += [order[l].eq(self.order[l]) for l in range(3)]
                    m.d.sync += [accumulate.eq(self.accumulate), self.busy.eq(1), self.done.eq(0),
                                 self.cycles.eq(0)] + [L[l].eq(0) for l in range(3)]
                    m.next = "SETUP"
            with m.State("SETUP"):
                m.d.sync += load_fold() + [tau.eq(0)]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += issuing.eq(1)
                m.d.sync += tau.eq(tau + 1)
                with m.If(tau == cur_end):
                    with m.If(has_more):
                        m.d.sync += load_fold() + [tau.eq(0)]
                    with m.Else():
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                with m.If(~self.out_valid & ~self.acc_pending):
                    m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                    m.next = "IDLE"

        # -- scratchpad reads and flags ------------------------------------
        stream = Signal()
        m.d.comb += [stream.eq(issuing & (tau < cur_t)),
                     self.west_en.eq(stream), self.west_addr.eq(cur_west + tau)]
        rows_mask = Signal(p.rows)
        m.d.comb += rows_mask.eq(Cat(*(cur_r > i for i in range(p.rows))))
        m.d.sync += self.lane_valid.eq(Mux(stream, rows_mask, 0))
        if p.os:
            m.d.comb += [self.north_en.eq(stream), self.north_addr.eq(cur_north + tau)]
            m.d.sync += [self.first.eq(Mux(stream & (tau == 0), rows_mask, 0)),
                         self.last.eq(Mux(stream & (tau == cur_t - 1), rows_mask, 0))]
        else:
            preload = Signal()
            m.d.comb += [preload.eq(issuing & (tau < cur_r)),
                         self.north_en.eq(preload), self.north_addr.eq(cur_north + tau)]
            m.d.sync += [self.pl_we.eq(preload), self.pl_row.eq(tau)]

        # -- output generator: the fold's result rows into the chain -------
        og_k, og_n = Signal(db), Signal(db)
        og_base = Signal(p.acc_addr_bits)
        with m.If(self.out_valid):
            m.d.sync += og_k.eq(og_k + 1)
            with m.If(og_k == og_n - 1):
                m.d.sync += self.out_valid.eq(0)
        with m.If(issuing & (tau == (cur_t if p.os else cur_r))):
            m.d.sync += [self.out_valid.eq(1), og_k.eq(0), og_n.eq(cur_r if p.os else cur_t),
                         og_base.eq(cur_acc), self.out_overwrite.eq(cur_ovw),
                         self.out_cols.eq(cur_c), self.out_tap.eq(cur_r - 1)]
        m.d.comb += self.out_addr.eq(og_base + og_k)
        return m
