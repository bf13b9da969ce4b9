"""ZigZag 3.9.1's port stall count, reproduced from its formula, beside codesign's (issue 15).

Run from the checkout root after ``benchmarks/peers/setup.sh zigzag``:
``PYTHONPATH=. .venv/bin/python benchmarks/peers/port_stalls.py [--bits 128 256 1024]``

codesign's best mapping of ResNet-50 ``layer2.1.conv2`` (run_ours.py: energy,
``ideal`` timing) is costed by ZigZag (run_zigzag.py --pinned --ports) with the
256 KiB buffer's read and write ports ``W`` bits wide, and ZigZag's stall
(``CostModelEvaluation.stall_slack_comb``) is recomputed here from its port
activities with the formula of ``cost_model.py`` and ``port_activity.py``:

- one data transfer link (memory level, operand, direction) in a period of
  ``period`` cycles moves its data in ``real = ceil(bits / port width)`` cycles
  but may use only ``allowed`` (the period, double-buffered, or the window
  left by the top irrelevant loops); over the layer it stalls (or slacks)
  ``(real - allowed) * (period_count - 1)``;
- the links sharing a physical port add up: the positive terms, plus
  ``max(0, negative terms + their windows - the union of their windows)``;
  the union is the share of the longest period any window covers (or all of
  it when one window is its whole period);
- the layer stalls by the most loaded port (ports run in parallel), at least 0.

codesign's figure is the stall its ``rtl`` timing adds to the same mapping at
the same widths (``pacing``: a step waits only when a port cannot move what
the step needs; the array's one-word output registers are wires, no port).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CASE = "resnet50.layer2.1.conv2"


def link_stall(real, allowed, period_count):
    """Stall (+) or slack (-) of one data transfer link over the layer (ZigZag's PortActivity)."""
    return (real - allowed) * (period_count - 1)


def window_union(links):
    """Cycles of the layer covered by any of `links`' allowed windows (ZigZag's
    __calc_mem_updating_window_union): each link's window is the first `allowed` cycles of each
    of its periods; periods divide the longest one, the pattern repeats every longest period."""
    for a in links:
        if a["period"] == a["allowed"]:
            return a["period"] * a["period_count"]
    longest = max(links, key=lambda a: a["period"])
    used = [False] * int(longest["period"])
    for a in links:
        p, w = int(a["period"]), int(a["allowed"])
        for start in range(0, len(used), p):
            for t in range(start, min(start + w, len(used))):
                used[t] = True
    return sum(used) * int(longest["period_count"])


def port_stall(links):
    """Stall of one physical port shared by `links` (ZigZag's combine_data_transfer_rate_per_physical_port)."""
    if not links:
        return 0
    terms = [link_stall(a["real"], a["allowed"], a["period_count"]) for a in links]
    if len(links) == 1:
        return terms[0]
    windows = sum(a["allowed"] * (a["period_count"] - 1) for a in links)
    return sum(t for t in terms if t > 0) + max(0, sum(t for t in terms if t <= 0) + windows - window_union(links))


def layer_stall(memories):
    """The layer's stall: the most loaded port's, at least 0 (`memories`: per memory, port -> links)."""
    return max([0] + [port_stall(links) for mem in memories for links in mem.values()])


def zigzag_ports(ours_jsonl, bits):
    """run_zigzag.py --pinned --ports on CASE at a buffer port width: the layer's JSON row."""
    py = os.path.join(HERE, ".envs", "zigzag", "bin", "python")
    if not os.path.exists(py):
        raise SystemExit(f"zigzag: not installed ({py} missing; run benchmarks/peers/setup.sh zigzag)")
    p = subprocess.run([py, os.path.join(HERE, "run_zigzag.py"), "--pinned", ours_jsonl, "--case", CASE,
                        "--glb-port-bits", str(bits), "--ports"], capture_output=True, text=True, check=True)
    return json.loads(p.stdout.splitlines()[-1])["layers"][0]


WIDE_BITS = 1 << 16      # a port no step of a 16x16 array can fill (the reference for codesign's port stall)


def ours_at(bits):
    """(mapping, compute cycles, port stall, latency) of codesign's mapping of CASE in rtl timing, the buffer's
    ports `bits` wide; the port stall is the latency over the same with WIDE_BITS ports (the rest of
    codesign's stall is the DRAM transfer, not overlapped: run_ours.arch is single-buffered)."""
    from dataclasses import replace
    import run_ours
    from codesign.families.systolic.cost import evaluate_mapping
    from codesign.families.systolic.mapper import best_mapping
    (layer, _), = run_ours.layers(CASE)
    mapping = best_mapping(layer, run_ours.arch("ideal"), objective="energy").mapping
    c, wide = (evaluate_mapping(layer, replace(run_ours.arch("rtl"), glb_read_bits=w, glb_write_bits=w), mapping)
               for w in (bits, WIDE_BITS))
    return mapping, int(c["compute_cycles"]), int(c["latency_cycles"] - wide["latency_cycles"]), int(c["latency_cycles"])


def short(what):
    """ZigZag's link name, e.g. "(I, 0, <DataDirection.RD_OUT_TO_LOW: 'rd_out_to_low'>)" -> "I rd_out_to_low"."""
    parts = what.strip("()").split(", ")
    return parts[0] + " " + parts[-1].split(": ")[-1].strip("'>")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", type=int, nargs="+", default=[128, 256, 1024])
    args = ap.parse_args(argv)
    import run_ours
    with tempfile.TemporaryDirectory() as d:
        ours_jsonl = os.path.join(d, "ours.jsonl")
        with open(ours_jsonl, "w") as f:
            f.write(json.dumps(run_ours.run_case(CASE)) + "\n")
        print(f"{CASE}, codesign's energy-optimal mapping, 256 KiB buffer, ports W bits (read and write)\n")
        print("| W | ZigZag stall (its figure) | formula here | ZigZag cycles | busiest port: links sharing it (real/allowed x periods) "
              "| codesign compute | codesign port stall | codesign cycles |")
        print("|---|---|---|---|---|---|---|---|")
        for bits in args.bits:
            zz = zigzag_ports(ours_jsonl, bits)["ports"]
            mine = layer_stall(zz["activities"])
            if not math.isclose(mine, zz["stall_slack_comb"]):
                raise SystemExit(f"W={bits}: formula gives {mine}, ZigZag {zz['stall_slack_comb']}")
            mem, port, links = max(((m, p, ls) for m, mem in zip(zz["memories"], zz["activities"])
                                    for p, ls in mem.items()), key=lambda x: port_stall(x[2]))
            top = max(links, key=lambda a: a["allowed"] * a["period_count"])
            _, compute, stall, latency = ours_at(bits)
            print(f"| {bits} | {zz['stall_slack_comb']:,.0f} | {mine:,.0f} | {zz['latency_total2']:,.0f} | {mem} {port}: "
                  f"{len(links)} links, e.g. {short(top['what'])} {top['real']}/{top['allowed']} x {top['period_count']:,} | {compute:,} | {stall:,} "
                  f"| {latency:,} |")


if __name__ == "__main__":
    main()
