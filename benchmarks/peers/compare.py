"""Side-by-side comparison of codesign's mapper with ZigZag, SCALE-Sim and AccelForge (issue 15).

Run (after benchmarks/peers/setup.sh), from the checkout root:
``PYTHONPATH=. .venv/bin/python benchmarks/peers/compare.py [--repeats 3] [--save DIR | --load DIR]``

Each peer runs in its own environment (benchmarks/peers/.envs/<tool>) and
prints JSON lines; codesign runs here. A tool whose environment is missing
or whose run fails gets one line saying why, and `-` in the table. The
table: CPU seconds to the best mapping (codesign: median of --repeats;
peers: one run each, they take minutes), evaluations per CPU-second, the
cycles and energy each reports, and the ratio ours/theirs. Cross-costing:
SCALE-Sim's schedule and ZigZag's loop nests costed by codesign's model, and
codesign's mappings costed by ZigZag and AccelForge (run_<tool>.py --pinned).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases  # noqa: E402
import run_ours  # noqa: E402

from codesign.families.systolic.cost import evaluate_mapping  # noqa: E402
from codesign.families.systolic.mapping import Mapping  # noqa: E402

PEERS = ("zigzag", "scalesim", "accelforge")
PINNED = ("zigzag", "accelforge")      # the peers that can cost codesign's mapping (pinned.py)
#: ZigZag dim -> codesign dim (conv: ZigZag's ONNX names; gemm: I[d][c] * W[c][k])
ZZ_DIMS = {"conv": {"B": "N", "K": "K", "C": "C", "OY": "P", "OX": "Q", "FY": "R", "FX": "S"},
           "gemm": {"D": "M", "K": "N", "C": "K", "H": "B"}}


def run_peer(tool, save, pinned=None):
    """The JSON lines of one peer's run (with `pinned`, a JSONL of codesign's rows: its --pinned run),
    or (None, why)."""
    py = os.path.join(HERE, ".envs", tool, "bin", "python")
    if not os.path.exists(py):
        return None, f"{tool}: not installed ({py} missing; run benchmarks/peers/setup.sh {tool})"
    extra = ["--pinned", pinned] if pinned else []
    p = subprocess.run([py, os.path.join(HERE, f"run_{tool}.py")] + extra, capture_output=True, text=True)
    if p.returncode:
        return None, f"{tool}{' --pinned' if pinned else ''}: run failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}"
    if save:
        with open(os.path.join(save, f"{tool}{'-pinned' if pinned else ''}.jsonl"), "w") as f:
            f.write(p.stdout)
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")], None


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def ours(repeats):
    """codesign's rows, seconds the median over repeats."""
    runs = [{c: run_ours.run_case(c) for c in cases.CASES} for _ in range(repeats)]
    out = runs[-1]
    for c in out:
        out[c]["seconds"] = statistics.median(r[c]["seconds"] for r in runs)
    return out


def zigzag_mappings(layer, spec, zz):
    """ZigZag's loop nest as codesign Mappings: D1 -> rows, D2 -> cols, the output register's loops
    -> pe, then glb, then dram. ZigZag has a buffer boundary per operand, codesign one for all tensors:
    one candidate per boundary between the innermost and the outermost operand's (codesign keeps the
    best feasible one; an operand kept on chip across outer loops is reused by its reuse rule)."""
    import re
    names = ZZ_DIMS["conv" if spec["op"] == "conv" else "gemm"]
    sp = re.findall(r"\((\w+), ([0-9.]+)\)", zz["spatial"].split("W:")[0])
    rows = {names[d]: math.ceil(float(f) - 1e-9) for d, f in sp if d != "K"}   # uneven unrolling: ceil
    cols = {names[d]: math.ceil(float(f) - 1e-9) for d, f in sp if d == "K"}
    tm = zz["temporal"]
    flat = [loop for lvl in tm["O"] for loop in lvl]          # innermost first
    n_pe = len(tm["O"][0])
    on_chip = [sum(len(lvl) for lvl in levels[:-1]) for levels in tm.values()]
    out = []
    for n_on_chip in range(max(min(on_chip), n_pe), max(on_chip) + 1):
        f, order = {"pe": {}, "glb": {}, "dram": {}}, {"pe": [], "glb": [], "dram": []}
        for i, (d, n) in reversed(list(enumerate(flat))):     # outermost first
            lvl = "pe" if i < n_pe else "glb" if i < n_on_chip else "dram"
            d = names[d]
            f[lvl][d] = f[lvl].get(d, 1) * n
            if d not in order[lvl]:
                order[lvl].append(d)
        try:
            out.append(Mapping.build(layer, rows=rows, cols=cols, pe=f["pe"], glb=f["glb"], order=order))
        except Exception:
            pass
    return out


