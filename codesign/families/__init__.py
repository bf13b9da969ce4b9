"""Hardware families: one folder each (``families/<name>/``, the same file
names), behind the small interface `codesign.families.base.Family`.

`FAMILIES` maps ``hardware.family`` to the family object; it is the one
place outside a family's folder that reaches inside it.
"""
from __future__ import annotations

from .base import Family

__all__ = ["FAMILIES", "DEFAULT_FAMILY", "get_family", "register"]

FAMILIES: dict[str, Family] = {}
#: the family of a hardware space that names none
DEFAULT_FAMILY = "systolic"


def register(family: Family) -> Family:
    """Add a family to the registry (tests register minimal ones); returns it."""
    FAMILIES[family.name] = family
    return family


def get_family(name) -> Family:
    """The family of that name; `UserError` naming ``hardware.family`` otherwise."""
    from ..errors import UserError
    if not isinstance(name, str) or name not in FAMILIES:
        raise UserError(f"hardware.family: unknown family {name!r}; choose from {', '.join(FAMILIES)}")
    return FAMILIES[name]


def _builtin() -> None:
    from .streaming import FAMILY as streaming
    from .systolic.family import FAMILY as systolic
    register(systolic)
    register(streaming)


_builtin()
