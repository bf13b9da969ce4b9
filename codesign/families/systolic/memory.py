"""Memory levels of an accelerator, from the PE registers outwards."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Memory"]


@dataclass(frozen=True)
class Memory:
    """One physical memory.

    `level` is the loop level whose tiles it holds (``pe``, ``glb`` or
    ``dram``); `tensors` are the operands it keeps. Several memories may
    share a level (the scratchpad keeps inputs and weights, the accumulator
    keeps outputs, both hold tiles of the ``glb`` loop level).
    `size_bytes` is None for DRAM (unbounded); for ``pe`` memories it is per PE.
    """

    name: str
    level: str
    tensors: frozenset[str]
    size_bytes: float | None
    word_bits: int
    double_buffered: bool = False
    bw_bytes: float | None = None      # bytes/cycle; None = never the bottleneck

    @property
    def capacity_bytes(self) -> float | None:
        """Bytes one tile may use (half the memory when double-buffered)."""
        if self.size_bytes is None:
            return None
        return self.size_bytes / 2 if self.double_buffered else self.size_bytes
