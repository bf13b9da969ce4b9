"""``codesign map CONFIG``: the best mapping of each layer, as a loop nest.

Prints, per unique layer of the config's workload (or the one named by
``--layer``), the mapping the mapper picks on the config's architecture
(every hardware value fixed) under the objective, honouring the config's
pins: the loop nest, its cost breakdown, and how many mappings the search
considered and costed. ``--json`` prints the same as JSON.
"""
from __future__ import annotations

import json

from ..errors import UserError
from ..families.systolic.mapping import MappingError
from ..objective import OBJECTIVES, Objective

__all__ = ["register", "cmd_map"]


def register(subparsers) -> None:
    """Add the ``map`` subcommand to the ``codesign`` parser."""
    p = subparsers.add_parser("map", help="the best mapping of each layer on a fixed design, as a loop nest")
    p.add_argument("config", help="YAML config with every hardware value fixed")
    p.add_argument("--layer", metavar="NAME", help="only this layer (default: every unique layer)")
    p.add_argument("--objective", metavar="OBJ",
                   help=f"{', '.join(OBJECTIVES)} or latency=W1,energy=W2 (default: the config's)")
    p.add_argument("--strategy", choices=("exhaustive", "beam"), default="exhaustive",
                   help="exhaustive: the optimum (default); beam: the heuristic")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_map)


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


def cmd_map(args) -> int:
    """Run ``codesign map``; returns the exit status."""
    from ..config import load_config
    from ..families.systolic.mapper import best_mapping

    cfg = load_config(args.config)
    arch = cfg.arch
    objective = _objective(args.objective, cfg.objective)
    layers = list(cfg.workload)
    if args.layer is not None:
        try:
            one = cfg.workload.layer(args.layer)
        except KeyError:
            names = ", ".join(l.name for l, _ in layers)
            raise UserError(f"--layer: no layer {args.layer!r} in the workload (layers: {names})") from None
        layers = [(l, c) for l, c in layers if l is one]
    results = []
    for layer, count in layers:
        try:
            res = best_mapping(layer, arch, objective, cfg.pins.get(layer.name), strategy=args.strategy)
        except MappingError as e:
            raise UserError(str(e)) from None
        results.append((layer, count, res))
    if args.json:
        print(json.dumps({"config": cfg.name, "objective": str(objective), "hardware": arch.describe(),
                          "layers": [_as_json(l, c, r, objective) for l, c, r in results]}, indent=1))
        return 0
    from ..families.systolic.arch import tech_of
    unit = "pJ" if tech_of(arch).energy_unit == "pJ" else "x MAC"
    print(f"{cfg.name}: {arch.describe()}; objective {objective}")
    for layer, count, res in results:
        print()
        print(_as_text(layer, count, res, unit))
    if len(results) > 1:
        lat = sum(r.cost["latency_cycles"] * c for _, c, r in results)
        en = sum(r.cost["energy_pj"] * c for _, c, r in results)
        secs = sum(r.seconds for _, _, r in results)
        print(f"\ntotal: latency {lat:,} cycles, energy {en:.4g} {unit}; mapped {len(results)} layers in {secs:.2f} s")
    return 0


def _as_text(layer, count, res, unit: str = "pJ") -> str:
    c = res.cost
    parts = ", ".join(f"{k[7:-3]} {v:.3g}" for k, v in c.items() if k.startswith("energy_") and k != "energy_pj")
    return "\n".join([
        f"layer {layer.name}: {layer.describe()}" + (f" (x{count})" if count > 1 else ""),
        str(res.mapping),
        f"latency {c['latency_cycles']:,} cycles (compute {c['compute_cycles']:,}, stall {c['stall_cycles']:,}); "
        f"energy {c['energy_pj']:.4g} {unit} ({parts})",
        f"utilization {c['utilization']:.3f}, mapping efficiency {c['mapping_efficiency']:.3f}, "
        f"DRAM {c['dram_bytes']:,.0f} B, glb tile {c['glb_bytes_used']:,.0f} B, acc tile {c['acc_bytes_used']:,.0f} B",
        f"search ({res.strategy}{'' if res.exact else ', not proven optimal'}): {res.considered:,} mappings "
        f"considered, {res.evaluated:,} costed by the cost model, {res.bounded:,} bounded, {res.seconds:.3f} s",
    ])


def _as_json(layer, count, res, objective) -> dict:
    return {"name": layer.name, "op": layer.op, "count": count, "objective": str(objective),
            "mapping": res.mapping.to_dict(), "mapping_str": res.mapping.oneline(), "nest": str(res.mapping),
            "cost": res.cost, "considered": res.considered, "evaluated": res.evaluated,
            "bounded": res.bounded, "seconds": res.seconds, "strategy": res.strategy, "exact": res.exact}
