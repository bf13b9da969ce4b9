"""The sweep loop: ask a batch, evaluate it in one go, tell, store, repeat.

`run_sweep` continues the config's study until it holds `n_trials` complete
trials (a rerun resumes; a finished study just rewrites the results), shows
a progress bar, and stops cleanly on Ctrl-C: the batch in flight is dropped,
every stored trial is kept and the results are written.
"""
from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from .columns import json_text
from .evaluate import JointEvaluator, NestedEvaluator, Outcome
from .pareto import pareto_mask
from .settings import SearchSettings
from .space import SearchSpace
from .storage import SweepStudy

__all__ = ["run_sweep", "SweepReport", "BIG"]

#: objective value told for a metric that does not exist (a layer fits nowhere)
BIG = 1e30


@dataclass(frozen=True)
class SweepReport:
    """What a sweep did (for the summary)."""

    out: Path
    n_total: int
    n_new: int
    seconds: float
    eval_seconds: float
    store_seconds: float
    interrupted: bool
    worker: bool
    terminated: bool = False          # the interrupt was SIGTERM


@contextmanager
def _deferred_interrupt():
    """Hold Ctrl-C and SIGTERM while a batch is written (an interrupt inside the journal's
    append would leave a partial record), then raise them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from ..procs import Terminated
    hit: list[int] = []
    old = {sig: signal.signal(sig, lambda s, f: hit.append(s)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if signal.SIGTERM in hit:
            raise Terminated("SIGTERM")
        if hit:
            raise KeyboardInterrupt


def _constraints(o: Outcome, settings: SearchSettings) -> dict[str, float]:
    out = {"fits": float(o.fits)}
    for b in settings.constraints:
        v = o.layers.get(b.layer, {}).get(b.metric, math.nan) if b.layer else o.metrics[b.metric]
        out[b.name] = 0.0 if v is None or not math.isfinite(v) else b.violation(v)
    return out


def _attrs(o: Outcome, eval_s: float) -> dict:
    metrics = {k: (v if math.isfinite(v) else None) for k, v in o.metrics.items()}
    # the layer costs and mappings as the table's JSON text (`columns.json_text`): a resumed
    # study's table then takes them as stored instead of encoding every trial's again, and
    # the journal parses one string per trial instead of thousands of small objects
    return {"metrics": metrics, "layers": json_text(o.layers), "mappings": json_text(o.mappings), "reason": o.reason,
            "eval_s": eval_s, **({"front": o.front} if o.front else {})}


class _Front:
    """Running feasible front, for the progress bar."""

    def __init__(self, k: int):
        self.pts = np.empty((0, k))

    def add(self, vals: list[list[float]]) -> None:
        if vals:
            p = np.vstack([self.pts, np.array(vals)])
            self.pts = p[pareto_mask(p)]

    def postfix(self, objectives) -> str:
        if not len(self.pts):
            return "no feasible design yet"
        best = " ".join(f"{o.split('_')[0]}={self.pts[:, i].min():.3g}" for i, o in enumerate(objectives))
        return f"front={len(self.pts)} best {best}"


def _evaluator(cfg: Config, settings: SearchSettings):
    """The search space and the batch evaluator of the mapping mode."""
    space = SearchSpace(cfg, settings.mapping == "joint")
    if settings.mapping == "nested":
        return space, NestedEvaluator(cfg, space, settings.metrics, settings.jobs)
    if settings.mapping == "pareto":
        from .fronts import ParetoEvaluator
        return space, ParetoEvaluator(cfg, space, settings.metrics, settings.jobs)
    return space, JointEvaluator(cfg, space, settings.metrics)


def _target(cfg: Config, settings: SearchSettings, n_trials: int | None) -> int:
    target = settings.n_trials if n_trials is None else n_trials
    if settings.sampler == "grid":
        from .space import grid_space
        target = min(target, math.prod(len(v) for v in grid_space(cfg).values()))
    return target


def _batch(study: SweepStudy, space: SearchSpace, evaluator, settings: SearchSettings, n: int):
    """Ask `n` trials, evaluate them in one go and tell them to the mirror; returns
    (told trials, feasible objective vectors, evaluation seconds)."""
    trials = study.ask(n)
    t0 = time.perf_counter()
    outcomes = evaluator([space.choice(t.params) for t in trials])
    dt = time.perf_counter() - t0
    told, feasible = [], []
    for t, o in zip(trials, outcomes):
        values = [o.metrics[m] if math.isfinite(o.metrics[m]) else BIG for m in settings.objectives]
        cons = _constraints(o, settings)
        told.append(study.tell(t, values, cons, _attrs(o, dt / len(trials))))
        if all(v <= 0 for v in cons.values()):
            feasible.append(values)
    return told, feasible, dt


def run_sweep(cfg: Config, settings: SearchSettings, out: Path, *, n_trials: int | None = None,
              worker: bool = False, progress: bool = True) -> SweepReport:
    """Run (or continue) the sweep of `cfg` until the study has `n_trials` complete trials."""
    from tqdm import tqdm

    target = _target(cfg, settings, n_trials)
    space, evaluator = _evaluator(cfg, settings)
    study = SweepStudy(cfg, settings, out, space, worker=worker)
    t_start = time.perf_counter()
    t_eval = t_store = 0.0
    done = study.sync()
    if not worker and done < target:   # matplotlib loaded now, not after Ctrl-C: the results after an
        from .plots import _plt        # interrupt take < 1 s (a resume with nothing to run may not need it)
        _plt()
    front = _Front(len(settings.objectives))
    if done < target:                  # the progress bar's front (nothing to run: no bar postfix, 0.3 s saved)
        front.add([t.values for t in study.trials
                   if t.values and all(v <= 0 for v in t.constraints.values())])
    tqdm.monitor_interval = 0          # no monitor thread (evaluation may start processes)
    bar = tqdm(total=max(target, done), initial=done, unit="trial", dynamic_ncols=True, disable=not progress,
               desc=f"{cfg.name}{' (worker)' if worker else ''}", smoothing=0.1)
    interrupted = terminated = False
    try:
        if settings.mapping == "joint" and done == 0 and not worker and target > 0:
            from .warm import warm_start
            bar.set_postfix_str("mapping the starting population", refresh=True)
            for params in warm_start(cfg, settings, space, min(settings.batch, target)):
                study.local.enqueue_trial(params)
        while done < target:
            told, feasible, dt = _batch(study, space, evaluator, settings, min(settings.batch, target - done))
            t1 = time.perf_counter()
            with _deferred_interrupt():
                done = study.commit(told, target)
            t_eval += dt
            t_store += time.perf_counter() - t1
            front.add(feasible)
            bar.set_postfix_str(front.postfix(settings.objectives), refresh=False)
            bar.update(done - bar.n)
    except KeyboardInterrupt as e:
        from ..procs import Terminated
        interrupted, terminated = True, isinstance(e, Terminated)
    finally:
        bar.close()
        if isinstance(evaluator, NestedEvaluator):
            evaluator.close(cancel=interrupted)
    report = SweepReport(out, done, study.committed, time.perf_counter() - t_start, t_eval, t_store,
                         interrupted, worker, terminated)
    if not worker:
        from .results import Meta, results_current, trials_frame, write_results
        trials, meta = study.durable.get_trials(deepcopy=False), Meta.of(cfg, settings, out)
        done_n = sum(t.state.name == "COMPLETE" for t in trials)
        if study.committed or not results_current(out, meta, done_n):
            write_results(trials_frame(trials, cfg, settings.metrics), meta, out)
        if not interrupted:          # the next resume then replays only what comes after it
            study.snapshot()
    study.close()
    return report
