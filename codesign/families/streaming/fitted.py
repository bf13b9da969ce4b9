"""Resources of the streaming RTL (``timing: rtl``): fitted to ECP5 synthesis of its own engines.

Placeholder: the memory mapping rule the RTL applies (fit below).
"""
from __future__ import annotations

__all__ = ["ram_style", "BRAM_MIN_WORDS"]

BRAM_MIN_WORDS = 128    # our choice: a DP16KD (512 x 36) at least a quarter used by depth


def ram_style(depth_words: int, width_bits: int) -> str:
    """Yosys ``ram_style`` of an RTL memory: block RAM from BRAM_MIN_WORDS words on, else distributed."""
    return "block" if depth_words >= BRAM_MIN_WORDS else "distributed"
