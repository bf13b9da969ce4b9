"""AccelForge 1.0.467 (PyPI accelforge) on the shared cases; prints one JSON line per case.

Run in its own environment (benchmarks/peers/setup.sh accelforge; Python >= 3.12, Graphviz's dot):
``benchmarks/peers/.envs/accelforge/bin/python benchmarks/peers/run_accelforge.py [--case NAME]``

The shared architecture in AccelForge's format: MainMemory, a 256 KiB
GlobalBuffer (all tensors), a 16x16 fanout (one side reuses inputs, the
other weights: an os array), a register keeping the output, the MAC.
AccelForge charges memory actions per bit (`bits_per_action` 1), so the
table's per-word energies are divided by 8 (8-bit values, outputs
included). Throughputs are unlimited, so its latency is the compute bound.
One process (`set_n_parallel_jobs(1)`) so that CPU seconds compare; the
first layer's time includes AccelForge's warm-up (`cold` in the JSON).
`evaluations`: the mappings it reports as evaluated (print_number_of_pmappings).
``--pinned OURS.jsonl`` (run_ours.py's output): no search; AccelForge costs
codesign's mapping of each layer (pinned.accelforge_pinned, Spec.evaluate_mapping).
"""
import contextlib
import io
import json
import os
import re
import resource
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402
import pinned  # noqa: E402

import yaml  # noqa: E402
from accelforge.frontend.mapping.mapping import Compute, Mapping, Spatial, Storage, Temporal  # noqa: E402
from accelforge.frontend.spec import Spec  # noqa: E402
from accelforge.model.main import InvalidMappingError  # noqa: E402
from accelforge.util.parallel import set_n_parallel_jobs  # noqa: E402


def cpu_seconds():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def arch_yaml(glb_bits=cases.GLB_KIB * 1024 * 8):
    per_bit = {k: v / cases.OP_BITS for k, v in cases.ENERGY_PJ.items()}

    def memory(name, size, e, keep, may_keep=None):
        t = {"keep": keep} if may_keep is None else {"keep": keep, "may_keep": may_keep}
        return (f"  - !Memory\n    name: {name}\n    size: {size}\n    leak_power: 0\n    area: 0\n"
                f"    actions:\n    - {{name: read, energy: {e}, throughput: inf}}\n"
                f"    - {{name: write, energy: {e}, throughput: inf}}\n    tensors: {json.dumps(t)}\n")
    return ("arch:\n  nodes:\n"
            + memory("MainMemory", "inf", per_bit["dram"], "~Intermediates", "All")
            + memory("GlobalBuffer", glb_bits, per_bit["glb"], "~MainMemory.tensors", "All")
            + "  - !Container\n    name: ProcessingElement\n    spatial:\n"
              f"    - {{name: reuse_input, fanout: {cases.COLS}, reuse: input, min_usage: 1}}\n"
              f"    - {{name: reuse_weight, fanout: {cases.ROWS}, reuse: weight, min_usage: 1}}\n"
            + memory("Register", "output.bits_per_value if output else 0", per_bit["reg"], "output")
            + "  - !Compute\n    name: MAC\n    leak_power: 0\n    area: 0\n"
              f"    actions:\n    - {{name: compute, energy: {cases.ENERGY_PJ['mac']}, throughput: 1}}\n")


def workload_yaml(spec):
    """One layer as an einsum (a conv input axis is p*stride + r over the padded input)."""
    if spec["op"] == "conv":
        s = spec["stride"]
        shape = {"k": spec["K"], "c": spec["C"], "p": spec["P"], "q": spec["Q"], "r": spec["R"], "s": spec["S"]}
        accesses = [dict(name="I", projection={"C": "c", "H": f"p*{s} + r", "W": f"q*{s} + s"}),
                    dict(name="Wt", projection=["k", "c", "r", "s"]),
                    dict(name="O", projection=["k", "p", "q"], output=True)]
    else:
        shape = {"m": spec["M"], "n": spec["N"], "k": spec["K"]} | ({"b": spec["B"]} if spec["B"] > 1 else {})
        b = ["b"] if spec["B"] > 1 else []
        accesses = [dict(name="I", projection=b + ["m", "k"]), dict(name="Wt", projection=b + ["k", "n"]),
                    dict(name="O", projection=b + ["m", "n"], output=True)]
    return dict(workload=dict(
        iteration_space_shape={d: f"0 <= {d} < {n}" for d, n in shape.items()},
        bits_per_value={"All": cases.OP_BITS},
        einsums=[dict(name="L", tensor_accesses=accesses, renames=dict(input="I", weight="Wt", output="O"))]))


