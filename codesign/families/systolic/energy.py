"""Energy of one layer's accesses, charged at each tensor's width (the cost model's energy part).

Widths: inputs and weights at the layer's operand widths, partial sums at
the layer's output width (its accumulator word, default 32), final outputs
requantized to ``out_bits`` on their way out of the accumulator
(`out_word`), PE registers and forwarding at the array's ``op_bits`` /
``acc_bits``. How a width becomes energy is the tech table's business:
per bit (horowitz45, eyeriss65, ``*_pj_per_bit`` keys) or per access of one
word (``*_pj`` keys of a user table, e.g. Timeloop's set-up).
"""
from __future__ import annotations

import numpy as np

from ...workload import TENSORS
from .arch import SystolicArch, tech_of

__all__ = ["ENERGY_PARTS", "energy", "keep", "out_word"]

ENERGY_PARTS = ("mac", "pe_reg", "array", "glb", "acc", "dram")


def out_word(arch: SystolicArch, bits: dict) -> int:
    """Bits of a final output leaving the accumulator: requantized to ``out_bits`` (never
    wider than the layer's output word, the width its partial sums have); the SoC's DMA
    stores final outputs requantized too (`rtl/soc.py`, the quant flag)."""
    return min(arch.out_bits, bits["outputs"])


def keep(acc: dict, kept: frozenset[str], zsize: int) -> None:
    """Move the DRAM traffic of tensors kept on chip between layers to the glb (in place):
    a kept input fills its glb tiles from the kept copy (``glb inputs kept`` reads instead
    of DRAM reads); kept final outputs are written into the glb (``glb outputs kept``,
    requantized) instead of DRAM (partial-sum spills still go to DRAM)."""
    if "inputs" in kept:
        acc[("glb", "inputs", "kept")] = acc[("dram", "inputs", "reads")]
        acc[("dram", "inputs", "reads")] = np.zeros_like(acc[("glb", "inputs", "kept")])
    if "outputs" in kept:
        acc[("dram", "outputs", "updates")] = acc[("dram", "outputs", "updates")] - zsize
        acc[("glb", "outputs", "kept")] = np.full_like(acc[("dram", "outputs", "updates")], zsize)


def energy(info, av, acc: dict, macs: int, N: int):
    """Energy per part, DRAM read bytes and all DRAM bytes of `acc` (access counts);
    `av` is the cost model's architecture view (glb/acc sizes, scalars or per mapping).

    Every access is charged at its tensor's width (per-bit tables: a 32-bit
    partial sum costs 4 x an 8-bit operand; per-access tables: one word, any
    width). DRAM output updates are partial-sum spills at the layer's output
    width plus one final write per output at `out_word` bits (none when kept).
    """
    arch = av.base
    tech = tech_of(arch)
    bits = info.bits
    qbits = out_word(arch, bits)
    finals = 0 if ("glb", "outputs", "kept") in acc else info.size["outputs"]
    word = {"inputs": arch.op_bits, "weights": arch.op_bits, "outputs": arch.acc_bits}
    e = {p: np.zeros(N) for p in ENERGY_PARTS}
    e["mac"] += macs * tech.mac_pj(arch.op_bits, arch.acc_bits)
    for (mem, t, kind), v in acc.items():
        w = qbits if (t, kind) == ("outputs", "kept") else bits[t]
        if mem == "dram":
            if (t, kind) == ("outputs", "updates"):
                e["dram"] += (v - finals) * tech.dram_pj(w) + finals * tech.dram_pj(qbits)
            else:
                e["dram"] += v * tech.dram_pj(w)
        elif mem == "glb":
            e["glb"] += v * tech.sram_pj(av.glb_bytes, w, "glb")
        elif mem == "acc":
            e["acc"] += v * tech.sram_pj(av.acc_bytes, w, "acc")
        else:
            e["pe_reg"] += v * tech.reg_pj(word[t])
    for t in TENSORS:   # each streamed operand hops one PE per MAC
        if t != arch.stationary:
            e["array"] += macs * tech.forward_pj(word[t])
    dram_read_bytes = sum(v * bits[t] for (m, t, k), v in acc.items() if m == "dram" and k == "reads") / 8
    writes = acc[("dram", "outputs", "updates")]
    return e, dram_read_bytes, dram_read_bytes + ((writes - finals) * bits["outputs"] + finals * qbits) / 8