def accelforge_mapping(layer, nest):
    """AccelForge's loop nest as codesign Mappings: the loops above a GlobalBuffer storage node -> dram
    (one candidate per such node: AccelForge places each tensor's, codesign has one boundary), from
    there to the spatial fanout -> glb, the fanout (reuse_weight: rows, reuse_input: cols), below it
    -> pe. Each loop's factor is its parent tile over its tile_shape."""
    if not isinstance(nest, list):
        return []
    glb_nodes = [i for i, n in enumerate(nest) if n[0] == "storage" and n[1] == "GlobalBuffer"]
    out = []
    for boundary in glb_nodes:
        tile = dict(layer.bounds)
        lv = {k: ({}, []) for k in ("dram", "glb", "rows", "cols", "pe")}
        level = "dram"
        for i, node in enumerate(nest):
            if node[0] == "storage":
                level = "glb" if i == boundary else level
                continue
            kind, rank, shape, name = node
            d = rank.upper()
            if d not in tile:
                return []
            f = -(-tile[d] // max(shape, 1))
            tile[d] = shape
            at = level
            if kind == "spatial":
                at, level = ("rows" if name == "reuse_weight" else "cols"), "pe"
            fs, order = lv[at]
            fs[d] = fs.get(d, 1) * f
            if d not in order:
                order.append(d)
        try:
            out.append(Mapping.build(layer, dram=lv["dram"][0] or None, glb=lv["glb"][0], rows=lv["rows"][0],
                                     cols=lv["cols"][0], pe=lv["pe"][0],
                                     order={k: lv[k][1] for k in ("dram", "glb", "pe")}))
        except Exception:
            pass
    return out


def costed(case, rows, convert):
    """(cycles, energy_pj, note) of a peer's per-layer mappings costed by codesign (ideal timing);
    the note counts the layers whose codesign energy is within 1% of the peer's own."""
    ideal = run_ours.arch("ideal")
    cyc = e = 0
    ratios = []
    for (layer, spec), pl in zip(run_ours.layers(case), rows["layers"]):
        cs = [evaluate_mapping(layer, ideal, m, check_dataflow=False) for m in convert(layer, spec, pl["mapping"])]
        ok = [c for c in cs if c["infeasible"] == "ok"]
        if not ok:
            why = f"infeasible here ({cs[0]['infeasible']})" if cs else "cannot be expressed"
            return None, None, f"{spec['name']}: {why}"
        c = min(ok, key=lambda c: c["energy_pj"])
        ratios.append(c["energy_pj"] / pl["energy_pj"])
        cyc += spec["count"] * c["latency_cycles"]
        e += spec["count"] * c["energy_pj"]
    n = len(rows["layers"])
    close = sum(abs(r - 1) <= 0.01 for r in ratios)
    note = f"{close}/{n} layers within 1% of the peer's own energy"
    if close < n:
        note += " (the others: tensors at different levels, outside codesign's one buffer boundary)"
    return cyc, e, note + (" (subset)" if rows.get("subset") else "")


def cross_cost(peers):
    """{case: {what: (cycles, energy_pj, note)}}: peers' mappings costed by codesign."""
    out = {}
    for case in cases.CASES:
        row = {}
        sched = run_ours.run_case(case, "scalesim")
        ss = peers.get("scalesim", {}).get(case)
        row["scalesim schedule"] = (sched["cycles"], sched["energy_pj"], "its os schedule on the GEMM view",
                                    ss)
        for tool, convert in (("zigzag", zigzag_mappings), ("accelforge", lambda l, s, m: accelforge_mapping(l, m))):
            r = peers.get(tool, {}).get(case)
            if r:
                row[f"{tool} mapping"] = costed(case, r, convert) + (r,)
        out[case] = row
    return out


def fmt(x, unit=""):
    if x is None:
        return "-"
    if unit == "uJ":
        return f"{x / 1e6:,.2f}"
    if unit == "s" or abs(x) < 100:
        return f"{x:.3g}"
    return f"{x:,.0f}"


def table(our, peers, why):
    """The side-by-side table, one row per case and tool (markdown)."""
    lines = ["| case | tool | CPU s to best | evaluations | evals/CPU-s | cycles | energy uJ "
             "| their s / our s | cycles ours/theirs | energy ours/theirs |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for case in cases.CASES:
        o = our[case]
        lines.append(f"| {case} | codesign | {fmt(o['seconds'], 's')} | {o['evaluations']:,} | "
                     f"{fmt(o['evaluations'] / o['seconds'])} | {fmt(o['cycles'])} | {fmt(o['energy_pj'], 'uJ')} "
                     f"| 1 | 1 | 1 |")
        for tool in PEERS:
            r = peers.get(tool, {}).get(case)
            if r is None:
                lines.append(f"| {case} | {tool} | - | - | - | - | - | - | - | - |")
                continue
            sub = " (subset)" if r.get("subset") else ""
            lines.append(
                f"| {case} | {tool}{sub} | {fmt(r['seconds'], 's')} | {r['evaluations']:,} | "
                f"{fmt(r['evaluations'] / r['seconds'] if r['seconds'] else None)} | {fmt(r['cycles'])} | "
                f"{fmt(r['energy_pj'], 'uJ')} | {r['seconds'] / o['seconds']:,.0f}x | "
                f"{o['cycles'] / r['cycles']:.3f} | {o['energy_pj'] / r['energy_pj']:.3f} |")
    return "\n".join(lines + [""] + [f"- {w}" for w in why])


def cross_table(cross):
    """Each peer's best mapping costed by codesign beside what the peer reports for it (markdown)."""
    lines = ["| case | mapping | codesign cycles | peer's cycles | codesign energy uJ | peer's energy uJ "
             "| energy codesign/peer | note |", "|---|---|---|---|---|---|---|---|"]
    for case, rows in cross.items():
        for what, (cyc, e, note, r) in rows.items():
            ratio = f"{e / r['energy_pj']:.4f}" if e is not None and r else "-"
            lines.append(f"| {case} | {what} | {fmt(cyc)} | {fmt(r and r['cycles'])} | {fmt(e, 'uJ')} | "
                         f"{fmt(r and r['energy_pj'], 'uJ')} | {ratio} | {note} |")
    return "\n".join(lines)


def pinned_table(our, pinned):
    """codesign's mapping of each layer costed by each peer that can express it (markdown)."""
    lines = ["| case | costed by | codesign cycles | peer's cycles | cycles peer/codesign | codesign energy uJ "
             "| peer's energy uJ | energy peer/codesign | layers within 1% |", "|---|---|---|---|---|---|---|---|---|"]
    for case in cases.CASES:
        o = our[case]
        for tool in PINNED:
            r = pinned.get(tool, {}).get(case)
            if r is None:
                lines.append(f"| {case} | {tool} | {fmt(o['cycles'])} | - | - | {fmt(o['energy_pj'], 'uJ')} | - | - | - |")
                continue
            close = sum(abs(p["energy_pj"] / q["energy_pj"] - 1) <= 0.01 for p, q in zip(r["layers"], o["layers"]))
            lines.append(f"| {case} | {tool} | {fmt(o['cycles'])} | {fmt(r['cycles'])} | {r['cycles'] / o['cycles']:.3f} "
                         f"| {fmt(o['energy_pj'], 'uJ')} | {fmt(r['energy_pj'], 'uJ')} "
                         f"| {r['energy_pj'] / o['energy_pj']:.4f} | {close}/{len(r['layers'])} |")
    return "\n".join(lines)


def pinned_runs(our, args, why):
    """{tool: {case: row}} of the peers costing codesign's mappings (`our`), run or loaded."""
    out = {}
    with tempfile.TemporaryDirectory() as d:
        mine = os.path.join(args.save or d, "codesign.jsonl")
        with open(mine, "w") as f:
            f.writelines(json.dumps(our[c]) + "\n" for c in cases.CASES)
        for tool in PINNED:
            if args.load:
                path = os.path.join(args.load, f"{tool}-pinned.jsonl")
                rows, reason = (load(path), None) if os.path.exists(path) else (None, f"{tool} --pinned: no {path}")
            else:
                rows, reason = run_peer(tool, args.save, pinned=mine)
            if reason:
                why.append(reason)
            out[tool] = {r["case"]: r for r in rows or []}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--save", help="folder to keep the peers' JSON lines in")
    g.add_argument("--load", help="folder of saved JSON lines (<tool>.jsonl) instead of running the peers")
    args = ap.parse_args(argv)
    peers, why = {}, []
    for tool in PEERS:
        if args.load:
            path = os.path.join(args.load, f"{tool}.jsonl")
            rows, reason = (load(path), None) if os.path.exists(path) else (None, f"{tool}: no {path}")
        else:
            if args.save:
                os.makedirs(args.save, exist_ok=True)
            rows, reason = run_peer(tool, args.save)
        if reason:
            why.append(reason)
        peers[tool] = {r["case"]: r for r in rows or []}
    our = ours(args.repeats)
    pinned = pinned_runs(our, args, why)
    print(table(our, peers, why))
    print()
    print(cross_table(cross_cost(peers)))
    print()
    print(pinned_table(our, pinned))


if __name__ == "__main__":
    main()
