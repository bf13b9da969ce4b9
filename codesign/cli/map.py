"""``codesign evaluate CONFIG`` and ``codesign map CONFIG``.

evaluate: the cost of a fixed design on its network, layer by layer (a
table, or ``--json``). map: each layer's plan in full (for the systolic
array: the loop nest, its cost breakdown, and what the mapper searched),
honouring the config's pins. Both plan through the config's family
(`Family.map_network`); a design that cannot run is a one-line error.
"""
from __future__ import annotations

import json

from ..errors import UserError
from ..objective import OBJECTIVES, Objective

__all__ = ["register", "cmd_evaluate", "cmd_map"]


def register(subparsers) -> None:
    """Add the ``evaluate`` and ``map`` subcommands to the ``codesign`` parser."""
    ev = subparsers.add_parser("evaluate", help="cost of a fixed design on a workload, layer by layer")
    ev.add_argument("config", help="YAML config with every hardware value fixed")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.add_argument("--nests", action="store_true", help="also print each layer's mapping as a loop nest")
    ev.set_defaults(func=cmd_evaluate)
    p = subparsers.add_parser("map", help="the best mapping of each layer on a fixed design, as a loop nest")
    p.add_argument("config", help="YAML config with every hardware value fixed")
    p.add_argument("--layer", metavar="NAME", help="only this layer (default: every unique layer)")
    p.add_argument("--objective", metavar="OBJ",
                   help=f"{', '.join(OBJECTIVES)} or latency=W1,energy=W2 (default: the config's)")
    p.add_argument("--strategy", choices=("exhaustive", "beam"), default="exhaustive",
                   help="systolic mapper: exhaustive (the optimum, default) or beam (the heuristic)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_map)


def _plan(cfg, network, objective, **options):
    """The family's plan of the network on the config's (fixed) architecture; one line when it cannot run."""
    arch = cfg.arch
    cost = cfg.family.map_network(network, arch, objective, cfg.pins, **options)
    if not cost.feasible:
        raise UserError(cost.reason)
    return arch, cost


def cmd_evaluate(args) -> int:
    """Run ``codesign evaluate``; returns the exit status."""
    from ..config import load_config
    cfg = load_config(args.config)
    arch, cost = _plan(cfg, cfg.network, cfg.objective)
    if args.json:
        print(json.dumps({"config": cfg.name, "hardware": cfg.family.arch_values(arch),
                          **cfg.family.to_json(cost)}, indent=1))
        return 0
    print(cfg.family.report(cost, title=f"{cfg.name}: {cfg.network.name}", nests=args.nests))
    return 0


def _objective(text: str | None, default) -> Objective:
    spec = default if text is None else text
    if isinstance(spec, str) and "=" in spec:
        w = {}
        for part in spec.split(","):
            k, _, v = part.partition("=")
            try:
                w[k.strip()] = float(v)
            except ValueError:
                raise UserError(f"--objective: bad weight {part!r} (e.g. latency=1,energy=0.001)") from None
        spec = w
    try:
        return Objective.parse(spec)
    except ValueError as e:
        raise UserError(str(e).replace("objective", "--objective" if text is not None else "objective", 1)) from None


def _only(network, name: str):
    """The network of the one MAC layer `name` (its unique shape's first name or an alias)."""
    from ..workload import Network
    w = network.unique()
    try:
        layer = w.layer(name)
    except KeyError:
        names = ", ".join(l.name for l, _ in w)
        raise UserError(f"--layer: no layer {name!r} in the workload (layers: {names})") from None
    count = dict(zip((l.name for l in w.layers), w.counts))[layer.name]
    return Network.chain(network.name, [(layer, count)])


def cmd_map(args) -> int:
    """Run ``codesign map``; returns the exit status."""
    from ..config import load_config
    cfg = load_config(args.config)
    objective = _objective(args.objective, cfg.objective)
    network = cfg.network if args.layer is None else _only(cfg.network, args.layer)
    arch, cost = _plan(cfg, network, objective, strategy=args.strategy)
    if args.json:
        print(json.dumps({"config": cfg.name, "objective": str(objective), "hardware": arch.describe(),
                          "layers": cfg.family.explain(cost, title="", objective=objective, as_json=True)},
                         indent=1))
        return 0
    print(cfg.family.explain(cost, title=f"{cfg.name}: {arch.describe()}; objective {objective}",
                             objective=objective))
    return 0
