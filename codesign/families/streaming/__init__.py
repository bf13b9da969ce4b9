"""The streaming (FINN-style, layer-pipelined) family behind `codesign.families.base.Family`.

`map_network` builds one engine per node instance (`engines`), costs every folding of every
engine (`cost`), solves for the optimal folding of the whole pipeline (`solver`), and
times it (`pipeline`, `timing`). Files: arch (hardware keys), folding (PE/SIMD lattice,
pins), finn (FINN's formulas), greedy (FINN's SetFolding baseline), report.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import UserError
from ..base import Family, JointParam, JointSpace, LayerCost, NetworkCost, SearchStats
from .arch import PARAMS, StreamingArch, tech_of
from .cost import Options, engine_options
from .engines import Pipeline, build_pipeline
from .folding import Folding, check_pin, divisors
from .pipeline import MAX_SRL_DEPTH, PipelineCost, evaluate, FifoCheck, fifo_floor
from .report import pipeline_json, pipeline_table
from .solver import solve

__all__ = ["StreamingFamily", "FAMILY", "StreamingArch", "cost_choice", "prepare"]

_CACHE: dict = {}
FIFO_ROUNDS = 4     # solves with a larger FIFO reserve when the lazy FIFO check gives up (solver.ACCEPT_LIMIT)


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
    pipe, opts = prepare(network, arch)
    pc: PipelineCost = evaluate(pipe, opts, choice, arch)
    t = tech_of(arch)
    frames = pipe.frames
    layers, lut, dsp, bram, sram, lanes, energy = [], pc.fifo_lut, 0, pc.fifo_bram18, pc.fifo_bytes, 0, {}
    for e in pipe.engines:
        o, i = opts[e.name], choice[e.name]
        mac = e.kind in ("mvau", "vvau")
        fifo = max((pc.fifo_depth[(s, e.name, p)] for p, s in enumerate(e.inputs)), default=None)
        fifo_pj = sum(2 * pipe.engine(s).jobs * pipe.engine(s).channels_out * (
            t.reg_pj(arch.op_bits) if pc.fifo_depth[(s, e.name, p)] <= MAX_SRL_DEPTH else
            t.sram_pj(pc.fifo_depth[(s, e.name, p)] * pipe.engine(s).channels_out * arch.op_bits / 8, arch.op_bits))
            for p, s in enumerate(e.inputs))
        parts = {k: float(v[i]) * frames for k, v in o.energy_pj.items()}
        parts["fifo"] = fifo_pj * frames
        figs = {"pe": int(o.pe[i]) if mac else None, "simd": int(o.simd[i]) if mac else None,
                "cycles": pc.cycles[e.name], "fifo_depth": fifo, "lut": int(o.lut[i]), "dsp": int(o.dsp[i]),
                "bram18": int(o.bram18[i]), "job_cycles": int(o.job_cycles[i]),
                "bottleneck": pc.bottleneck == e.name,
                "weights": ("dram" if o.dram[i] else "chip") if mac else ""}
        if o.swu_cycles is not None and mac:
            figs["swu_cycles"] = int(o.swu_cycles[i])
        layers.append(LayerCost(e.name, e.op, 1, e.macs * frames, pc.cycles[e.name], sum(parts.values()), parts,
                                plan=Folding(((e.name, int(o.pe[i]), int(o.simd[i]), bool(o.dram[i])),)) if mac else None,
                                layer=e.layer, figures=figs, search=stats))
        lut, dsp, bram = lut + int(o.lut[i]), dsp + int(o.dsp[i]), bram + int(o.bram18[i])
        sram += float(o.sram_bytes[i])
        lanes += int(o.lanes[i])
    area = lanes * t.pe_area_mm2(arch.op_bits, arch.acc_bits) + t.sram_area_mm2(sram) + t.fixed_area_mm2
    ii = pc.ii_cycles
    macs_frame = sum(e.macs for e in pipe.engines)
    figures = {"ii_cycles": ii, "lut_used": lut, "dsp_used": dsp, "bram18_used": bram, "fill_cycles": pc.fill_cycles,
               "frames": frames, "bottleneck": pc.bottleneck, "fifo_lut": pc.fifo_lut, "fifo_bram18": pc.fifo_bram18,
               "periodic": pc.periodic, "solver_s": stats.seconds if stats else 0.0,
               "exact": stats.exact if stats else True}
    b = arch.budget()
    over = {r: v for r, v in (("lut", lut), ("dsp", dsp), ("bram18", bram)) if v > b[r]}
    fits = sum(v / b[r] - 1 for r, v in over.items())
    reason = ("the FIFOs push the pipeline over the budget: " + ", ".join(f"{r} {v} > {int(b[r])}" for r, v in over.items())
              if over else "")
    if arch.target_ii_cycles is not None and ii > arch.target_ii_cycles:
        fits += ii / arch.target_ii_cycles - 1
        reason = reason or f"II {ii} cycles misses target_fps {arch.target_fps:g}"
    energy = sum(lc.energy_pj for lc in layers)
    return NetworkCost("streaming", arch, tuple(layers), float(pc.latency_cycles), energy, area, network.macs,
                       arch.clock_mhz * 1e6 / ii, macs_frame / (ii * max(lanes, 1)), figures, fits, reason)


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
        """The solver's folding, FIFO-aware (`solver`, "The FIFOs"): solve with the FIFOs' least possible
        share off the budgets (`fifo_floor`); if that folding's own FIFOs do not fit, solve again with
        every folding checked with its FIFOs (`FifoCheck`); if that check gives up (ACCEPT_LIMIT), solve
        with the last folding's FIFO share off the budgets, up to FIFO_ROUNDS times (not proven)."""
        pins = self.check_pins(network, pins or {})
        pipe, opts = prepare(network, arch)
        check, floor = FifoCheck(pipe, opts, arch), fifo_floor(pipe, arch)
        sol = solve(opts, arch, pins, reserve=floor)
        proven = sol.choice is None or check(sol.choice)
        share, reserve = check.last, floor
        if not proven:
            sol = solve(opts, arch, pins, accept=check, reserve=floor)
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
            params.append(JointParam(f"{e.name}.pe", "choice", choices=divisors(e.mh)))
            params.append(JointParam(f"{e.name}.simd", "choice", choices=divisors(e.mw)))
        return JointSpace(tuple(params), network)

    def cost(self, network, archs, params, space):
        out = []
        for arch, p in zip(archs, params):
            pipe, opts = prepare(network, arch)
            choice = {}
            for name, o in opts.items():
                if o.engine.kind in ("mvau", "vvau"):
                    pe, simd = p[f"{name}.pe"], p[f"{name}.simd"]
                    choice[name] = int(np.nonzero((o.pe == pe) & (o.simd == simd) & ~o.dram)[0][0])
                else:
                    choice[name] = 0
            out.append(cost_choice(network, arch, choice))
        return out

    def encode(self, space, cost):
        out = {}
        for lc in cost.layers:
            if lc.figures.get("pe") is not None:
                out[f"{lc.name}.pe"], out[f"{lc.name}.simd"] = lc.figures["pe"], lc.figures["simd"]
        return out

    def arch_values(self, arch) -> dict:
        out = {k: getattr(arch, k) for k in StreamingArch.keys() if getattr(arch, k) is not None}
        if isinstance(arch.tech, tuple):
            out["tech"] = dict(arch.tech)
        return out

    def pins_of(self, network, plans):
        return {k: {kk: vv for kk, vv in v.items() if kk in ("pe", "simd")} for k, v in plans.items()}

    def generate(self, arch, cost):
        from .rtl import StreamingDesign, choice_of, find_pipeline
        network, pipe, opts = find_pipeline(cost, arch, _CACHE)
        return StreamingDesign(arch, network, pipe, opts, choice_of(cost, opts))

    def report(self, cost, *, title: str, nests: bool = False) -> str:
        return pipeline_table(cost, title)

    def to_json(self, cost) -> dict:
        return pipeline_json(cost)


FAMILY = StreamingFamily()
