"""Mapping search strategies (the shape of Optuna's samplers: a small base
class, one private module per strategy, re-exported here).

- `Exhaustive`: the optimum of the `MappingSpace`, by branch and bound.
- `Beam`: a beam search, for spaces too large; its gap is benchmarked.
- `BruteForce`: every mapping of the space through `cost.evaluate`, no
  bounds (small spaces; the reference the tests check the others against).
"""
from ._base import MapperStrategy, Outcome
from ._brute import BruteForce
from ._exhaustive import Exhaustive
from ._heuristic import Beam

__all__ = ["MapperStrategy", "Outcome", "Exhaustive", "Beam", "BruteForce", "get"]


def get(name: str) -> MapperStrategy:
    """A strategy with default settings by name: exhaustive, beam, brute."""
    table = {"exhaustive": Exhaustive, "beam": Beam, "brute": BruteForce}
    if name not in table:
        raise ValueError(f"strategy: must be one of {', '.join(table)}, got {name!r}")
    return table[name]()
