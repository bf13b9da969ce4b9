"""``codesign sweep`` and ``codesign pareto``."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the sweep and pareto subcommands to the ``codesign`` parser."""
    sw = sub.add_parser("sweep", help="co-design search: hardware (and tiling) with Optuna, resumable")
    sw.add_argument("config", help="YAML config with hardware choices/ranges and a search: section")
    sw.add_argument("--n-trials", type=int, metavar="N", help="total trials for the study (default: search.n_trials)")
    sw.add_argument("--worker", action="store_true",
                    help="join a running sweep's study (shared storage) and add trials; writes no results")
    sw.add_argument("-o", "--out", metavar="DIR", help="results folder (default: results/<name>)")
    sw.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)
    pa = sub.add_parser("pareto", help="print the Pareto front of a sweep's results")
    pa.add_argument("results", help="results folder, e.g. results/quickstart")
    pa.add_argument("--objectives", metavar="A,B", help="objectives to take the front on (default: the sweep's)")
    pa.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    pa.add_argument("--trial", metavar="N|best|knee",
                    help="print trial N as a fixed-design config (YAML, mappings pinned) for evaluate/verify/export; "
                         "best: the front's lowest edp (as export --trial best), knee: nearest the ideal point")
    pa.set_defaults(func=cmd_pareto)


def cmd_sweep(args) -> int:
    from ..config import load_config
    from ..search.settings import parse_search
    from ..search.sweep import run_sweep

    cfg = load_config(args.config)
    settings = parse_search(cfg)
    if args.n_trials is not None:
        from ..errors import bounded
        bounded("--n-trials", args.n_trials, "n_trials", low=0)
    out = Path(args.out or Path("results") / cfg.name)
    from ..procs import EXIT_SIGINT, EXIT_SIGTERM, sigterm_as_interrupt
    with sigterm_as_interrupt():        # SIGTERM (timeout, Slurm, docker stop) as Ctrl-C: results written
        rep = run_sweep(cfg, settings, out, n_trials=args.n_trials, worker=args.worker,
                        progress=not args.quiet and sys.stderr.isatty())
    print(_summary(rep, cfg, settings))
    if rep.interrupted:
        return EXIT_SIGTERM if rep.terminated else EXIT_SIGINT
    return 0


def _summary(rep, cfg, settings) -> str:
    rate = rep.n_new / rep.seconds if rep.seconds > 0 else math.inf
    head = (f"{'interrupted: ' if rep.interrupted else ''}sweep {cfg.name}: {rep.n_total} trials in the study "
            f"({rep.n_new} new in {rep.seconds:.1f} s, {rate:.1f} trials/s; evaluation {rep.eval_seconds:.1f} s, "
            f"tell + storage {rep.store_seconds:.1f} s)")
    if rep.worker:
        return head + f"\nworker done; `codesign sweep {cfg.path}` writes the results"
    from ..search.results import knee, load_results, pareto_front
    df = load_results(rep.out, ["trial", "feasible", "dataflow", *settings.objectives])     # not the JSON columns
    front = pareto_front(df) if len(df) else df
    lines = [head, f"{int(df['feasible'].sum()) if len(df) else 0} feasible, {len(front)} on the Pareto front "
                   f"({', '.join(settings.objectives)})",
             f"results: {rep.out}/ (trials.parquet, pareto.csv, pareto.png, hypervolume.png"
             f"{', study.journal' if not settings.is_rdb else ''})"]
    if rep.interrupted:
        default = Path("results") / cfg.name
        lines.append(f"continue: codesign sweep {cfg.path}" + ("" if Path(rep.out) == default else f" -o {rep.out}"))
    lines.append("next:")
    lines.append(f"  codesign pareto {rep.out}")
    if len(front):
        n = knee(front, settings.objectives)
        if "dataflow" in front and (front.loc[front["trial"] == n, "dataflow"] == "flexible").any():  # no RTL
            lines.append(f"  codesign pareto {rep.out} --trial {n}    (trial {n}, the front's knee: a flexible "
                         "array, which has no RTL generator)")
        else:
            lines.append(f"  codesign export {rep.out} --trial {n} -o build/{cfg.name}_t{n}    "
                         f"(trial {n}: the front's knee)")
    storage = settings.storage if settings.is_rdb else f"{rep.out}/study.journal"
    lines.append(f"  optuna-dashboard {storage}    (pip install optuna-dashboard)")
    return "\n".join(lines)


def cmd_pareto(args) -> int:
    import pandas as pd

    from ..report import table
    from ..search.results import load_meta, load_results, pareto_front

    df = load_results(args.results, text=False)       # the front's numbers: not the JSON columns
    meta = load_meta(args.results)
    if args.trial is not None:
        import yaml

        from ..search.results import pick_trial, trial_config
        n = pick_trial(args.results, args.trial)
        text = yaml.safe_dump(trial_config(args.results, n), sort_keys=False)
        print(f"# trial {n} of {args.results}: codesign evaluate|verify|export this file")
        print(text, end="")
        return 0
    objectives = args.objectives.split(",") if args.objectives else list(meta.objectives)
    front = pareto_front(df, objectives)
    cols = ["trial", *meta.free, *objectives, *[m for m in meta.metrics if m not in objectives]]
    front = front[cols]
    if args.csv:
        front.to_csv(sys.stdout, index=False)
        return 0
    print(f"{meta.name}: {len(front)} Pareto-optimal of {int(df['feasible'].sum())} feasible / {len(df)} trials "
          f"(minimizing {', '.join(objectives)})")
    align = "".join("r" if pd.api.types.is_numeric_dtype(front[c]) else "l" for c in cols)
    print(table(cols, [[_fmt(v) for v in r] for r in front.itertuples(index=False)], align))
    return 0


def _fmt(v) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        if v.is_integer() and abs(v) < 1e12:      # counts (cycles, bytes); products such as edp in .4g
            return f"{v:,.0f}"
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
