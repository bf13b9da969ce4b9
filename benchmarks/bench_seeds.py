"""The exact mapper over a sequence of distinct ResNet-18 designs in one process: CPU
seconds per design with the neighbour seeds (`strategies._seeds`) on and off, and a check
that both give the same optimum cost per layer.

Designs: rows/cols 4..128, dataflow os/ws/is, glb 32..1024 KiB (log), bandwidth 4..64 B/cycle
(log), drawn with numpy's default_rng(seed) (the space of bench_search.py throughput) on
configs/quickstart.yaml.

    python benchmarks/bench_seeds.py [--designs 40] [--seed 0] [--mode both|seeds|plain] [--profile]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codesign.config import load_config  # noqa: E402
from codesign.families.systolic import network  # noqa: E402
from codesign.families.systolic.mapper import clear_caches  # noqa: E402
from codesign.families.systolic.strategies import Exhaustive  # noqa: E402


def designs(n: int, seed: int) -> list[dict]:
    """`n` hardware points of the throughput space."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        out.append({"rows": int(rng.integers(4, 129)), "cols": int(rng.integers(4, 129)),
                    "dataflow": str(rng.choice(["os", "ws", "is"])),
                    "glb_kib": float(np.exp(rng.uniform(np.log(32), np.log(1024)))),
                    "dram_bw_bytes": float(np.exp(rng.uniform(np.log(4), np.log(64))))})
    return out


def run(cfg, points: list[dict], seeds: bool) -> tuple[float, list[list[float]]]:
    """(CPU seconds, per design the per-layer (latency, energy)) with or without seeds."""
    network._CACHE.clear()
    clear_caches()
    strategy = Exhaustive(seeds=seeds)
    costs = []
    t0 = time.process_time()
    for p in points:
        arch = cfg.arch_from(p)
        res = network.evaluate_network(cfg.network, arch, objective=cfg.objective, strategy=strategy)
        costs.append([(r.cost["latency_cycles"], r.cost["energy_pj"]) for r in res.layers])
    return time.process_time() - t0, costs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mode", default="both", choices=["both", "seeds", "plain"])
    ap.add_argument("--profile", action="store_true", help="cProfile the seeded run (top 25 by cumulative)")
    a = ap.parse_args()
    cfg = load_config(ROOT / "configs" / "quickstart.yaml")
    pts = designs(a.designs, a.seed)
    if a.profile:
        import cProfile
        import pstats
        pr = cProfile.Profile()
        pr.enable()
        run(cfg, pts, True)
        pr.disable()
        pstats.Stats(pr).sort_stats("cumulative").print_stats(25)
        pstats.Stats(pr).sort_stats("tottime").print_stats(20)
        return
    out = {}
    for mode in (["plain", "seeds"] if a.mode == "both" else [a.mode]):
        sec, costs = run(cfg, pts, mode == "seeds")
        out[mode] = costs
        print(f"{mode:>6}: {sec:7.1f} CPU s for {len(pts)} designs = {sec / len(pts):.3f} s per design", flush=True)
    if len(out) == 2:
        same = out["plain"] == out["seeds"]
        print(f"same optimum cost on every layer of every design: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
