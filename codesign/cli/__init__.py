"""The ``codesign`` command: evaluate, map, sweep, pareto, export, verify."""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from ..errors import UserError

__all__ = ["main"]

#: modules adding subcommands through ``register(subparsers)``
COMMAND_MODULES = ("codesign.cli.map", "codesign.cli.sweep", "codesign.cli.rtl", "codesign.cli.onnx_import")


def _fmt_int(v: float) -> str:
    return f"{v:,.0f}"


def cmd_evaluate(args) -> int:
    from ..config import load_config
    from ..families.systolic.network import evaluate_network

    cfg = load_config(args.config)
    arch = cfg.arch
    res = evaluate_network(cfg.workload, arch, objective=cfg.objective, pins=cfg.pins)
    if args.json:
        layers = [{"name": r.layer.name, "op": r.layer.op, "count": r.count, "dataflow": r.dataflow,
                   "macs": r.cost["macs"],
                   "compute_cycles": r.cost["compute_cycles"], "stall_cycles": r.cost["stall_cycles"],
                   "latency_cycles": r.cost["latency_cycles"], "energy_pj": r.cost["energy_pj"],
                   "energy_parts_pj": {k[7:-3]: v for k, v in r.cost.items()
                                       if k.startswith("energy_") and k != "energy_pj"},
                   "utilization": r.cost["utilization"], "mapping_efficiency": r.cost["mapping_efficiency"],
                   "mapping": r.mapping.to_dict(), "mapping_str": r.mapping.oneline()}
                  for r in res.layers]
        print(json.dumps({"config": cfg.name, "hardware": _arch_dict(arch), "layers": layers,
                          "total": res.totals()}, indent=1))
        return 0
    from ..families.systolic.report import network_table
    print(network_table(cfg, res, nests=args.nests))
    return 0


def _arch_dict(arch) -> dict:
    from dataclasses import asdict
    d = asdict(arch)
    if isinstance(d["tech"], tuple):
        d["tech"] = dict(d["tech"])
    return d


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="codesign", description="DNN accelerator hardware/software co-design.")
    sub = p.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="cost of a fixed design on a workload, layer by layer")
    ev.add_argument("config", help="YAML config with every hardware value fixed")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.add_argument("--nests", action="store_true", help="also print each layer's mapping as a loop nest")
    ev.set_defaults(func=cmd_evaluate)
    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``codesign`` console script."""
    from ..families.systolic.arch import ArchError
    from ..tech import TechError
    from ..families.systolic.mapping import MappingError
    from ..workload import WorkloadError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (UserError, WorkloadError, ArchError, MappingError, TechError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
