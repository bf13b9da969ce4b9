"""The ``codesign export`` and ``codesign verify`` subcommands.

``codesign export CONFIG -o DIR [--layer NAME]`` writes the Verilog of the
config's (fixed) architecture; with ``--layer``, memories are sized for that
layer's mapping and the host program is included. In place of CONFIG, a
sweep's results folder with ``--trial N`` takes that trial's architecture
and mappings (``codesign export results/<name> --trial N -o DIR``); so does
``verify``.

``codesign verify CONFIG [--layer NAME] [--scale-down]`` maps each layer
(as ``codesign evaluate`` does), runs it on the RTL in Amaranth's simulator
with random int8 operands and prints PASS/FAIL: outputs bit exact against
numpy and RTL cycles equal to the model's. Conv layers run as their im2col
GEMM; a layer over the cycle budget is refused, or with ``--scale-down``
shrunk (said on its line). Exit status 0 when every layer passes, 1 when
one fails, 2 on bad input (one-line error).
"""
from __future__ import annotations

import time

import numpy as np

from ..families.systolic.rtl.plan import RtlError

__all__ = ["register", "cmd_export", "cmd_verify"]

DEFAULT_MAX_CYCLES = 4000


def register(subparsers) -> None:
    """Add ``export`` and ``verify`` to an argparse subparsers object."""
    ex = subparsers.add_parser("export", help="Verilog, design.json/yaml and PORTS.md of a fixed design")
    ex.add_argument("config", help="YAML config with every hardware value fixed, or a results folder")
    ex.add_argument("--trial", help="with a results folder: the trial number to export, 'best' (the "
                                    "front's lowest energy-delay product) or 'knee' (nearest the ideal point)")
    ex.add_argument("-o", "--out", required=True, help="output directory")
    ex.add_argument("--layer", help="size the memories for this layer's mapping and include its host program")
    ex.set_defaults(func=cmd_export)
    ve = subparsers.add_parser("verify", help="simulate layers on the RTL: bit exact vs numpy, cycles vs model")
    ve.add_argument("config", help="YAML config with every hardware value fixed, or a results folder")
    ve.add_argument("--trial", help="with a results folder: the trial number to verify, 'best' or 'knee'")
    ve.add_argument("--layer", help="only this layer (default: every layer of the workload)")
    ve.add_argument("--scale-down", action="store_true",
                    help="shrink layers over the cycle budget instead of refusing them")
    ve.add_argument("--max-cycles", type=int, default=DEFAULT_MAX_CYCLES,
                    help=f"simulation budget per layer in model cycles (default {DEFAULT_MAX_CYCLES})")
    ve.add_argument("--seed", type=int, default=0, help="seed of the random operands")
    ve.add_argument("--vcd", help="write the simulation's waveforms to this VCD file")
    ve.set_defaults(func=cmd_verify)


def _layers(cfg, name: str | None):
    if name is None:
        return [layer for layer, _ in cfg.workload]
    try:
        return [cfg.workload.layer(name)]
    except KeyError:
        names = ", ".join(l.name for l, _ in cfg.workload)
        raise RtlError(f"--layer {name}: no such layer in {cfg.name} (layers: {names})") from None


def _mapped(cfg, arch, layer, trial_maps=None):
    """The mapping `codesign evaluate` uses for this layer (a sweep trial's own
    mapping when there is one), and its cost-model compute cycles."""
    from ..families.systolic.cost import evaluate_mapping
    from ..families.systolic.mapping import Mapping
    from ..families.systolic.mapper import best_mapping
    if trial_maps and layer.name in trial_maps:
        m = Mapping.build(layer, **trial_maps[layer.name])
        return m, int(evaluate_mapping(layer, arch, m)["compute_cycles"])
    res = best_mapping(layer, arch, cfg.objective, cfg.pins.get(layer.name))
    return res.mapping, int(res.cost["compute_cycles"])


def _load(args):
    """(config, architecture, trial mappings) of CONFIG, or of trial ``--trial``
    of a results folder (its mappings by layer name; empty for a config)."""
    from dataclasses import replace
    from pathlib import Path

    from ..config import load_config, parse_config
    if Path(args.config).is_dir():
        if args.trial is None:
            raise RtlError(f"{args.config}: a results folder needs --trial N (see `codesign pareto {args.config}`)")
        from ..search.results import load_design, load_meta, pick_trial
        meta = load_meta(args.config)
        trial = pick_trial(args.config, args.trial)
        design = load_design(args.config, trial)
        cfg = parse_config({"name": f"{meta.name}-trial{trial}", "workload": meta.workload,
                            "objective": meta.mapper_objective}, str(args.config))
        return replace(cfg, hardware={}), design.arch, design.mappings or {}
    if args.trial is not None:
        raise RtlError(f"--trial: only with a results folder, not with the config {args.config}")
    cfg = load_config(args.config)
    return cfg, cfg.arch, {}


