"""Checks of model-zoo keyword arguments, with ``workload.<key>`` errors."""
from __future__ import annotations

from codesign.workload import WorkloadError


def positive_int(key: str, value) -> int:
    """Return ``value`` if it is a positive int (not a bool), else raise WorkloadError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WorkloadError(f"workload.{key}: must be a positive integer, got {value!r}")
    return value


def positive_number(key: str, value) -> float:
    """Return ``value`` as a float if it is a positive int or float, else raise WorkloadError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise WorkloadError(f"workload.{key}: must be a positive number, got {value!r}")
    return float(value)
