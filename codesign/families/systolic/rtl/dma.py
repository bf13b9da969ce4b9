"""The DMA engine: moves whole on-chip words between DRAM (AXI4 master) and the
scratchpad banks / the accumulator.

One command at a time (`cmd_valid` while `busy` is low): a *load* reads
``words`` on-chip words from byte address ``addr`` into a target (0 west
bank, 1 north bank, 2 accumulator) at word addresses ``0 .. words-1``; a
*store* writes accumulator rows ``0 .. words-1`` to ``addr``: raw (target 2)
or requantized (target 3, ``out_rdata``: ``cols * out_bits`` bits a row). In DRAM an
on-chip word of ``B`` bits takes ``k = ceil(B / (8 * data_bytes))`` beats
(low beat first, the top beat zero-padded), so a command moves
``words * k`` beats, split into INCR bursts (`axi.burst_beats`). Read and
write addresses are issued ahead of the data (the slave may queue one
burst), the R channel is always accepted and every word is written the
cycle its last beat arrives.

Timing with `axi.DramModel` (no other traffic): a load of ``n`` beats
keeps `busy` high ``n + 1`` cycles, a store ``n + 2`` (the extra cycle:
the B response of the last burst). `soc_stalls.py` states these numbers.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axi import BURST_INCR, axi4_signature, burst_beats
from .params import RtlParams

__all__ = ["Dma", "TARGETS", "word_bits", "beats_per_word"]

TARGETS = ("west", "north", "acc")


def word_bits(p: RtlParams) -> dict[str, int]:
    """Bits of one on-chip word per target: a west / north operand vector, an accumulator row,
    a requantized output row (``out``, stores only)."""
    return {"west": p.rows * p.op_bits, "north": p.cols * p.op_bits, "acc": p.cols * p.acc_bits,
            "out": p.cols * p.out_bits}


def beats_per_word(p: RtlParams, data_bytes: int) -> dict[str, int]:
    """AXI beats one on-chip word takes in DRAM, per target."""
    return {t: -(-b // (8 * data_bytes)) for t, b in word_bits(p).items()}


def _bits(n: int) -> int:
    return max(1, int(n).bit_length())


class Dma(wiring.Component):
    """AXI4 master `axi` plus the command port and the on-chip write/read ports (module docstring)."""

    def __init__(self, p: RtlParams, data_bytes: int, addr_bits: int = 32):
        self.p, self.data_bytes, self.addr_bits = p, data_bytes, addr_bits
        self.wb = word_bits(p)
        self.k = beats_per_word(p, data_bytes)
        self.words_bits = _bits(max(p.west_depth, p.north_depth, p.acc_depth))
        super().__init__({
            "axi": Out(axi4_signature(addr_bits, data_bytes)),
            "cmd_valid": In(1), "cmd_store": In(1), "cmd_target": In(2), "cmd_addr": In(addr_bits),
            "cmd_words": In(self.words_bits), "busy": Out(1),
            "west_we": Out(1), "west_addr": Out(p.west_addr_bits), "west_wdata": Out(self.wb["west"]),
            "north_we": Out(1), "north_addr": Out(p.north_addr_bits), "north_wdata": Out(self.wb["north"]),
            "acc_we": Out(1), "acc_addr": Out(p.acc_addr_bits), "acc_wdata": Out(self.wb["acc"]),
            "acc_rdata": In(self.wb["acc"]), "out_rdata": In(self.wb["out"]),
        })

    def elaborate(self, platform):
        m, a, db = Module(), self.axi, self.data_bytes
        beat_shift = db.bit_length() - 1
        nb = self.words_bits + max(self.k.values()).bit_length()
        store, target = Signal(), Signal(2)
        words, k = Signal(self.words_bits), Signal(range(max(self.k.values()) + 1))
        a_beat, a_left = Signal(self.addr_bits - beat_shift), Signal(nb)       # address channel
        d_beat, d_left, d_bl = Signal(self.addr_bits - beat_shift), Signal(nb), Signal(9)  # data channel
        in_word, word = Signal(range(max(self.k.values()))), Signal(self.words_bits)
        b_out = Signal(8)
        start = self.cmd_valid & ~self.busy
        with m.If(start):
            kk = Mux(self.cmd_target == 0, self.k["west"], Mux(self.cmd_target == 1, self.k["north"],
                                                                Mux(self.cmd_target == 2, self.k["acc"], self.k["out"])))
            total = self.cmd_words * kk
            m.d.sync += [self.busy.eq(1), store.eq(self.cmd_store), target.eq(self.cmd_target),
                         words.eq(self.cmd_words), k.eq(kk), a_beat.eq(self.cmd_addr >> beat_shift),
                         d_beat.eq(self.cmd_addr >> beat_shift), a_left.eq(total), d_left.eq(total),
                         d_bl.eq(0), in_word.eq(0), word.eq(0), b_out.eq(0)]
        # address channel (AR for loads, AW for stores): bursts ahead of the data
        a_len = burst_beats(a_beat, a_left, db)
        a_valid = self.busy & (a_left != 0)
        a_fire = Mux(store, a.awvalid & a.awready, a.arvalid & a.arready)
        m.d.comb += [a.arvalid.eq(a_valid & ~store), a.awvalid.eq(a_valid & store),
                     a.araddr.eq(a_beat << beat_shift), a.awaddr.eq(a_beat << beat_shift),
                     a.arlen.eq(a_len - 1), a.awlen.eq(a_len - 1), a.arsize.eq(beat_shift), a.awsize.eq(beat_shift),
                     a.arburst.eq(BURST_INCR), a.awburst.eq(BURST_INCR),
                     a.wstrb.eq(Const(-1, db)), a.bready.eq(1)]
        with m.If(self.busy & a_fire):
            m.d.sync += [a_beat.eq(a_beat + a_len), a_left.eq(a_left - a_len)]
        self._load(m, store, target, words, k, in_word, word)
        self._store(m, store, target, words, k, in_word, word, d_beat, d_left, d_bl, a_left, b_out, a_fire)
        return m

    def _load(self, m, store, target, words, k, in_word, word):
        """R beats -> words: beats before a word's last are kept, the last one writes the word."""
        a, p = self.axi, self.p
        kmax = max(self.k.values())
        slots = [Signal(8 * self.data_bytes, name=f"beat{s}") for s in range(kmax - 1)]
        fire = self.busy & ~store & a.rvalid
        m.d.comb += a.rready.eq(self.busy & ~store)
        last_beat = in_word == k - 1
        with m.If(fire):
            with m.If(last_beat):
                m.d.sync += [in_word.eq(0), word.eq(word + 1)]
                with m.If(word == words - 1):
                    m.d.sync += self.busy.eq(0)
            with m.Else():
                m.d.sync += in_word.eq(in_word + 1)
                for s, slot in enumerate(slots):
                    with m.If(in_word == s):
                        m.d.sync += slot.eq(a.rdata)
        write = fire & last_beat
        for t, name in enumerate(TARGETS):
            kt, bits = self.k[name], self.wb[name]
            data = Cat(*slots[:kt - 1], a.rdata)[:bits]
            m.d.comb += [getattr(self, f"{name}_we").eq(write & (target == t)),
                         getattr(self, f"{name}_wdata").eq(data)]
        m.d.comb += [self.west_addr.eq(word), self.north_addr.eq(word)]
        self._acc_load_addr = word

    def _store(self, m, store, target, words, k, in_word, word, d_beat, d_left, d_bl, a_left, b_out, a_fire):
        """Accumulator rows (raw or requantized) -> W beats. The row address runs one row ahead on a
        row's last beat, so the read port (one cycle latency) has the next row ready without a bubble."""
        a, db = self.axi, self.data_bytes
        ka = self.k["acc"]
        row = Mux(target == 3, Cat(self.out_rdata, Const(0, ka * 8 * db - self.wb["out"])),
                  Cat(self.acc_rdata, Const(0, ka * 8 * db - self.wb["acc"])))
        beat_data = row.word_select(in_word, 8 * db) if ka > 1 else row
        cur_len = Mux(d_bl == 0, burst_beats(d_beat, d_left, db), d_bl)
        valid = self.busy & store & (d_left != 0)
        fire = valid & a.wready
        last_beat = in_word == k - 1
        m.d.comb += [a.wvalid.eq(valid), a.wdata.eq(beat_data), a.wlast.eq(cur_len == 1)]
        with m.If(fire):
            m.d.sync += [d_beat.eq(d_beat + 1), d_left.eq(d_left - 1), d_bl.eq(cur_len - 1),
                         in_word.eq(Mux(last_beat, 0, in_word + 1)), word.eq(word + last_beat)]
        b_fire = a.bvalid
        with m.If(self.busy & store):
            m.d.sync += b_out.eq(b_out + a_fire - b_fire)
            with m.If((a_left == 0) & (d_left == 0) & (b_out == b_fire)):
                m.d.sync += self.busy.eq(0)
        read_addr = Mux(self.busy & store, Mux(fire & last_beat, word + 1, word), 0)
        m.d.comb += self.acc_addr.eq(Mux(self.busy & ~store, self._acc_load_addr, read_addr))
