"""The streaming (FINN-style, layer-pipelined) family behind `codesign.families.base.Family`.

`map_network` builds one engine per node instance (`engines`), costs every folding of every
engine (`cost`), solves for the optimal folding of the whole pipeline (`solver`), and
times it (`pipeline`, `timing`). Files: arch (hardware keys), folding (PE/SIMD lattice,
pins), finn (FINN's formulas), greedy (FINN's SetFolding baseline), report.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from ...errors import UserError
from ..base import Family, JointParam, JointSpace, LayerCost, NetworkCost, SearchStats
from .arch import PARAMS, StreamingArch, tech_of
from .cost import Options, engine_options
from .engines import Pipeline, build_pipeline
from .folding import Folding, check_pin, divisors
from .fifos import FifoCheck, depth_bounds, fifo_bounds, fifo_floor
from .pipeline import PipelineCost, evaluate, evaluate_batch, fifo_access_pj
from .report import pipeline_json, pipeline_table
from .solver import solve

__all__ = ["StreamingFamily", "FAMILY", "StreamingArch", "cost_choice", "cost_batch", "prepare"]

_CACHE: dict = {}
FIFO_ROUNDS = 4     # solves with a larger FIFO reserve when the lazy FIFO check gives up (branch.ACCEPT_LIMIT)


def prepare(network, arch: StreamingArch) -> tuple[Pipeline, dict[str, Options]]:
    """The pipeline of `network` and every engine's options on `arch` (memoized)."""
    key = (id(network), network.name, len(network.nodes), arch)
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not network:
        pipe = build_pipeline(network)
        hit = (network, pipe, {e.name: engine_options(e, arch) for e in pipe.engines})
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = hit
    return hit[1], hit[2]


def _infeasible(network, arch, reason, fits) -> NetworkCost:
    return NetworkCost("streaming", arch, (), float("inf"), float("inf"), float("nan"), network.macs, 0.0, 0.0,
                       {"ii_cycles": float("inf"), "lut_used": float("nan"), "dsp_used": float("nan"),
                        "bram18_used": float("nan")},
                       fits=fits, reason=reason)


def cost_choice(network, arch: StreamingArch, choice: dict, stats: SearchStats | None = None) -> NetworkCost:
    """The `NetworkCost` of one folding (option index per engine)."""
    return cost_batch(network, arch, {n: [i] for n, i in choice.items()}, stats)[0]


