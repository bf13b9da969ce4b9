"""Accelerator models: architecture families, memories, technology presets."""
from .memory import Memory
from .systolic import Architecture, ArchError, SystolicArch, DATAFLOWS, STATIONARY, TIMINGS

__all__ = ["Memory", "Architecture", "ArchError", "SystolicArch", "DATAFLOWS", "STATIONARY", "TIMINGS"]
