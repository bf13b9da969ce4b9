"""Which simulator runs a layer in ``codesign verify``: pysim within the cycle budget, else Verilator
(``--sim auto``), a scaled-down copy for pysim (``--scale-down``) or a one-line refusal.
Shared by the bare array's verify (`design`) and the SoC's (`soc_verify`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .plan import RtlError

__all__ = ["choose_engine", "run_engines", "EngineRuns"]


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


@dataclass(frozen=True)
class EngineRuns:
    """The results of `run_engines`, in the order of the runs, and what to say of them."""

    results: list
    where: str          # "2 on Amaranth pysim and 1 on Verilator at full size"
    built: str          # the Verilator build and its speed ("" without Verilator)
    build_s: float      # seconds of the Verilator build (not simulation)


def run_engines(runs: list[dict], pysim: Callable, verilator: Callable, clocks: str = "clocks") -> EngineRuns:
    """Run every prepared layer (``run["sim"]``, ``run["case"]``) on its engine in one go:
    ``pysim(cases)`` returns results; ``verilator(cases)`` returns (runs with ``result``,
    ``clocks`` and ``seconds``, the build with ``seconds`` and ``cached``)."""
    on = {e: [i for i, r in enumerate(runs) if r["sim"] == e] for e in ("pysim", "verilator")}
    results, built, build_s = [None] * len(runs), "", 0.0
    if on["pysim"]:
        for i, res in zip(on["pysim"], pysim([runs[i]["case"] for i in on["pysim"]])):
            results[i] = res
    if on["verilator"]:
        vl, b = verilator([runs[i]["case"] for i in on["verilator"]])
        for i, v in zip(on["verilator"], vl):
            results[i] = v.result
        build_s, n = b.seconds, sum(v.clocks for v in vl)
        built = (f"; build {'from the cache' if b.cached else 'compiled'} in {b.seconds:.1f} s; "
                 f"{n:,} {clocks}, {n / max(sum(v.seconds for v in vl), 1e-9):,.0f}/s")
    where = " and ".join(f"{len(ix)} on {'Amaranth pysim' if e == 'pysim' else 'Verilator at full size'}"
                         for e, ix in on.items() if ix)
    return EngineRuns(results, where, built, build_s)
