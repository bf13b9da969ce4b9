"""Engine datapaths: the MVAU/VVAU (PE x SIMD multiply-accumulate lanes, weights in a memory)
and the stream engines (activation, element-wise, pooling), all on signed op_bits lanes.

MVAU: the job's input vector x has MW = view tokens x c_in elements, element e = lane
e % c_in of view token e // c_in (im2col order (r, s, c), FINN's). In the cycle of neuron
fold nf and synapse fold sf, PE lane p adds sum_i W[nf PE + p, sf SIMD + i] x[sf SIMD + i]
to its accumulator (acc_bits, wrapping); at the last synapse fold the PE outputs of fold
nf are requantized (`plan.requant_shift`) into lanes nf PE .. nf PE + PE - 1 of the output.
VVAU: channel nf PE + p of view position sf SIMD + i times W[nf PE + p, sf SIMD + i].
The weight memory holds word nf * SF + sf (SF = MW / SIMD) with W[nf PE + p, sf SIMD + i]
at bits [(p SIMD + i) op_bits +: op_bits] (`weight_words`); its initial contents are the
weights given at build time, and the ``wl`` stream (`weight_load_signature`: word address,
word) writes words into it, one per transfer, always ready (load while the engine is idle:
`PORTS.md`). The memory has a synchronous read port: the address presented in cycle t - 1
is the word of cycle t (the next step of the running job, else word 0, the first step of
any job), so the multiply sees its weights in the job's first cycle, as with a comb read.
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.memory import Memory

from ..fitted import ram_style

__all__ = ["mac_datapath", "stream_datapath", "weight_words", "requant", "weight_load_signature"]


def weight_load_signature(spec, bits: int) -> stream.Signature:
    """The weight-load stream of a MAC engine: payload ``addr`` (word, low bits) and ``data`` (the word)."""
    n_words = (spec.mh // spec.pe) * (spec.mw // spec.simd)
    return stream.Signature(data.StructLayout({"addr": unsigned(max(1, (n_words - 1).bit_length())),
                                               "data": unsigned(spec.pe * spec.simd * bits)}))


def weight_words(spec, weights, bits: int) -> list[int]:
    """The weight memory's words (module docstring) of an (MH, MW) integer matrix."""
    pe, simd = spec.pe, spec.simd
    nf_n, sf_n = spec.mh // pe, spec.mw // simd
    mask = (1 << bits) - 1
    words = []
    for nf in range(nf_n):
        for sf in range(sf_n):
            word = 0
            for p in range(pe):
                for i in range(simd):
                    word |= (int(weights[nf * pe + p, sf * simd + i]) & mask) << ((p * simd + i) * bits)
            words.append(word)
    return words


def _select(words, index, width: int, n: int):
    """Word `index` of `n` words of `width` bits packed in `words` (a shifter: pysim compiles a wide
    Array mux into nested conditionals that overflow Python's compiler)."""
    return words[:width] if n == 1 else (words >> (index * width))[:width]


def _lane(v, k, bits):
    return v[k * bits:(k + 1) * bits].as_signed()


