"""The two figures of a results folder, drawn with matplotlib (Agg).

- pareto.png: every 2-D projection of the objectives (log axes, units in
  the labels); feasible trials in grey, the Pareto front in colour.
- hypervolume.png: normalized hypervolume of the feasible front against the
  number of trials (`pareto.hypervolume_history`).

Each PNG carries a stamp of what it shows (`plot_stamp`, a text chunk): a results folder
rewritten with the same trials (a resume after a kill -9) keeps figures already current
(`plot_current`) instead of drawing 20,000 points again.
"""
from __future__ import annotations

import hashlib
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from .pareto import hypervolume_history

__all__ = ["plot_pareto", "plot_hypervolume", "plot_stamp", "plot_current"]

#: the PNG text key of `plot_stamp`
STAMP = "codesign-stamp"


def plot_stamp(df: pd.DataFrame, front: pd.DataFrame, meta) -> str:
    """A digest of everything the two figures draw: this module's code, the names in their
    titles, and the trial, feasible and objective columns of the table and its front."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(json.dumps([meta.name, meta.mapping, meta.sampler, list(meta.objectives), len(df)]).encode())
    for frame in (df, front):
        cols = [c for c in ("trial", "feasible", *meta.objectives) if c in frame.columns]
        h.update(json.dumps(cols).encode())
        h.update(np.ascontiguousarray(frame[cols].to_numpy(float)).tobytes())
    return h.hexdigest()


def plot_current(path: Path, stamp: str) -> bool:
    """`path` is a PNG drawn from data with this `stamp` (False if missing or unreadable)."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            return im.info.get(STAMP) == stamp
    except Exception:   # noqa: BLE001 (missing, damaged, not a PNG: drawn again)
        return False


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _short(v: float, _pos=None) -> str:
    """Tick label: 3 significant digits, SI suffix from 10^4 up (12k, 3.4M, 1.2G)."""
    for div, suf in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(v) >= div:
            return f"{v / (div if suf != 'k' else 1e3):.3g}{suf}"
    return f"{v:.3g}"


def _log_axis(axis, lim: tuple[float, float]) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator
    wide = lim[0] > 0 and lim[1] / lim[0] > 300
    axis.set_major_locator(LogLocator(base=10, subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    axis.set_major_formatter(FuncFormatter(_short))
    axis.set_minor_formatter(FuncFormatter(lambda v, p: ""))


def plot_pareto(df: pd.DataFrame, front: pd.DataFrame, meta, path: Path, stamp: str = "") -> None:
    """pareto.png (module docstring); `stamp` is stored in the PNG (`plot_current`)."""
    from .settings import UNITS
    plt = _plt()
    objs = list(meta.objectives)
    pairs = list(combinations(objs, 2)) or [("trial", objs[0])]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4.2), squeeze=False)
    ok = df[df["feasible"].astype(bool)] if len(df) else df
    if ok.empty:
        for ax in axes[0]:
            ax.text(0.5, 0.5, "no feasible trial yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        pairs = []
    for ax, (x, y) in zip(axes[0], pairs):
        ax.scatter(ok[x], ok[y], s=8, c="0.75", label=f"feasible ({len(ok)})")
        f = front.sort_values(x)
        ax.scatter(f[x], f[y], s=22, c="tab:red", label=f"Pareto front ({len(front)})", zorder=3)
        if x != "trial":
            ax.set_xscale("log")
            _log_axis(ax.xaxis, ax.get_xlim())
        ax.set_yscale("log")
        _log_axis(ax.yaxis, ax.get_ylim())
        ax.set_xlabel(UNITS.get(x, x))
        ax.set_ylabel(UNITS.get(y, y))
        ax.grid(True, which="major", alpha=0.3)
    if pairs:
        axes[0][0].legend(loc="upper right", fontsize=8)   # "best" scans every point: 1 s at 20,000
    fig.suptitle(f"{meta.name}: {len(df)} trials, {meta.mapping} mapping, {meta.sampler}")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110, metadata={STAMP: stamp})
    plt.close(fig)


def plot_hypervolume(df: pd.DataFrame, meta, path: Path, stamp: str = "") -> None:
    """hypervolume.png (module docstring); `stamp` is stored in the PNG (`plot_current`)."""
    plt = _plt()
    h = hypervolume_history(df, list(meta.objectives)) if len(df) else pd.DataFrame({"trials": [], "hypervolume": []})
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(h["trials"], h["hypervolume"], c="tab:blue")
    ax.set_xlabel("trials")
    ax.set_ylabel("hypervolume (normalized log objectives)")
    ax.set_title(f"{meta.name}: {', '.join(meta.objectives)}")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110, metadata={STAMP: stamp})
    plt.close(fig)
