"""Which simulator runs a layer in ``codesign verify``: pysim within the cycle budget, else Verilator
(``--sim auto``), a scaled-down copy for pysim (``--scale-down``) or a one-line refusal.
Shared by the bare array's verify (`design`) and the SoC's (`soc_verify`).
"""
from __future__ import annotations

from .plan import RtlError

__all__ = ["choose_engine"]


def _verilator_missing() -> str | None:
    from .verilator import unavailable
    return unavailable()


def choose_engine(name: str, cycles: int, max_cycles: int, sim: str, scale_down: bool) -> tuple[str, str, bool]:
    """Where a layer of `cycles` model cycles runs: (``pysim`` or ``verilator``, the note saying why
    when it is Verilator by budget, whether to scale it down for pysim). Refuses what cannot run."""
    engine, why, small = ("verilator", "", False) if sim == "verilator" else ("pysim", "", False)
    if engine == "pysim" and cycles > max_cycles:
        if scale_down:
            small = True
        elif sim == "auto" and _verilator_missing() is None:
            engine, why = "verilator", f"on Verilator: {cycles} model cycles exceed the pysim budget of {max_cycles}"
        else:
            hint = "" if sim == "pysim" else f" ({_verilator_missing()})"
            raise RtlError(f"layer {name!r}: {cycles} model cycles exceed the pysim budget of "
                           f"{max_cycles}; use --sim verilator, --scale-down or --max-cycles{hint}")
    if engine == "verilator" and _verilator_missing():
        raise RtlError(f"--sim verilator: {_verilator_missing()}")
    return engine, why, small
