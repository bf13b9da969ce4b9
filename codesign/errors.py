"""The error a user sees: one line naming the key and what is wrong.

Besides :class:`UserError` this module holds the small checks every input
path shares, so that each bad value gives the same kind of line:

* :func:`short` -- a value truncated for a message (an alias bomb, a huge
  list or a 10 MB string prints as a few dozen characters);
* :func:`finite_number` -- a real number, finite, in a range (NaN, infinity,
  booleans and strings refused);
* :func:`safe_name` -- a string usable as one file or folder name;
* :data:`LIMITS` -- the documented bounds on inputs, each with its reason,
  and :func:`bounded` to check a value against one of them.
"""
from __future__ import annotations

import math
import numbers
import reprlib
from dataclasses import dataclass

__all__ = ["UserError", "short", "finite_number", "safe_name", "Limit", "LIMITS", "bounded",
           "NAME_MAX_CHARS"]


class UserError(Exception):
    """Bad input (config, shape, a design that cannot hold a tile).

    The CLI prints ``error: <message>`` on one line and exits with status 2;
    the message names the offending key, e.g. ``hardware.rows: must be a
    positive integer, got -4``.
    """


# Integers past this many bits are described, not printed: str() of an int
# over 4300 digits raises ValueError in Python >= 3.11 (sys.int_info).
_MAX_PRINTED_INT_BITS = 200


