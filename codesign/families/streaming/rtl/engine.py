"""One engine of the pipeline: the ``rtl`` controller of `timing` around a window buffer and a datapath.

Ports (`lib.stream`): ``i0``, ``i1`` (inputs, one token = one pixel or vector of ``c_in``
lanes of op_bits, lane k at bits [k*op_bits +: op_bits]) and ``o`` (the output token,
valid while it waits to be written). The controller is `timing`'s state machine:

- ``jr``: the next job (within its frame); ``pr``: tokens popped of that job's frame;
- a job starts when no job runs, the output register is free (or written this cycle),
  and ``pr >= need[jr]`` on every input (tokens popped in earlier cycles);
- a token is popped when valid and ``pr < need[next]``, where next is the job after a
  job starting in this cycle (the window buffer prefetches one job ahead);
- the datapath works ``job_cycles`` cycles from the start cycle on (one PE x SIMD block
  per cycle), the output register is complete at the end of the last one and written
  from the next cycle on (``o.valid``); the requantization is combinational in the
  last cycle of each neuron fold.

The window buffer (`plan`) is written at every pop and read through one synchronous,
write-transparent read port per view position: the address presented in cycle t - 1 is
that of the job computing in cycle t (the running job if it goes on, else the next job,
whose last token may be popped in t - 1; transparency returns it), so the view is there
in the job's start cycle and the schedule is the comb-read one, cycle for cycle. Memories
are block or distributed RAM by `fitted.ram_style` (a Yosys ``ram_style`` attribute).
Job parameters (need, window origin) are small ROMs read combinationally. The source
(kind ``input``) pops the
external stream at its job start; frame f starts no earlier than cycle f * II (a credit
counter: one frame per II cycles).
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..fitted import ram_style
from .datapath import mac_datapath, stream_datapath, weight_load_signature
from .plan import read_positions

__all__ = ["EngineUnit", "engine_signature"]


def rom(m, name, values, addrs, shape):
    """Values[addr] for each address (combinational); a constant when all values are equal."""
    vals = [int(v) for v in values]
    if len(set(vals)) == 1:
        return [Const(vals[0], shape) for _ in addrs]
    mem = Memory(shape=shape, depth=len(vals), init=vals)
    m.submodules[name] = mem
    out = []
    for a in addrs:
        rp = mem.read_port(domain="comb")
        m.d.comb += rp.addr.eq(a)
        out.append(rp.data)
    return out


def _sshape(values, extra=0):
    lo, hi = min(int(v) for v in values) - extra, max(int(v) for v in values) + extra
    return signed(max(lo.bit_length(), hi.bit_length()) + 1)


def engine_signature(spec, op_bits: int) -> wiring.Signature:
    """Inputs ``i0`` (``i1``), output ``o`` (`lib.stream`, one token per transfer), ``stall``; MAC
    engines also ``wl``, the weight-load stream (`datapath.weight_load_signature`)."""
    ports = {f"i{p}": In(stream.Signature(spec.c_in * op_bits)) for p in range(max(1, len(spec.inputs)))}
    if spec.kind == "input":
        ports = {"i0": In(stream.Signature(spec.c_out * op_bits))}
    if spec.kind in ("mvau", "vvau"):
        ports["wl"] = In(weight_load_signature(spec, op_bits))
    return wiring.Signature({**ports, "o": Out(stream.Signature(spec.c_out * op_bits)), "stall": Out(1)})


class EngineUnit(wiring.Component):
    """The engine of `spec` (an `plan.EngineSpec`); `weights`: its int matrix (MAC engines)."""

    def __init__(self, spec, op_bits: int, acc_bits: int, ii_cycles: int, weights=None):
        self.spec, self.bits, self.acc_bits, self.ii = spec, op_bits, acc_bits, ii_cycles
        self.weights = weights
        super().__init__(engine_signature(spec, op_bits))

    def elaborate(self, platform):
        m = Module()
        s = self.spec
        full, busy, busy_n = Signal(), Signal(), Signal()      # busy_n: busy in the next cycle
        out_reg = Signal(s.c_out * self.bits)
        jr = Signal(range(max(s.jobs, 2)))
        last_job = jr == s.jobs - 1
        jr_next = Mux(last_job, 0, jr + 1)
        free = ~full | self.o.ready
        m.d.comb += [self.o.valid.eq(full), self.o.payload.eq(out_reg), self.stall.eq(full & ~self.o.ready)]
        start = Signal()
        if s.kind == "input":
            m.d.comb += start.eq(~busy & free & self.i0.valid & ((jr != 0) | self._credit(m, start, jr)))
            m.d.comb += self.i0.ready.eq(start)
            with m.If(start):
                m.d.sync += out_reg.eq(self.i0.payload)
            last_step = self._steps(m, start, busy, busy_n, 1, 1)[2]
        else:
            mac = s.kind in ("mvau", "vvau")
            n_sf, n_nf = (s.mw // s.simd, s.mh // s.pe) if mac else (1, 1)
            sf_nx = Signal(range(max(n_sf, 2)))                # the synapse fold of the next cycle
            views, ready_all = self._inputs(m, start, busy_n, sf_nx, jr, jr_next, last_job)
            m.d.comb += start.eq(~busy & free & Cat(*ready_all).all())
            if mac:
                sf, nf, last_step = self._steps(m, start, busy, busy_n, n_sf, n_nf, sf_nx)
                mac_datapath(m, s, self.bits, self.acc_bits, self.weights, views[0], (start | busy, busy, busy_n),
                             sf, nf, out_reg, self.wl)
            else:
                last_step = self._steps(m, start, busy, busy_n, 1, 1, sf_nx)[2]
                with m.If(start):
                    m.d.sync += out_reg.eq(stream_datapath(s, self.bits, views))
        m.d.sync += full.eq((full & ~self.o.ready) | ((start | busy) & last_step))
        with m.If(start):
            m.d.sync += jr.eq(jr_next)
        return m

    def _credit(self, m, start, jr):
        """Frames the source may start by now: floor(t / II) + 1 minus frames started (saturating)."""
        tick = Signal(range(max(self.ii, 2)))
        credit = Signal(16, init=1)
        wrap = tick == self.ii - 1
        m.d.sync += tick.eq(Mux(wrap, 0, tick + 1))
        used = start & (jr == 0)
        with m.If(~(wrap & (credit == (1 << 16) - 1))):
            m.d.sync += credit.eq(credit + wrap - used)
        return credit != 0

    def _steps(self, m, start, busy, busy_n, n_sf, n_nf, sf_nx=None):
        """Synapse/neuron fold counters of the running job: (sf, nf, last step) of this cycle; drives
        `sf_nx`, the synapse fold of the next cycle."""
        sf_r, nf_r = Signal(range(max(n_sf, 2))), Signal(range(max(n_nf, 2)))   # no 0-bit wires
        sf, nf = Mux(busy, sf_r, 0), Mux(busy, nf_r, 0)
        last_sf, last_nf = sf == n_sf - 1, nf == n_nf - 1
        last = last_sf & last_nf
        active = start | busy
        m.d.comb += busy_n.eq(active & ~last)
        m.d.sync += busy.eq(busy_n)
        if sf_nx is not None:
            m.d.comb += sf_nx.eq(Mux(busy_n, Mux(last_sf, 0, sf + 1), 0))
        with m.If(active):
            m.d.sync += [sf_r.eq(Mux(last_sf, 0, sf + 1)), nf_r.eq(Mux(last_sf, nf + 1, nf))]
        return sf, nf, last

    def _inputs(self, m, start, busy_n, sf_nx, jr, jr_next, last_job):
        """Pops into each input's window buffer and the tokens of the job's view (per input), read
        one cycle ahead (module docstring)."""
        s = self.spec
        need_now, need_nxt = rom(m, "need", s.need, (jr, jr_next), unsigned(s.tokens_in.bit_length()))
        kbits = (s.buf_depth - 1).bit_length()
        fb, cur_fb = Signal(kbits), Signal(kbits)
        cur_j = Signal(range(max(s.jobs, 2)))
        with m.If(start):
            m.d.sync += [cur_j.eq(jr), cur_fb.eq(fb)]
            with m.If(last_job):
                m.d.sync += fb.eq(fb + s.tokens_in)
        fb_wrap = Signal(kbits)
        m.d.comb += fb_wrap.eq(fb + s.tokens_in)
        fb_t1 = Mux(start & last_job, fb_wrap, fb)                      # registers' values next cycle
        vj = Mux(busy_n, Mux(start, jr, cur_j), Mux(start, jr_next, jr))
        vfb = Mux(busy_n, Mux(start, fb, cur_fb), fb_t1)
        addrs, valids = self._view_addrs(m, vj, vfb, sf_nx, kbits)
        ready_all, views = [], []
        for p in range(len(s.inputs)):
            port = getattr(self, f"i{p}")
            pr = Signal(range(s.tokens_in + 1))
            ready_all.append(pr >= need_now)
            pr_eff = Mux(start & last_job, 0, pr)
            pop = port.valid & (pr_eff < Mux(start, need_nxt, need_now))
            m.d.comb += port.ready.eq(pop)
            m.d.sync += pr.eq(pr_eff + pop)
            mem = Memory(shape=len(port.payload), depth=s.buf_depth, init=[],
                         attrs={"ram_style": ram_style(s.buf_depth, len(port.payload))})
            m.submodules[f"buf{p}"] = mem
            wp = mem.write_port()
            wptr = Signal(kbits)
            m.d.comb += [wp.addr.eq(wptr), wp.data.eq(port.payload), wp.en.eq(pop)]
            m.d.sync += wptr.eq(wptr + pop)
            toks = []
            for v, (a, ok) in enumerate(zip(addrs, valids)):
                rp = mem.read_port(transparent_for=(wp,))
                m.d.comb += rp.addr.eq(a)
                tok = Signal(len(port.payload), name=f"view{p}_{v}")
                if ok is None:
                    m.d.comb += tok.eq(rp.data)
                else:
                    ok_r = Signal(name=f"view{p}_{v}_in_grid")
                    m.d.sync += ok_r.eq(ok)
                    m.d.comb += tok.eq(Mux(ok_r, rp.data, self._pad()))
                toks.append(tok)
            views.append(toks)
        return views, ready_all

    def _view_addrs(self, m, vj, vfb, sf_nx, kbits):
        """Window buffer address and in-grid flag (None: always in the grid) of every read port for
        job `vj` at synapse fold `sf_nx` (`plan.read_positions`)."""
        s = self.spec
        h, w, r, sw, dil = s.grid
        padded = s.window is not None and s.window[5] > 0
        base, = rom(m, "base", s.row0 * w + s.col0, (vj,), _sshape(s.row0 * w + s.col0))
        if padded:
            row0, = rom(m, "row0", s.row0, (vj,), _sshape(s.row0, (r - 1) * dil))
            col0, = rom(m, "col0", s.col0, (vj,), _sshape(s.col0, (sw - 1) * dil))
        addrs, valids = [], []
        for q, pos in enumerate(read_positions(s)):
            ri, cj = [dil * (p // sw) for p in pos], [dil * (p % sw) for p in pos]
            off, = rom(m, f"off{q}", [i * w + j for i, j in zip(ri, cj)], (sf_nx,), _sshape([0, (r * w + sw) * dil]))
            a = Signal(kbits, name=f"addr_{q}")
            m.d.comb += a.eq((vfb + base + off)[:kbits])
            addrs.append(a)
            if not padded:
                valids.append(None)
                continue
            roff, = rom(m, f"roff{q}", ri, (sf_nx,), _sshape([0, r * dil]))
            coff, = rom(m, f"coff{q}", cj, (sf_nx,), _sshape([0, sw * dil]))
            row, col = row0 + roff, col0 + coff
            valids.append((row >= 0) & (row < h) & (col >= 0) & (col < w))
        return addrs, valids

    def _pad(self):
        """The value of a view position outside the grid: zero, or the most negative int for max pooling."""
        if self.spec.op == "maxpool":
            lo = (1 << (self.bits - 1))
            return Const(int("".join(f"{lo:0{self.bits}b}" for _ in range(self.spec.c_in)), 2),
                         self.spec.c_in * self.bits)
        return Const(0, self.spec.c_in * self.bits)
