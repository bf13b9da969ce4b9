"""Rows of signed lanes as 32-bit limbs and back (the word layout of the banks' ports), vectorized.

Lane ``i`` of a word of ``bits``-bit lanes sits at bits ``i * bits`` and up,
limbs least significant first: the port layout of the scratchpad banks and
the accumulator, used by the testbench programs (`verilator_sim`,
`soc_verilator`) and by `sim._pack`.
"""
from __future__ import annotations

import numpy as np

__all__ = ["pack_lanes", "unpack_lanes", "pack_ints", "ints_to_limbs", "limbs_to_ints"]


def _limbs(bits: int) -> int:
    return -(-bits // 32)


def pack_lanes(words: np.ndarray, bits: int) -> np.ndarray:
    """Rows of signed lanes as 32-bit limbs (uint32, least significant first): lane i at bits i*bits."""
    words = np.asarray(words, dtype=np.int64)
    n, lanes = words.shape
    u = (words & ((1 << bits) - 1)).astype(np.uint64)
    if bits in (8, 16, 32, 64):
        raw = u.astype(f"<u{bits // 8}").view(np.uint8).reshape(n, lanes * bits // 8)
    else:
        bit = ((u[..., None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8)
        raw = np.packbits(bit.reshape(n, lanes * bits), axis=1, bitorder="little")
    out = np.zeros((n, 4 * _limbs(lanes * bits)), dtype=np.uint8)
    out[:, :raw.shape[1]] = raw
    return out.view("<u4")


def unpack_lanes(limbs: np.ndarray, lanes: int, bits: int) -> np.ndarray:
    """The inverse of `pack_lanes`: signed int64 lanes from rows of limbs."""
    raw = np.ascontiguousarray(limbs, dtype="<u4").view(np.uint8)
    n = raw.shape[0]
    if bits in (8, 16, 32, 64):
        return raw[:, :lanes * bits // 8].copy().view(f"<i{bits // 8}").astype(np.int64).reshape(n, lanes)
    bit = np.unpackbits(raw, axis=1, bitorder="little")[:, :lanes * bits].reshape(n, lanes, bits)
    val = (bit.astype(np.int64) << np.arange(bits, dtype=np.int64)).sum(axis=2)
    return val - ((val >> (bits - 1)) & 1) * (1 << bits)


def pack_ints(words: np.ndarray, bits: int) -> list[int]:
    """Each row of lanes as one Python int (lane i in bits [i*bits, (i+1)*bits))."""
    raw = pack_lanes(words, bits).view(np.uint8)
    return [int.from_bytes(row, "little") for row in raw]


def ints_to_limbs(values, nbytes: int) -> np.ndarray:
    """Non-negative ints of `nbytes` bytes each as rows of 32-bit limbs (uint32, least significant first)."""
    n, limbs = len(values), _limbs(8 * nbytes)
    if nbytes <= 8:
        raw = np.asarray(values, dtype=np.uint64).reshape(n).view(np.uint8).reshape(n, 8)[:, :nbytes]
    else:
        raw = np.frombuffer(b"".join(int(v).to_bytes(nbytes, "little") for v in values), dtype=np.uint8)
        raw = raw.reshape(n, nbytes)
    out = np.zeros((n, 4 * limbs), dtype=np.uint8)
    out[:, :nbytes] = raw
    return out.view("<u4")


def limbs_to_ints(limbs: np.ndarray, nbytes: int) -> list[int]:
    """The inverse of `ints_to_limbs`."""
    raw = np.ascontiguousarray(limbs, dtype="<u4").view(np.uint8)[:, :nbytes]
    if nbytes <= 8:
        pad = np.zeros((raw.shape[0], 8), dtype=np.uint8)
        pad[:, :nbytes] = raw
        return pad.view("<u8").ravel().tolist()
    return [int.from_bytes(row, "little") for row in raw]
