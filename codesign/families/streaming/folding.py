"""Foldings: PE and SIMD per MAC engine over their divisor lattices (FINN's constraints).

FINN requires PE | MH and SIMD | MW (MVAU.calc_wmem, matrixvectoractivation.py:343-344;
VVAU: PE | channels, SIMD | k_h k_w). A `Folding` holds one (PE, SIMD) per MAC engine and
whether its weights stream from DRAM (``dram``) instead of on-chip memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...errors import UserError

__all__ = ["divisors", "Folding", "lattice", "check_pin"]


@lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    """The divisors of `n`, ascending."""
    small = [d for d in range(1, int(n ** 0.5) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


def lattice(mh: int, mw: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (PE, SIMD) with PE | mh, SIMD | mw, as two int64 arrays (PE-major)."""
    pe, simd = np.meshgrid(np.array(divisors(mh)), np.array(divisors(mw)), indexing="ij")
    return pe.ravel().astype(np.int64), simd.ravel().astype(np.int64)


@dataclass(frozen=True)
class Folding:
    """(engine, PE, SIMD, dram) per MAC engine, in pipeline order."""

    entries: tuple[tuple[str, int, int, bool], ...]

    def of(self, engine: str) -> tuple[int, int, bool]:
        for name, pe, simd, dram in self.entries:
            if name == engine:
                return pe, simd, dram
        raise KeyError(engine)

    def to_dict(self) -> dict:
        return {n: {"pe": pe, "simd": simd, **({"weights": "dram"} if d else {})} for n, pe, simd, d in self.entries}

    def oneline(self) -> str:
        return " ".join(f"{n}:{pe}x{simd}{'(dram)' if d else ''}" for n, pe, simd, d in self.entries)


def check_pin(layer: str, pin, mh: int, mw: int, what: tuple[str, str]) -> dict:
    """Validate ``mapping.<layer>: {pe: .., simd: .., weights: chip|dram}`` against the engine's MH and MW;
    `what` names them (e.g. ``("output channels", "reduction elements")``)."""
    if not isinstance(pin, dict):
        raise UserError(f"mapping.{layer}: must be a mapping like {{pe: 4, simd: 9}}, got {pin!r}")
    out = {}
    for key, value in pin.items():
        if key == "weights":
            if value not in ("chip", "dram"):
                raise UserError(f"mapping.{layer}.weights: must be chip or dram, got {value!r}")
            out[key] = value
            continue
        if key not in ("pe", "simd"):
            raise UserError(f"mapping.{layer}.{key}: unknown key; a streaming pin has pe, simd and weights")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"mapping.{layer}.{key}: must be a positive integer, got {value!r}")
        total, name = (mh, what[0]) if key == "pe" else (mw, what[1])
        if total % value:
            raise UserError(f"mapping.{layer}.{key}: {value} does not divide {total} {name}")
        out[key] = value
    return out
