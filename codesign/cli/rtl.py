"""``codesign export`` and ``codesign verify``: the chosen design as RTL.

``codesign export CONFIG -o DIR [--layer NAME]`` writes the Verilog of the
config's (fixed) design; with ``--layer``, memories are sized for that
layer's plan and the host program is included; ``--soc`` (systolic)
exports the SoC instead: array, AXI4 DMA, AXI4-Lite registers and tile
program (descriptors with ``--layer``). In place of CONFIG, a
sweep's results folder with ``--trial N|best|knee`` takes that trial's
hardware and plans (``codesign export results/<name> --trial N -o DIR``);
so does ``verify``.

``codesign verify CONFIG [--layer NAME] [--scale-down] [--sim auto|pysim|verilator] [--soc]``
plans the network (as ``codesign evaluate`` does), simulates it on the RTL
and prints PASS/FAIL per layer with RTL and model cycles side by side
(``--sim verilator``: every layer at full size on the Verilated Verilog;
by default a layer over the pysim budget goes there). ``--soc`` runs each
layer's tile program on the SoC (DMA, DRAM at ``dram_bw_bytes``): CYCLES
incl. DRAM stalls beside the model's latency in ``soc`` timing. Exit status 0
when every layer passes, 1 when one fails, 2 on bad input (one line).
Both go through the family (`Family.generate`).
"""
from __future__ import annotations

import inspect
import time
from pathlib import Path

from ..errors import UserError

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
    ex.add_argument("--soc", action="store_true", help="systolic: the SoC (array + AXI4 DMA + AXI4-Lite "
                                                       "registers and tile program) instead of the bare array")
    ex.set_defaults(func=cmd_export)
    ve = subparsers.add_parser("verify", help="simulate layers on the RTL: bit exact vs numpy, cycles vs model")
    ve.add_argument("config", help="YAML config with every hardware value fixed, or a results folder")
    ve.add_argument("--trial", help="with a results folder: the trial number to verify, 'best' or 'knee'")
    ve.add_argument("--layer", action="append",
                    help="only this layer; repeat for several (default: every layer of the workload)")
    ve.add_argument("--scale-down", action="store_true",
                    help="shrink layers over the cycle budget instead of refusing them")
    ve.add_argument("--max-cycles", type=int, default=DEFAULT_MAX_CYCLES,
                    help=f"simulation budget per layer in model cycles (default {DEFAULT_MAX_CYCLES})")
    ve.add_argument("--seed", type=int, default=0, help="seed of the random operands")
    ve.add_argument("--vcd", help="write the simulation's waveforms to this VCD file (pysim)")
    ve.add_argument("--sim", choices=("auto", "pysim", "verilator"), default=None,
                    help="simulator: pysim (Amaranth, layers within --max-cycles), verilator (every layer at "
                         "full size, the build cached per design) or auto (default: pysim, Verilator for a layer "
                         "over the budget)")
    ve.add_argument("--soc", action="store_true",
                    help="systolic: run each layer's tile program on the SoC (AXI4 DMA, DRAM at dram_bw_bytes): "
                         "CYCLES incl. DRAM stalls vs the model's latency in timing soc, outputs read from DRAM")
    ve.set_defaults(func=cmd_verify)


def _config(args):
    """The config of CONFIG, or of trial ``--trial`` of a results folder (its
    hardware with every layer's plan pinned: `search.results.trial_config`)."""
    from ..config import load_config, parse_config
    if Path(args.config).is_dir():
        if args.trial is None:
            raise UserError(f"{args.config}: a results folder needs --trial N (see `codesign pareto {args.config}`)")
        from ..search.results import load_meta, pick_trial, trial_config
        trial = pick_trial(args.config, args.trial)
        raw = trial_config(args.config, trial)
        raw["name"] = f"{load_meta(args.config).name}-trial{trial}"
        return parse_config(raw, str(args.config))
    if args.trial is not None:
        raise UserError(f"--trial: only with a results folder, not with the config {args.config}")
    return load_config(args.config)


def _design(args):
    """(family, architecture, Design) of the config's design, planned as ``evaluate`` plans it."""
    cfg = _config(args)
    arch = cfg.arch
    if arch.family == "systolic" and arch.flexible:       # before the mapper runs three dataflows
        raise UserError("hardware.dataflow: a flexible array has no RTL generator (it builds os or ws/is "
                        "arrays); give a fixed dataflow")
    cost = cfg.family.map_network(cfg.network, arch, cfg.objective, cfg.pins)
    if not cost.feasible:
        raise UserError(cost.reason)
    return cfg.family, arch, cfg.family.generate(arch, cost)


def cmd_export(args) -> int:
    """``codesign export``: write the design files and list them."""
    family, arch, design = _design(args)
    t0 = time.perf_counter()
    if args.soc and arch.family != "systolic":
        raise UserError(f"--soc: only the systolic family has an SoC wrapper, not {arch.family}")
    what, paths = design.export(args.out, args.layer, **({"soc": True} if args.soc else {}))
    print(f"{arch.describe()}: {what}, {time.perf_counter() - t0:.1f} s")
    for p in paths:
        print(f"  {p}")
    return 0


def cmd_verify(args) -> int:
    """``codesign verify``: PASS/FAIL per layer, RTL cycles beside model cycles."""
    if args.max_cycles < 1:
        raise UserError(f"--max-cycles: must be positive, got {args.max_cycles}")
    family, arch, design = _design(args)
    layers, extra = args.layer, {}
    several = "sim" in inspect.signature(design.verify).parameters     # the systolic family's verify
    if layers and len(layers) > 1 and not several:
        raise UserError(f"--layer: the {family.name} family verifies one layer or all; give --layer once")
    if args.sim is not None:
        if not several:
            raise UserError(f"--sim: the {family.name} family has one simulator (pysim); leave --sim out")
        extra["sim"] = args.sim
    if args.soc:
        if not several:
            raise UserError(f"--soc: only the systolic family has an SoC wrapper, not {family.name}")
        extra["soc"] = True
    report = design.verify(layer=layers[0] if layers and len(layers) == 1 else layers, scale_down=args.scale_down,
                           max_cycles=args.max_cycles, seed=args.seed, vcd=args.vcd, **extra)
    for line in report.lines():
        print(line)
    return 1 if report.failed else 0
