"""Plain-text tables for the terminal (a leaf module: imports nothing of codesign)."""
from __future__ import annotations

__all__ = ["table"]


def table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A fixed-width table; `align` has one 'l' or 'r' per column."""
    cells = [[str(c) for c in r] for r in rows]
    w = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    align = align or "l" + "r" * (len(headers) - 1)
    fmt = lambda r: "  ".join(c.ljust(w[i]) if align[i] == "l" else c.rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([fmt(headers), "  ".join("-" * x for x in w)] + [fmt(r) for r in cells])
