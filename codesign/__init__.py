"""codesign: hardware/software co-design of DNN accelerators.

A workload IR (`codesign.workload`), systolic accelerator models
(`codesign.families.systolic.arch`), a vectorized cost model and mapper
(`codesign.families.systolic`), an Optuna co-search (`codesign.search`) and an Amaranth
RTL generator (`codesign.families.systolic.rtl`). ``load_results`` and ``pareto_front`` are
the pandas entry points to a sweep's results; they load lazily so that
``import codesign`` stays light.
"""
__version__ = "0.1.0"

__all__ = ["__version__", "load_results", "pareto_front"]


def __getattr__(name):
    if name in ("load_results", "pareto_front"):
        from .search import results
        return getattr(results, name)
    raise AttributeError(f"module 'codesign' has no attribute {name!r}")