def run_layer(spec, folder):
    """(CPU seconds, evaluations, cycles, energy_pj, mapping) of AccelForge's best mapping of one layer."""
    paths = {k: os.path.join(folder, f"{spec['name']}.{k}.yaml") for k in ("arch", "workload")}
    with open(paths["arch"], "w") as f:
        f.write(arch_yaml())
    with open(paths["workload"], "w") as f:
        yaml.safe_dump(workload_yaml(spec), f, sort_keys=False)
    log = io.StringIO()
    t0 = cpu_seconds()
    with contextlib.redirect_stdout(log):
        m = Spec.from_yaml(paths["arch"], paths["workload"]).map_workload_to_arch(
            print_progress=False, print_number_of_pmappings=True)
    dt = cpu_seconds() - t0
    found = re.search(r"Total: .*?([0-9.e+]+) \(1/[0-9.e+]+\) evaluated", log.getvalue())
    evaluated = int(float(found.group(1))) if found else None
    return dt, evaluated, float(m.latency()), float(m.energy()), loop_nest(m.mapping())


def pinned_mapping(spec, ours):
    """codesign's mapping of a layer (its to_dict form) as AccelForge's Mapping (pinned.accelforge_pinned)."""
    nodes = []
    for n in pinned.accelforge_pinned(spec, ours):
        if n[0] == "storage":
            nodes.append(Storage(component=n[1], tensors=n[2]))
        elif n[0] == "temporal":
            nodes.append(Temporal(rank_variable=n[1], tile_shape=n[2]))
        else:
            nodes.append(Spatial(rank_variable=n[1], tile_shape=n[2], name=n[3], component="ProcessingElement"))
    return Mapping(nodes=nodes + [Compute(component="MAC", einsum="L")])


def run_pinned(spec, ours, folder):
    """(CPU seconds, 1, cycles, energy_pj, actions) of AccelForge costing codesign's mapping of one layer.
    Where AccelForge finds the mapping over the buffer's capacity (a conv's input tile with its halo per
    tile, stride-2 skipped pixels included; codesign counts the pixels a tile reads), it is costed again
    with an unbounded buffer (the energy table does not depend on the size) and ``over_bits`` says by how much."""
    paths = {k: os.path.join(folder, f"{spec['name']}.{k}.yaml") for k in ("arch", "workload")}
    with open(paths["workload"], "w") as f:
        yaml.safe_dump(workload_yaml(spec), f, sort_keys=False)
    t0 = cpu_seconds()
    over = None
    for glb_bits in (cases.GLB_KIB * 1024 * 8, "inf"):
        with open(paths["arch"], "w") as f:
            f.write(arch_yaml(glb_bits))
        s = Spec.from_yaml(paths["arch"], paths["workload"])
        s.mapping = pinned_mapping(spec, ours)
        try:
            r = s.evaluate_mapping()
            break
        except InvalidMappingError as e:
            found = re.search(r"uses ([0-9.]+) bits of GlobalBuffer", str(e))
            if glb_bits == "inf" or not found:
                raise
            over = float(found.group(1)) - cases.GLB_KIB * 1024 * 8
    dt = cpu_seconds() - t0
    acts = {"/".join(k): float(v) for k, v in r.actions(per_component=True, per_tensor=True).items()}
    if over is not None:
        acts["over_bits"] = over
    return dt, 1, float(r.latency()), float(r.energy()), acts


def loop_nest(mapping):
    """The mapping's nodes, outermost first: [storage, component, tensors] or [temporal|spatial, rank, tile_shape, name]."""
    out = []
    for n in mapping.nodes:
        kind = type(n).__name__
        if kind == "Storage":
            out.append(["storage", n.component, sorted(map(str, n.tensors))])
        elif kind in ("Temporal", "Spatial"):
            out.append([kind.lower(), str(n.rank_variable), int(n.tile_shape), getattr(n, "name", None)])
    return out


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(cases.CASES))
    ap.add_argument("--layers", type=int, default=0, help="run only the first N layers of each case (0: all)")
    ap.add_argument("--pinned", metavar="OURS_JSONL", help="cost codesign's mappings (run_ours.py's output) instead")
    args = ap.parse_args(argv)
    ours = {}
    if args.pinned:
        with open(args.pinned) as f:
            ours = {r["case"]: r for r in map(json.loads, f) if r.get("tool") == "codesign"}
    set_n_parallel_jobs(1)
    cold = True
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)            # AccelForge writes a mapping.svg into the working directory
        for case in args.case or list(cases.CASES):
            specs = cases.CASES[case][:args.layers or None]
            if args.pinned and case not in ours:
                continue
            out = dict(tool="accelforge-pinned" if args.pinned else "accelforge", version="1.0.467", case=case,
                       seconds=0.0, evaluations=0, cycles=0.0, energy_pj=0.0, layers=[], subset=len(specs) < len(cases.CASES[case]))
            for i, spec in enumerate(specs):
                if args.pinned:
                    dt, n, cyc, e, mp = run_pinned(spec, ours[case]["layers"][i]["mapping"], folder)
                else:
                    dt, n, cyc, e, mp = run_layer(spec, folder)
                out["seconds"] += dt
                out["evaluations"] += n or 0
                out["cycles"] += spec["count"] * cyc
                out["energy_pj"] += spec["count"] * e
                out["layers"].append(dict(name=spec["name"], count=spec["count"], seconds=dt, evaluations=n,
                                          cycles=cyc, energy_pj=e, cold=cold, **{"actions" if args.pinned else "mapping": mp}))
                cold = False
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