def _clip(x, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Mux(x > hi, hi, Mux(x < lo, lo, x))[:bits]


def tree_sum(m, terms, name):
    """Sum of `terms` as a balanced adder tree of named signals (pysim compiles deep expressions slowly)."""
    level = list(terms)
    depth = 0
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            v = level[k] + level[k + 1]
            sig = Signal(v.shape(), name=f"{name}_l{depth}_{k // 2}")
            m.d.comb += sig.eq(v)
            nxt.append(sig)
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    return level[0]


def requant(acc, shift: int, bits: int):
    """clip(acc >> shift) to signed `bits` (arithmetic shift)."""
    return _clip(acc >> shift, bits)


def weight_memory(m, s, bits, weights, busy, busy_n, load):
    """The weight word of this cycle's step (module docstring), the memory written by stream `load`."""
    words = weight_words(s, weights, bits)
    width = s.pe * s.simd * bits
    m.d.comb += load.ready.eq(1)
    if len(words) == 1:
        word = Signal(width, init=words[0], reset_less=True, name="weight_word")   # kept by a reset, as a memory
        with m.If(load.valid):
            m.d.sync += word.eq(load.payload.data)
        return word
    mem = Memory(shape=width, depth=len(words), init=words, attrs={"ram_style": ram_style(len(words), width)})
    m.submodules.weights = mem
    wp, rp = mem.write_port(), mem.read_port()
    m.d.comb += [wp.addr.eq(load.payload.addr), wp.data.eq(load.payload.data), wp.en.eq(load.valid)]
    cur, nxt = Signal(range(len(words)), name="waddr"), Signal(range(len(words)), name="waddr_next")
    m.d.comb += [nxt.eq(Mux(busy_n, Mux(busy, cur, 0) + 1, 0)), rp.addr.eq(nxt)]
    m.d.sync += cur.eq(nxt)
    return rp.data


def mac_datapath(m, s, bits, acc_bits, weights, view, steps, sf, nf, out_reg, load):
    """The MVAU/VVAU of spec `s` (module docstring); `view`: the job's tokens this cycle; `steps`:
    (a step runs this cycle, a job runs on from an earlier cycle, a job runs next cycle)."""
    active, busy, busy_n = steps
    pe, simd = s.pe, s.simd
    nf_n, sf_n = s.mh // pe, s.mw // simd
    wword = weight_memory(m, s, bits, weights, busy, busy_n, load)
    row = Cat(*view)                        # the fold's positions (`plan.read_positions`), lane by lane
    if s.kind == "mvau":
        chunk = row[:simd * bits]
        if sf_n > 1 and simd % s.c_in:      # the fold starts inside a token: lane (sf SIMD) mod C
            first = [(k * simd) % s.c_in for k in range(sf_n)]
            lane0 = Signal(range(max(max(first) + 1, 2)), name="fold_lane0")
            m.d.comb += lane0.eq(Array(first)[sf])
            chunk = (row >> (lane0 * bits))[:simd * bits]
        xs = [[_lane(chunk, i, bits) for i in range(simd)] for _ in range(pe)]
    else:
        xs = [[_select(view[i], nf * pe + p, bits, s.c_in).as_signed() for i in range(simd)] for p in range(pe)]
    outs = []
    for p in range(pe):
        acc = Signal(signed(acc_bits), name=f"acc{p}")
        prods = []
        for i in range(simd):
            prod = Signal(signed(2 * bits), name=f"prod{p}_{i}")
            m.d.comb += prod.eq(_lane(wword, p * simd + i, bits) * xs[p][i])
            prods.append(prod)
        dot = tree_sum(m, prods, f"dot{p}")
        nxt = Signal(signed(acc_bits), name=f"acc{p}_next")
        m.d.comb += nxt.eq((Mux(sf == 0, 0, acc) + dot)[:acc_bits])
        with m.If(active):
            m.d.sync += acc.eq(nxt)
        outs.append(requant(nxt, s.shift, bits))
    with m.If(active & (sf == sf_n - 1)):
        if nf_n == 1:
            m.d.sync += out_reg.eq(Cat(*outs))
        else:
            m.d.sync += out_reg.word_select(nf, pe * bits).eq(Cat(*outs))


def stream_datapath(s, bits, views):
    """The output token of a stream engine (activation, element-wise, pooling) from its view(s)."""
    c = s.c_out
    if s.kind == "act":
        x = [_lane(views[0][0], k, bits) for k in range(c)]
        return Cat(*((Mux(v < 0, 0, v) if s.op == "relu" else v)[:bits] for v in x))
    if s.kind == "add":
        a = [_lane(views[0][0], k, bits) for k in range(c)]
        b = [_lane(views[1][0], k, bits) for k in range(c)]
        ops = {"add": lambda x, y: _clip(x + y, bits), "sub": lambda x, y: _clip(x - y, bits),
               "max": lambda x, y: Mux(x > y, x, y)[:bits], "min": lambda x, y: Mux(x < y, x, y)[:bits]}
        return Cat(*(ops[s.op](x, y) for x, y in zip(a, b)))
    out = []
    for k in range(c):
        x = [_lane(t, k, bits) for t in views[0]]
        if s.op == "maxpool":
            v = x[0]
            for y in x[1:]:
                v = Mux(y > v, y, v)
            out.append(v[:bits])
        else:
            out.append((sum(x) // len(x))[:bits])
    return Cat(*out)