def cmd_export(args) -> int:
    """``codesign export``: write the design files and list them."""
    from ..families.systolic.rtl.export import export_verilog
    from ..families.systolic.rtl.gemm_view import as_gemm

    cfg, arch, trial_maps = _load(args)
    if arch.flexible:
        raise RtlError("hardware.dataflow: a flexible array has no RTL generator (it builds os or ws/is "
                       "arrays); give a fixed dataflow")
    t0 = time.perf_counter()
    if args.layer:
        layer = _layers(cfg, args.layer)[0]
        run = as_gemm(layer, _mapped(cfg, arch, layer, trial_maps)[0])
        paths = export_verilog(arch, args.out, run.mapping, run.layer)
        what = f"memories sized for {layer.name} ({run.mapping.oneline()}{'; ' + run.note if run.note else ''})"
    else:
        paths = export_verilog(arch, args.out)
        what = "memories sized from glb_kib / acc_kib"
    print(f"{arch.describe()}: {what}, {time.perf_counter() - t0:.1f} s")
    for p in paths:
        print(f"  {p}")
    return 0


def cmd_verify(args) -> int:
    """``codesign verify``: PASS/FAIL per layer, RTL cycles beside model cycles."""
    from ..families.systolic.rtl.gemm_view import as_gemm, direct_conv, im2col, scale_down
    from ..families.systolic.rtl.plan import model_cycles
    from ..families.systolic.rtl.sim import Case, simulate_many, wrap

    cfg, arch, trial_maps = _load(args)
    if arch.flexible:
        raise RtlError("hardware.dataflow: a flexible array has no RTL generator (it builds os or ws/is "
                       "arrays); give a fixed dataflow")
    if args.max_cycles < 1:
        raise RtlError(f"--max-cycles: must be positive, got {args.max_cycles}")
    rng = np.random.default_rng(args.seed)
    lo, hi = -(1 << (arch.op_bits - 1)), 1 << (arch.op_bits - 1)
    runs = []
    for layer in _layers(cfg, args.layer):
        mapping, cost_cycles = _mapped(cfg, arch, layer, trial_maps)
        run = as_gemm(layer, mapping)
        full = model_cycles(arch, run.layer, run.mapping)
        if full > args.max_cycles:
            if not args.scale_down:
                raise RtlError(f"layer {layer.name!r}: {full} model cycles exceed the pysim budget of "
                               f"{args.max_cycles}; use --scale-down (or --max-cycles)")
            run = scale_down(arch, run, args.max_cycles)
        conv = None
        if layer.op in ("conv2d", "depthwise_conv2d") and full <= args.max_cycles:
            p = dict(layer.params)             # the host's im2col of real conv tensors
            x = rng.integers(lo, hi, (p["N"], p["C"], p["H"], p["W"]))
            k = rng.integers(lo, hi, (p["K"], p["C"] // p["groups"], p["R"], p["S"]))
            x.flat[0], k.flat[0] = lo, lo
            a, w = im2col(layer, x, k)
            conv = wrap(direct_conv(layer, x, k), arch.acc_bits)
        else:
            b = run.layer.bounds
            a = rng.integers(lo, hi, (b["M"], b["K"]))
            w = rng.integers(lo, hi, (b["K"], b["N"]))
            a.flat[0], w.flat[0] = lo, lo         # the extreme operand is always exercised
        runs.append((layer, run, cost_cycles, full, conv, Case(run.layer, run.mapping, a, w)))
    print(f"{arch.describe()}: {len(runs)} layer(s) on the RTL (Amaranth pysim)")
    t0 = time.perf_counter()
    results = simulate_many(arch, [r[-1] for r in runs], vcd=args.vcd)
    failed = 0
    for (layer, run, cost_cycles, full, conv, _), res in zip(runs, results):
        ok = res.bit_exact and res.cycle_exact and (conv is None or np.array_equal(res.outputs, conv))
        failed += not ok
        notes = [run.note] if run.note else []
        if conv is not None:
            notes.append(f"im2col of random conv tensors, {'=' if np.array_equal(res.outputs, conv) else '!='} "
                         "direct convolution")
        groups = layer.gemm_view()["G"]
        if full * groups != cost_cycles:
            notes.append(f"full layer: cost model {cost_cycles} cycles on the {layer.op} loop nest, "
                         f"{full * groups} on its GEMM view" + (f" ({groups} x {full})" if groups > 1 else ""))
        print(f"{'PASS' if ok else 'FAIL'}  {layer.name:<24} RTL {res.cycles:>7} cycles  model {res.model_cycles:>7}"
              f"  {'bit exact' if res.bit_exact else 'OUTPUTS DIFFER'}  {run.mapping.oneline()}"
              + (f"  ({'; '.join(notes)})" if notes else ""))
    print(f"{len(runs) - failed} passed, {failed} failed, {time.perf_counter() - t0:.1f} s simulated")
    return 1 if failed else 0
