"""The strategy interface and what every strategy shares: costing finalists
with `cost.evaluate` and picking the winner by the tie-break rule."""
from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from ..cost import Costs, evaluate
from ..mapping import MappingBatch
from ....objective import Objective
from ..space import MappingSpace

__all__ = ["MapperStrategy", "Outcome", "Finalists", "TOL"]

#: relative slack on bounds vs the cost model's floating-point values
TOL = 1e-9


@dataclass(frozen=True)
class Outcome:
    """What a search found: the mappings it costed with `cost.evaluate`
    (`batch`, `costs`) and the index of the best feasible one (-1: none).

    `considered`: mappings in the space (`MappingSpace.size`); `evaluated`:
    mappings costed by `cost.evaluate`; `bounded`: complete or partial
    mappings scored by the bound model (`codesign.families.systolic.bounds`);
    `exact`: the best is the optimum of the space (False for heuristics).
    """

    batch: MappingBatch | None
    costs: Costs | None
    best: int
    considered: int
    evaluated: int
    bounded: int = 0
    exact: bool = True


class MapperStrategy(abc.ABC):
    """A way to search a `MappingSpace` (Optuna's sampler shape: a small
    base class, one private module per strategy)."""

    #: short name shown in results and the CLI
    name: str = "strategy"

    @abc.abstractmethod
    def search(self, space: MappingSpace, objective: Objective) -> Outcome:
        """Search `space` for the mapping minimizing `objective`. Returns an
        `Outcome`; `best == -1` when no mapping fits."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def tie_key(objective: Objective, costs: Costs, batch: MappingBatch) -> np.ndarray:
    """Row order under the tie-break rule: lowest objective, then lowest
    energy, then lowest latency, then the lexicographically smallest factors
    (levels dram, glb, rows, cols, pe; dims in layer order), then loop ranks.
    Infeasible rows sort last."""
    obj = objective(costs.latency_cycles, costs.energy_pj)
    keys = [batch.rank.reshape(len(batch), -1)[:, ::-1].T, batch.factors.reshape(len(batch), -1)[:, ::-1].T,
            costs.latency_cycles[None], costs.energy_pj[None], obj[None], (~costs.feasible)[None]]
    return np.lexsort(np.concatenate(keys, axis=0))


def _take(c: Costs, idx: np.ndarray) -> Costs:
    return c.take(idx)


def _cat(parts: list[Costs]) -> Costs:
    return Costs.concat(parts)


class Finalists:
    """Mappings costed with `cost.evaluate` so far and the incumbent (the
    best feasible ``(objective, energy)`` among them)."""

    def __init__(self, space: MappingSpace, objective: Objective):
        self.space, self.objective = space, objective
        self._batches: list[MappingBatch] = []
        self._costs: list[Costs] = []
        self.evaluated = 0
        self.obj = np.inf
        self.energy = np.inf

    def add(self, choice: np.ndarray, dram_order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cost mappings given by candidate indices; returns (objective,
        energy, feasible) per row and updates the incumbent."""
        batch = self.space.batch(choice, dram_order)
        c = evaluate(self.space.layer, self.space.arch, batch)
        self.evaluated += len(batch)
        obj = self.objective(c.latency_cycles, c.energy_pj)
        ok = c.feasible
        if ok.any():
            i = np.lexsort((c.energy_pj[ok], obj[ok]))[0]
            o, e = obj[ok][i], c.energy_pj[ok][i]
            if (o, e) < (self.obj, self.energy):
                self.obj, self.energy = float(o), float(e)
        # keep only what can still win (the incumbent's ties)
        keep = ok & (obj <= self.obj * (1 + TOL))
        if keep.any():
            idx = np.flatnonzero(keep)
            self._batches.append(MappingBatch(batch.dims, batch.bounds, batch.factors[idx], batch.rank[idx]))
            self._costs.append(_take(c, idx))
        return obj, c.energy_pj, ok

    def bound_by(self, obj: float) -> None:
        """Take `obj` (a mapping's objective on this architecture, e.g. a seed's)
        as the incumbent's objective: an upper bound only, the energy left
        open and no finalist added, so the winner is still chosen among the
        space's own mappings."""
        self.obj = min(self.obj, float(obj))

    @property
    def empty(self) -> bool:
        """No finalist kept (with `bound_by`: every mapping of the space was worse)."""
        return not self._batches

    def beaten(self, obj: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Rows whose lower bounds show they cannot beat or tie the incumbent."""
        lo = self.obj * (1 - TOL)
        return (obj > self.obj * (1 + TOL)) | ((obj >= lo) & (energy > self.energy * (1 + TOL)))

    def outcome(self, considered: int, bounded: int) -> Outcome:
        if not np.isfinite(self.obj):
            return Outcome(None, None, -1, considered, self.evaluated, bounded)
        b = self._batches
        batch = MappingBatch(b[0].dims, b[0].bounds, np.concatenate([x.factors for x in b]),
                             np.concatenate([x.rank for x in b]))
        costs = _cat(self._costs)
        best = int(tie_key(self.objective, costs, batch)[0])
        return Outcome(batch, costs, best, considered, self.evaluated, bounded)