def cost_batch(network, arch: StreamingArch, idx: dict, stats: SearchStats | None = None) -> list[NetworkCost]:
    """The `NetworkCost` of each of B foldings (`idx[engine]`: option indices, shape (B,)), costed together
    (`pipeline.evaluate_batch`; per-engine figures as arrays, one entry per folding)."""
    pipe, opts = prepare(network, arch)
    pc = evaluate_batch(pipe, opts, idx, arch)
    idx, t, frames, rows = pc.choice, tech_of(arch), pipe.frames, len(pc.ii_cycles)
    res = {r: sum(getattr(opts[e.name], r)[idx[e.name]] for e in pipe.engines) for r in ("lut", "dsp", "bram18")}
    tot = {"lut": res["lut"] + pc.fifo_lut, "dsp": res["dsp"], "bram18": res["bram18"] + pc.fifo_bram18}
    sram = pc.fifo_bytes + sum(opts[e.name].sram_bytes[idx[e.name]] for e in pipe.engines)
    lanes = sum(opts[e.name].lanes[idx[e.name]] for e in pipe.engines)
    area = lanes * t.pe_area_mm2(arch.op_bits, arch.acc_bits) + t.sram_area_mm2(sram) + t.fixed_area_mm2
    per_engine = []
    for e in pipe.engines:
        o, i = opts[e.name], idx[e.name]
        depths = [pc.fifo_depth[(s, e.name, p)] for p, s in enumerate(e.inputs)]
        fifo_pj = sum(2 * pipe.engine(s).jobs * pipe.engine(s).channels_out * fifo_access_pj(
            t, d, d * pipe.engine(s).channels_out * arch.op_bits / 8, arch.op_bits) for s, d in zip(e.inputs, depths))
        parts = {k: v[i] * frames for k, v in o.energy_pj.items()}
        parts["fifo"] = fifo_pj * frames + np.zeros(rows)
        cols = {"pe": o.pe[i], "simd": o.simd[i], "fifo": np.max(depths, axis=0) if depths else None,
                "lut": o.lut[i], "dsp": o.dsp[i], "bram18": o.bram18[i], "job_cycles": o.job_cycles[i],
                "dram": o.dram[i], "swu": o.swu_cycles[i] if o.swu_cycles is not None else None,
                "energy": sum(parts.values())}
        per_engine.append((e, parts, cols))
    macs_frame = sum(e.macs for e in pipe.engines)
    b = arch.budget()
    out = []
    for r in range(rows):
        layers = [_layer_cost(e, parts, cols, r, pc, frames, stats) for e, parts, cols in per_engine]
        ii = int(pc.ii_cycles[r])
        figures = {"ii_cycles": ii, "lut_used": int(tot["lut"][r]), "dsp_used": int(tot["dsp"][r]),
                   "bram18_used": int(tot["bram18"][r]), "fill_cycles": int(pc.fill_cycles[r]), "frames": frames,
                   "bottleneck": pc.bottleneck[r], "fifo_lut": int(pc.fifo_lut[r]),
                   "fifo_bram18": int(pc.fifo_bram18[r]), "periodic": bool(pc.periodic[r]),
                   "solver_s": stats.seconds if stats else 0.0, "exact": stats.exact if stats else True}
        fits, reason = _violation(arch, b, {k: int(v[r]) for k, v in tot.items()},
                                  {k: int(v[r]) for k, v in res.items()}, ii)
        out.append(NetworkCost("streaming", arch, tuple(layers), float(pc.latency_cycles[r]),
                               sum(lc.energy_pj for lc in layers), float(area[r]), network.macs,
                               arch.clock_mhz * 1e6 / ii, macs_frame / (ii * max(int(lanes[r]), 1)), figures,
                               fits, reason))
    return out


def _layer_cost(e, parts, cols, r, pc, frames, stats) -> LayerCost:
    mac = e.kind in ("mvau", "vvau")
    pe, simd, dram = int(cols["pe"][r]), int(cols["simd"][r]), bool(cols["dram"][r])
    figs = {"pe": pe if mac else None, "simd": simd if mac else None, "cycles": int(pc.cycles[e.name][r]),
            "fifo_depth": None if cols["fifo"] is None else int(cols["fifo"][r]), "lut": int(cols["lut"][r]),
            "dsp": int(cols["dsp"][r]), "bram18": int(cols["bram18"][r]), "job_cycles": int(cols["job_cycles"][r]),
            "bottleneck": pc.bottleneck[r] == e.name, "weights": ("dram" if dram else "chip") if mac else ""}
    if cols["swu"] is not None and mac:
        figs["swu_cycles"] = int(cols["swu"][r])
    return LayerCost(e.name, e.op, 1, e.macs * frames, figs["cycles"], float(cols["energy"][r]),
                     {k: float(v[r]) for k, v in parts.items()},
                     plan=Folding(((e.name, pe, simd, dram),)) if mac else None, layer=e.layer, figures=figs,
                     search=stats)


def _violation(arch, budget, total, engines, ii) -> tuple[float, str]:
    """How far a folding is over its budgets and target (0: fits) and why, in words."""
    over = {r: v for r, v in total.items() if v > budget[r]}
    fits = sum(v / budget[r] - 1 for r, v in over.items())
    what = ("over the budget" if any(engines[r] > budget[r] for r in engines)
            else "the FIFOs push the pipeline over the budget")
    reason = f"{what}: " + ", ".join(f"{r} {v} > {int(budget[r])}" for r, v in over.items()) if over else ""
    if arch.target_ii_cycles is not None and ii > arch.target_ii_cycles:
        fits += ii / arch.target_ii_cycles - 1
        reason = reason or f"II {ii} cycles misses target_fps {arch.target_fps:g}"
    return fits, reason


