"""Large journal studies made fast: copies of the records of a real sweep's trials
with new parameters and objectives (tests/test_resume_scale.py, benchmarks/bench_resume.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codesign.search.results import ATTR


def synthetic_lines(templates: list[dict], n: int, seed: int = 0) -> list[bytes]:
    """`n` journal records of complete trials, in the format Optuna's `add_trials`
    writes: each a template's record (user attributes, constraints, distributions)
    with new hardware parameters (in Optuna's internal representation: a
    categorical's index, numbers as floats) and its objectives (values and the
    metrics of the outcome alike) scaled by 0.5x to 2x."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, json_to_distribution
    rng = np.random.default_rng(seed)
    dists = {k: json_to_distribution(v) for k, v in templates[0]["distributions"].items()}
    out = []
    for i in range(n):
        rec = dict(templates[i % len(templates)])
        params = {}
        for k, d in dists.items():
            if isinstance(d, CategoricalDistribution):
                params[k] = int(rng.integers(len(d.choices)))
            elif isinstance(d, FloatDistribution):
                lo, hi = (np.log(d.low), np.log(d.high)) if d.log else (d.low, d.high)
                x = float(rng.uniform(lo, hi))
                params[k] = float(np.exp(x)) if d.log else x
            else:
                params[k] = float(rng.integers(d.low, d.high + 1))
        rec["params"] = params
        lat, en, area = rng.uniform(0.5, 2.0, 3)
        rec["values"] = [v * s for v, s in zip(rec["values"], (lat, en, area))]
        attrs = dict(rec["user_attrs"][ATTR])
        scale = {"latency_cycles": lat, "energy_pj": en, "area_mm2": area, "edp": lat * en,
                 "power_mw": en / lat}
        attrs["metrics"] = {k: (v * scale.get(k, 1.0) if v is not None else None)
                            for k, v in attrs["metrics"].items()}
        rec["user_attrs"] = {**rec["user_attrs"], ATTR: attrs}
        out.append(json.dumps(rec, separators=(",", ":")).encode())
    return out


def grow_journal(journal: Path, n: int, seed: int = 0) -> None:
    """Append synthetic complete trials (`synthetic_lines`, one write) to `journal`
    until it holds `n`; its complete trials so far are the templates."""
    templates = [json.loads(line) for line in journal.read_bytes().splitlines() if b'"op_code":4' in line]
    with open(journal, "ab") as f:
        f.write(b"\n".join(synthetic_lines(templates, n - len(templates), seed)) + b"\n")