def short(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, safe on any size.

    Built on :mod:`reprlib`: containers show their first few items and at
    most three levels, so the cost does not grow with the value (a YAML alias
    bomb of 10**9 leaves prints in microseconds); huge integers are described
    by their size; newlines never appear (reprs escape them).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        pass
    elif value.bit_length() > _MAX_PRINTED_INT_BITS:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"<integer of about {digits} digits>"
    r = reprlib.Repr()
    r.maxlevel = 3
    r.maxdict = r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 6
    r.maxstring = r.maxother = r.maxlong = max(8, limit)
    try:
        text = r.repr(value)
    except Exception:  # a user object whose __repr__ fails: still one line
        text = f"<{type(value).__name__}>"
    text = text.replace("\n", "\\n")
    if len(text) > limit:
        text = text[: max(0, limit - 3)] + "..."
    return text


def _fmt_bound(x: float) -> str:
    """A bound as people write it: 2**31, 1e+11, 0.5."""
    if isinstance(x, int) and x >= 2**20 and x & (x - 1) == 0:
        return f"2**{x.bit_length() - 1}"
    if isinstance(x, int):
        return str(x)
    return f"{x:g}"


def finite_number(key: str, value: object, *, low: float, high: float,
                  integer: bool = False, low_open: bool = False) -> int | float:
    """``value`` as a finite number in ``[low, high]`` (``(low, high]`` if ``low_open``).

    Refuses booleans (``true`` is not 1), strings (``"16"``, ``2**40``), None,
    NaN, infinities and anything out of range with ``key: must be ..., got
    <short value>``. With ``integer`` an integral float (``1e3``, ``16.0``) is
    accepted and returned as ``int``; a fractional one is refused. Returns an
    ``int`` when ``integer`` else a ``float``. The range is checked before any
    conversion, so ``10**400`` or ``1e308`` never overflows.
    """
    kind = "an integer" if integer else "a number"
    left = "(" if low_open else "["
    span = f"{left}{_fmt_bound(low)}, {_fmt_bound(high)}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"{key}: must be {kind} in {span}, got {short(value)}")
    if isinstance(value, numbers.Integral):
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise UserError(f"{key}: must be a finite number in {span}, got {short(value)}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        raise UserError(f"{key}: must be {kind} in {span}, got {short(value)}")
    if integer:
        if isinstance(value, float):
            if not value.is_integer():
                raise UserError(f"{key}: must be {kind} in {span}, got {short(value)}")
            value = int(value)
        return value
    return float(value)


NAME_MAX_CHARS = 100


def safe_name(key: str, value: object) -> str:
    """``value`` if it is usable as one file or folder name, else a UserError.

    A safe name is a non-empty string of at most :data:`NAME_MAX_CHARS`
    characters with no ``/`` or ``\\``, no control characters, and not
    starting with ``.`` (so never ``.`` or ``..``, which would write results
    into the current or parent folder, and never a hidden file).
    """
    if not isinstance(value, str):
        raise UserError(f"{key}: must be a string (a file name), got {short(value)}")
    if not value:
        raise UserError(f"{key}: must not be empty")
    if len(value) > NAME_MAX_CHARS:
        raise UserError(f"{key}: at most {NAME_MAX_CHARS} characters, got {len(value)}: {short(value)}")
    if "/" in value or "\\" in value:
        raise UserError(f"{key}: must be a file name without '/' or '\\', got {short(value)}")
    if value.startswith("."):
        raise UserError(f"{key}: must not start with '.', got {short(value)}")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise UserError(f"{key}: must not contain control characters, got {short(value)}")
    return value


@dataclass(frozen=True)
class Limit:
    """A documented bound on one kind of input: ``low <= value <= high``."""

    low: float
    high: float
    integer: bool
    unit: str
    reason: str


# The bounds every input path checks (codesign.config applies them per key).
# Each bound is far above any real design and low enough that the models'
# arithmetic stays exact (int64) or at least finite (float64).
LIMITS: dict[str, Limit] = {
    "dim": Limit(
        1, 2**31, True, "elements",
        "a loop bound or tensor dimension (M, N, K, channels, image side, kernel, batch): "
        "products of two stay exact in int64 (< 2**62) and of three finite in float64; "
        "real layers stay below ~1e6"),
    "buffer_bytes": Limit(
        0, 2**40, True, "bytes",
        "an on-chip buffer (1 TiB): above any on-chip SRAM built (wafer-scale parts hold "
        "tens of GB); sizes in KiB are multiplied up to bytes and bits without overflow"),
    "clock_hz": Limit(
        1e3, 1e11, False, "Hz",
        "a clock (1 kHz .. 100 GHz): CMOS logic clocks stay below ~10 GHz; the bound "
        "keeps cycles-to-seconds conversions away from 0 and infinity"),
    "array_side": Limit(
        1, 2**16, True, "PEs",
        "rows or columns of a PE array: 65536 is 256x the side of TPU v1's 256x256 "
        "systolic array (Jouppi et al., ISCA 2017)"),
    "bits": Limit(
        1, 64, True, "bits",
        "an operand or accumulator width: the RTL check computes a @ b in int64 "
        "and wraps it to acc_bits (families/systolic/rtl/sim.py, module docstring)"),
    "seed": Limit(
        0, 2**32 - 1, True, "",
        "a random seed: numpy.random.RandomState (used by Optuna's samplers) accepts "
        "seeds in [0, 2**32 - 1]"),
    "batch": Limit(
        1, 10**5, True, "trials",
        "trials asked, evaluated and stored together: each is held in memory with its "
        "per-layer outcome until the batch is stored; 10**5 is ~3000x the quickstart's 32"),
    "jobs": Limit(
        1, 2**31, True, "processes",
        "mapper processes; above the machine's cores they are capped to the cores "
        "(codesign.search.settings), since every worker is forked when the pool starts"),
    "n_trials": Limit(
        1, 10**7, True, "trials",
        "trials of one study: each is a row in the study's storage; 10**7 is ~500x the "
        "20,000-trial study the resume benchmark uses"),
}


def bounded(key: str, value: object, limit: str, *, low: float | None = None) -> int | float:
    """``finite_number`` against ``LIMITS[limit]`` (``low`` overrides its lower bound)."""
    lim = LIMITS[limit]
    return finite_number(key, value, low=lim.low if low is None else low, high=lim.high,
                         integer=lim.integer)
