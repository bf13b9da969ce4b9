"""Verilog export of a streaming pipeline (or of one engine): Verilog, design.json, PORTS.md.

The Verilog comes from Amaranth's `back.verilog` (Yosys' Verilog backend). `LINT_WAIVERS`
are the Verilator ``-Wall`` warnings that backend emits by construction (the systolic
export's policy, codesign/families/systolic/rtl/export.py); any other warning fails the
lint test. Weights are the initial contents of each MAC engine's weight memory, and can be
loaded through the ``wl`` stream (PORTS.md): the project has no trained weights, so the
built-in ones are random (seeded, in design.json).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ...base import LINT_WAIVERS
from .engine import EngineUnit, engine_signature
from .golden import random_weights
from .plan import StreamingRtlError
from .top import StreamingTop, top_signature, weight_bases

__all__ = ["export_design", "ports_markdown", "LINT_WAIVERS", "MODULE"]

MODULE = "codesign_streaming"



def _ports_table(members, lanes_of) -> list[str]:
    lines = ["| port | dir | bits | meaning |", "|---|---|---|---|",
             "| clk | in | 1 | clock (rising edge) |", "| rst | in | 1 | synchronous reset, active high |"]
    for name, member in members.items():
        for field, sub in member.signature.members.items():
            flow = sub.flow                 # members of an In member are flipped already
            what = {"valid": "the producer offers a token this cycle",
                    "ready": "the consumer takes the offered token this cycle",
                    "payload": lanes_of(name)}[field]
            lines.append(f"| {name}__{field} | {'in' if flow == wiring.In else 'out'} | "
                         f"{Shape.cast(sub.shape).width} | {what} |")
    return lines


def _weights_section(plan, layer) -> list[str]:
    """How weights are built in and loaded through ``wl`` (`datapath`, `top.weight_bases`)."""
    bits = plan.op_bits
    bases = weight_bases(plan)
    if layer:
        bases = {layer: (0, *bases[layer][1:])} if layer in bases else {}
    if not bases:
        return ["No weights (no MAC engine)."]
    lines = ["Each MAC engine's weights are in its weight memory: word nf*SF + sf holds W[nf*PE + p, sf*SIMD + i] "
             f"at bits [(p*SIMD + i)*{bits} +: {bits}] (SF = MW/SIMD, NF = MH/PE; im2col order (r, s, c)). The "
             "bitstream's initial contents are the weights given at build time (`StreamingTop(plan, weights)`; "
             "design.json: seeded random). To load others, write every word through the `wl` stream: one word per "
             "transfer (`wl__valid` high; `wl__ready` is always high), to the word address below; the engine "
             "takes the low PE*SIMD*op_bits bits of `data`. Load while no frame is in the pipeline (the "
             "engines read the memories while they run), then pulse `rst` for a cycle: reset clears the "
             "controllers and FIFOs, not the memories, and the pipeline then runs with the model's timing "
             "(tests/test_streaming_rtl_weights.py loads weights this way and checks the golden).", "",
             "| engine | wl addresses | words (NF x SF) | word bits |", "|---|---|---|---|"]
    for name, (base, n, width) in bases.items():
        e = plan.engine(name)
        lines.append(f"| {name} | {base} .. {base + n - 1} | {n} ({e.mh // e.pe} x {e.mw // e.simd}) | {width} |")
    return lines


def ports_markdown(plan, layer: str | None = None) -> str:
    """PORTS.md: the stream ports, the token format, how weights are loaded, the timing."""
    bits = plan.op_bits
    if layer:
        e = plan.engine(layer)
        members = engine_signature(e, bits).members
        title = f"# `{MODULE}_{layer}` ports (engine {layer}, {e.kind})"
    else:
        members = {k: v for k, v in top_signature(plan).members.items()}
        title = f"# `{MODULE}` ports ({plan.name}: {len(plan.engines)} engines)"
    src = plan.engines[0]
    out = plan.engine(layer or plan.output)

    def lanes_of(name):
        if name == "wl":
            lay = members["wl"].signature.members["payload"].shape
            a = Shape.cast(lay["addr"].shape).width
            return f"`addr` at bits [0 +: {a}] (weight word address), `data` at bits [{a} +: " \
                   f"{Shape.cast(lay['data'].shape).width}] (the word); see Weights"
        c = src.c_out if name == "i" else (out.c_out if name == "o" else out.c_in)
        return f"one token: {c} signed int{bits} lanes, lane k at bits [k*{bits} +: {bits}]"

    lines = [title, "", *_ports_table({k: v for k, v in members.items() if k != "stall"}, lanes_of)]
    if "stall" in members:
        lines.append("| stall | out | 1 | the output token waits for room (debug) |")
    lines += ["", "## Streams", "",
              "`lib.stream` valid/ready: a token moves in a cycle where valid and ready are both high; valid "
              "never depends on ready. A token is one pixel (all channels of one position, raster order) or one "
              "input vector of a fully connected layer. The input stream takes frames back to back; the source "
              f"starts frame f no earlier than cycle f x {plan.ii_cycles} (the II) after reset.", "",
              "## Weights", "", *_weights_section(plan, layer), "",
              "## Timing", "",
              "The model's `rtl` timing, cycle for cycle (codesign/families/streaming/timing.py): FIFO depths, "
              "II and latencies in design.json are the model's, checked by `codesign verify`.", ""]
    return "\n".join(lines)


def export_design(design, out_dir, layer: str | None = None, seed: int = 0) -> tuple[str, list]:
    """Write ``<out_dir>/codesign_streaming[_<layer>].v``, ``design.json`` and ``PORTS.md``."""
    plan, pc = design.plan()
    weights = random_weights(plan, np.random.default_rng(seed))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if layer:
        if layer not in {e.name for e in plan.engines}:
            raise StreamingRtlError(f"--layer {layer}: no such engine (engines: "
                                    f"{', '.join(e.name for e in plan.engines)})")
        e = plan.engine(layer)
        module = f"{MODULE}_{layer.replace('#', '_')}"
        top = EngineUnit(e, plan.op_bits, plan.acc_bits, plan.ii_cycles, weights.get(layer))
        what = f"engine {layer} ({e.kind}) alone"
    else:
        module, top, what = MODULE, StreamingTop(plan, weights), f"{len(plan.engines)} engines, {len(plan.fifo_depth)} FIFOs"
    text = verilog.convert(top, name=module, emit_src=False)
    info = {"module": module, "network": plan.name, "op_bits": plan.op_bits, "acc_bits": plan.acc_bits,
            "ii_cycles": pc.ii_cycles, "fill_cycles": pc.fill_cycles, "bottleneck": pc.bottleneck,
            "engines": [e.to_dict() for e in plan.engines if layer is None or e.name == layer],
            "fifos": [{"from": s, "to": d, "port": p, "depth": n} for (s, d, p), n in plan.fifo_depth.items()],
            "weights": {"source": "random", "seed": seed,
                        "load_port": {n: {"first_address": b, "words": k, "word_bits": w}
                                      for n, (b, k, w) in weight_bases(plan).items()
                                      if layer is None or n == layer}},
            "lint_waivers": LINT_WAIVERS}
    paths = [out / f"{module}.v", out / "design.json", out / "PORTS.md"]
    paths[0].write_text(text)
    paths[1].write_text(json.dumps(info, indent=1) + "\n")
    paths[2].write_text(ports_markdown(plan, layer))
    return what, paths
