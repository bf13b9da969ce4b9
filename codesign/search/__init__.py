"""Co-design search: Optuna studies over hardware (and tiling), Pareto fronts, results.

The only package that imports Optuna. Entry points: `run_sweep` (the
``codesign sweep`` loop), `load_results` and `pareto_front` (the results
table), `parse_search` (the ``search:`` section). Imports are lazy so that
``import codesign.search`` (done by the CLI) stays light.
"""
from __future__ import annotations

import importlib

__all__ = ["run_sweep", "load_results", "pareto_front", "parse_search", "SearchSettings", "hypervolume"]

_WHERE = {"run_sweep": "sweep", "load_results": "results", "pareto_front": "results",
          "parse_search": "settings", "SearchSettings": "settings", "hypervolume": "pareto"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
