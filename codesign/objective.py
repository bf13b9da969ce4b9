"""What the mapper minimizes per layer: latency, energy, their product, or a weighted sum."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Objective", "OBJECTIVES", "staircase"]

OBJECTIVES = ("latency", "energy", "edp")


@dataclass(frozen=True)
class Objective:
    """``latency`` (cycles), ``energy`` (pJ), ``edp`` (their product) or the
    weighted sum ``w_latency * latency_cycles + w_energy * energy_pj``.
    Build with `Objective.parse`; calling it on arrays gives the values."""

    name: str
    w_latency: float = 0.0
    w_energy: float = 0.0

    @classmethod
    def parse(cls, spec) -> "Objective":
        """From ``"latency"``, ``"energy"``, ``"edp"``, ``{"latency": w1,
        "energy": w2}`` (weights >= 0, not both 0) or an `Objective`.
        Raises ValueError naming what is wrong."""
        if isinstance(spec, Objective):
            return spec
        if isinstance(spec, str):
            if spec not in OBJECTIVES:
                raise ValueError(f"objective: must be one of {', '.join(OBJECTIVES)} or "
                                 f"{{latency: w1, energy: w2}}, got {spec!r}")
            return cls(spec)
        if isinstance(spec, dict):
            bad = [k for k in spec if k not in ("latency", "energy")]
            if bad:
                raise ValueError(f"objective.{bad[0]}: unknown key; a weighted objective has latency and energy")
            w = {}
            for k in ("latency", "energy"):
                v = spec.get(k, 0)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                    raise ValueError(f"objective.{k}: must be a number >= 0, got {v!r}")
                w[k] = float(v)
            if not (w["latency"] > 0 or w["energy"] > 0):
                raise ValueError("objective: the weights of latency and energy cannot both be 0")
            return cls("weighted", w["latency"], w["energy"])
        raise ValueError(f"objective: must be one of {', '.join(OBJECTIVES)} or {{latency: w1, energy: w2}}, "
                         f"got {spec!r}")

    def __call__(self, latency, energy):
        """Objective values (arrays or scalars); monotone in both arguments."""
        if self.name == "latency":
            return np.asarray(latency, dtype=np.float64)
        if self.name == "energy":
            return np.asarray(energy, dtype=np.float64)
        if self.name == "edp":
            return np.asarray(latency, dtype=np.float64) * energy
        return self.w_latency * np.asarray(latency, dtype=np.float64) + self.w_energy * np.asarray(energy)

    def __str__(self) -> str:
        if self.name != "weighted":
            return self.name
        return f"{self.w_latency:g}*latency+{self.w_energy:g}*energy"


def staircase(latency: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Indices of the latency/energy Pareto points, one per distinct point, by increasing latency."""
    order = np.lexsort((energy, latency))
    e = energy[order]
    prev = np.concatenate([[np.inf], np.minimum.accumulate(e)[:-1]])
    return order[e < prev]