def _target_fps(constraints) -> float | None:
    """``search.constraints: {throughput_fps: {min: X}}`` (a sweep's, validated by search.settings): X."""
    bound = (constraints or {}).get("throughput_fps") if isinstance(constraints, dict) else None
    return float(bound["min"]) if isinstance(bound, dict) and "min" in bound else None


class StreamingFamily(Family):
    """FINN-style layer pipeline: one engine per layer instance, folded by PE and SIMD."""

    name = "streaming"
    Arch = StreamingArch
    extra_metrics = ("throughput_fps", "ii_cycles", "lut_used", "dsp_used", "bram18_used")

    def params(self):
        return PARAMS

    def arch(self, values: Mapping[str, Any]) -> StreamingArch:
        unknown = [k for k in values if k not in StreamingArch.keys()]
        if unknown:
            raise UserError(f"hardware.{unknown[0]}: unknown key for the streaming family; "
                            f"allowed: {', '.join(StreamingArch.keys())}")
        return StreamingArch(**dict(values))

    def check_pins(self, network, pins: Mapping[str, Any]) -> dict:
        out = {}
        nodes = {n.name: n for n in network.nodes}
        for name, pin in (pins or {}).items():
            node = nodes.get(name)
            if node is None or not node.is_mac:
                raise UserError(f"mapping.{name}: no layer with MACs of that name in {network.name!r}")
            l, p = node.layer, dict(node.layer.params)
            if l.op == "depthwise_conv2d":
                mh, mw, what = p["C"], p["R"] * p["S"], ("channels", "kernel window elements")
            elif l.op == "conv2d":
                mh, mw, what = p["K"], l.bounds["C"] * p["R"] * p["S"], ("output channels", "reduction elements")
            else:
                mh, mw, what = l.bounds.get("N", 1), l.bounds.get("K", 1), ("output channels", "reduction elements")
            out[name] = check_pin(name, pin, mh, mw, what)
        return out

    def map_network(self, network, arch, objective=None, pins=None, **options) -> NetworkCost:
        """The solver's folding, FIFO-aware (`solver`, "The FIFOs"): solve with the FIFOs' lower bounds
        against the budgets (`fifos.fifo_bounds`); if that folding's own FIFOs do not fit, solve again with
        every folding checked with its FIFOs (`FifoCheck`, which learns cuts); if that check gives up
        (`branch.ACCEPT_LIMIT`, `branch.CUT_LIMIT`), solve with the last folding's FIFO share off the
        budgets, up to FIFO_ROUNDS times (not proven). Option ``constraints`` (a sweep's
        ``search.constraints``): a ``throughput_fps`` minimum folds for the fewest resources reaching
        it, as ``target_fps`` does (unless the architecture has its own)."""
        pins = self.check_pins(network, pins or {})
        target = _target_fps(options.get("constraints"))
        if target is not None and arch.target_fps is None:      # fewest resources reaching the constraint
            arch = dataclasses.replace(arch, target_fps=target)
        pipe, opts = prepare(network, arch)
        check, floor = FifoCheck(pipe, opts, arch), fifo_floor(pipe, arch)
        sol = solve(opts, arch, pins, reserve=floor)          # the FIFOs at depth 1 (finn: 2): often enough
        proven = sol.choice is None or check(sol.choice)
        per_option, pairs = {}, []
        if not proven and arch.timing == "rtl":               # every FIFO's bound, then frame-0 checks and cuts
            bounds = depth_bounds(pipe, opts, arch)
            check.use(bounds)
            floor, per_option, pairs = fifo_bounds(pipe, opts, arch, bounds=bounds)
            sol = solve(opts, arch, pins, reserve=floor, fifo=per_option, pairs=pairs)
            proven = sol.choice is None or check(sol.choice)
        share, reserve = check.last, floor
        if not proven and check.frame0_capable:
            # the optimum under frame-0 FIFOs (a relaxation) is optimal if its full FIFOs fit too
            check.frame0_only = True
            sol = solve(opts, arch, pins, accept=check, reserve=floor, fifo=per_option, pairs=pairs)
            check.frame0_only = False
            proven = sol.exact and (sol.choice is None or check(sol.choice))
        if not proven:
            sol = solve(opts, arch, pins, accept=check, reserve=floor, fifo=per_option, pairs=pairs)
            proven = sol.exact
        for _ in range(FIFO_ROUNDS if not proven else 0):
            reserve = {r: max(reserve[r], share[r]) for r in reserve}
            sol = solve(opts, arch, pins, reserve=reserve)
            if sol.choice is None or check(sol.choice):
                break
            share = check.last
        if sol.choice is None:
            return _infeasible(network, arch, sol.reason, sol.fits)
        stats = SearchStats(sol.considered, sol.considered, 0, sol.seconds, "lattice-sweep", sol.exact and proven)
        return cost_choice(network, arch, sol.choice, stats)

    def joint_space(self, network, hardware_choices):
        pipe = build_pipeline(network)
        params = []
        for e in pipe.mac_engines:
            params.append(JointParam(f"pe/{e.name}", "choice", choices=divisors(e.mh)))
            params.append(JointParam(f"simd/{e.name}", "choice", choices=divisors(e.mw)))
            params.append(JointParam(f"weights/{e.name}", "choice", choices=("chip", "dram")))
        return JointSpace(tuple(params), network)

    def cost(self, network, archs, params, space):
        """Joint mode: each trial's PE, SIMD and weight memory (chip or DRAM) per engine, the
        trials of one architecture costed in one batch (`cost_batch`)."""
        out: list = [None] * len(archs)
        groups: dict = {}
        for r, arch in enumerate(archs):
            groups.setdefault(arch, []).append(r)
        for arch, rows in groups.items():
            pipe, opts = prepare(network, arch)
            idx = {}
            for name, o in opts.items():
                if o.engine.kind in ("mvau", "vvau"):
                    pe = np.array([params[r][f"pe/{name}"] for r in rows])
                    simd = np.array([params[r][f"simd/{name}"] for r in rows])
                    # options: the divisor lattice PE-major, on chip then the same in DRAM (`cost.engine_options`)
                    pes, simds = np.array(divisors(o.engine.mh)), np.array(divisors(o.engine.mw))
                    dram = np.array([params[r].get(f"weights/{name}", "chip") == "dram" for r in rows])
                    idx[name] = (np.searchsorted(pes, pe) * len(simds) + np.searchsorted(simds, simd)
                                 + dram * (len(pes) * len(simds)))
                else:
                    idx[name] = np.zeros(len(rows), np.int64)
            for r, c in zip(rows, cost_batch(network, arch, idx)):
                out[r] = c
        return out

    def encode(self, space, cost):
        out = {}
        for lc in cost.layers:
            if lc.figures.get("pe") is not None:
                out[f"pe/{lc.name}"], out[f"simd/{lc.name}"] = lc.figures["pe"], lc.figures["simd"]
                out[f"weights/{lc.name}"] = lc.figures["weights"]
        return out

    def arch_values(self, arch) -> dict:
        out = {k: getattr(arch, k) for k in StreamingArch.keys() if getattr(arch, k) is not None}
        if isinstance(arch.tech, tuple):
            out["tech"] = dict(arch.tech)
        return out

    def pins_of(self, network, plans):
        """PE, SIMD and weight memory of every MAC engine (a plan is ``Folding.to_dict()``: {engine: {...}})."""
        out = {}
        for name, plan in plans.items():
            p = plan.get(name, plan)
            out[name] = {"pe": int(p["pe"]), "simd": int(p["simd"]), "weights": p.get("weights", "chip")}
        return out

    def generate(self, arch, cost):
        from .rtl import StreamingDesign, choice_of, find_pipeline
        network, pipe, opts = find_pipeline(cost, arch, _CACHE)
        return StreamingDesign(arch, network, pipe, opts, choice_of(cost, opts))

    def report(self, cost, *, title: str, nests: bool = False) -> str:
        return pipeline_table(cost, title)

    def to_json(self, cost) -> dict:
        return pipeline_json(cost)


FAMILY = StreamingFamily()
