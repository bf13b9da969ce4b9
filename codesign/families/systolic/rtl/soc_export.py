"""Verilog export of the SoC (`soc.Soc`: Top + DMA + sequencer + registers): ``codesign export --soc``.

Writes ``codesign_systolic_soc.v``, ``design.json`` / ``design.yaml`` (the
parameters; with a layer, its tile program: descriptors and DRAM layout)
and ``PORTS.md``: the AXI4 master and AXI4-Lite slave ports, the register
map, the descriptor format, the DRAM layout and the cycle formula.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml
from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ...base import LINT_WAIVERS
from ..arch import SystolicArch
from ..mapping import Mapping
from ....workload import Layer
from .. import soc_stalls as stalls
from .axi import LATENCY_CYCLES, MAX_BURST_BEATS
from .descriptors import make_program
from .dma import beats_per_word, word_bits
from .export import ExportPaths, _plain
from .params import RtlParams
from .regs import DESC_WORDS, FIELD_DOC, REGISTERS, desc_base
from .sim import Case
from .soc import Soc, soc_signature
from .soc_sim import check_bandwidth, soc_params

__all__ = ["SOC_MODULE", "export_soc", "soc_ports_markdown"]

SOC_MODULE = "codesign_systolic_soc"

_AXI_DOC = {
    "aw": "write address channel (INCR bursts, awsize = log2(data bytes), at most "
          f"{MAX_BURST_BEATS} beats, never across 4 KiB)",
    "w": "write data channel (full beats: wstrb all ones; wlast on a burst's last beat)",
    "b": "write response channel (bready always high; bresp ignored)",
    "ar": "read address channel (as aw)", "r": "read data channel (rready high while loading; rresp ignored)",
}


def _port_rows(sig: wiring.Signature) -> list[str]:
    rows = []
    for path, member, _ in sig.flatten(sig.create()):
        name = "__".join(str(p) for p in path)
        bus, sig = path[0], path[-1]
        if bus == "irq":
            doc = "high while the last tile program is done (STATUS.done)"
        elif bus == "mem":
            doc = f"AXI4 master to DRAM, {_AXI_DOC.get(sig[:2] if sig[:2] in _AXI_DOC else sig[:1], '')}"
        else:
            doc = "AXI4-Lite slave: registers and descriptor memory (32-bit, wstrb ignored)"
        rows.append(f"| {name} | {'out' if member.flow == wiring.Out else 'in'} | "
                    f"{Shape.cast(member.shape).width} | {doc} |")
    return rows


def soc_ports_markdown(p: RtlParams, data_bytes: int, desc_depth: int) -> str:
    """PORTS.md of the SoC: ports, registers, descriptors, DRAM layout, timing."""
    k, wb = beats_per_word(p, data_bytes), word_bits(p)
    base = desc_base(desc_depth)
    lines = [f"# `{SOC_MODULE}` ports", "",
             f"{p.rows}x{p.cols} {p.dataflow} systolic array (int{p.op_bits} x int{p.op_bits} -> int{p.acc_bits}) "
             f"with its DMA: AXI4 data width {8 * data_bytes} bits (the DRAM's {data_bytes} bytes/cycle), "
             f"32-bit byte addresses; west / north banks of 2 x {p.west_depth} / 2 x {p.north_depth} words "
             f"(ping-pong halves), accumulator {p.acc_depth} rows; {desc_depth} descriptors.", "",
             "| port | dir | bits | meaning |", "|---|---|---|---|",
             "| clk | in | 1 | clock (rising edge) |", "| rst | in | 1 | synchronous reset, active high |",
             *_port_rows(soc_signature(p, data_bytes, desc_depth)), "",
             "## Registers (AXI4-Lite, byte addresses)", "", "| address | name | access |", "|---|---|---|",
             "| 0x00 | CTRL | write 1: start the tile program |", "| 0x04 | STATUS | read: bit 0 busy, bit 1 done |",
             "| 0x08 | NDESC | read/write: descriptors in the program |",
             "| 0x0C | CYCLES | read: cycles of the last run, start to done, DRAM stalls included |",
             "| 0x10 | COMPUTE_CYCLES | read: cycles the array was busy in that run |",
             f"| 0x{base:X} + (d * {DESC_WORDS} + f) * 4 | descriptor d, word f | write |", "",
             "## Descriptor (one per glb tile, in the mapping's dram loop order)", "",
             "| word | field | meaning |", "|---|---|---|",
             *(f"| {i} | {f} | {doc} |" for i, (f, doc) in enumerate(FIELD_DOC.items())), "",
             "## DRAM layout", "",
             f"On-chip words in DRAM, each padded to whole beats, low beat first: a west word ({wb['west']} bits) "
             f"takes {k['west']} beat(s), a north word ({wb['north']} bits) {k['north']}, an accumulator row "
             f"({wb['acc']} bits) {k['acc']}. Lane layouts are the scratchpad's and the accumulator's (the "
             "PORTS.md of `codesign export` without --soc). Per operand block: its west or north words, as many "
             "as the tile has (a ragged tile's are fewer; a tile that keeps a block (keep flag) points at the "
             "block already laid out and loads nothing); per output tile: its accumulator rows, "
             "which the SoC writes (store flag) and reads back (reload flag), the final ones requantized (quant flag). `codesign.families.systolic.rtl."
             "descriptors.make_program` lays a GEMM out and writes the descriptors.", "",
             "## Host protocol", "",
             "1. Put the operands into DRAM in that layout; write the descriptors and NDESC.",
             "2. Write CTRL = 1; wait for `irq` (or poll STATUS.done).",
             "3. Read CYCLES / COMPUTE_CYCLES; the results are in the output tiles' DRAM regions.", "",
             "## Timing (the cost model's `rtl` latency, `codesign/families/systolic/soc_stalls.py`)", "",
             f"With a DRAM that returns a read burst's first beat {LATENCY_CYCLES} cycle after its address and "
             "then one beat per cycle: `CYCLES = PROLOGUE + L_0 + sum over tiles STEP + sum over transitions i -> i+1 "
             "max(C_i + RUN_C, LD_{i+1}) + C_last + RUN_C + stores + reloads`, where `C_i` is tile i's compute "
             "cycles (Top's pipelined folds: `2 + R + C` per tile, `+ R` for ws/is, plus `max(t, R)` per fold), "
             f"`L_0` tile 0's words times beats per word, `LD = RUN_L + sum over the banks loaded (LOAD + words * "
             "beats per word)` (a bank whose keep flag is set is not loaded), stores "
             f"`acc_rows * {k['acc']} + {stalls.STORE_EXTRA}` after every visit of an output tile (the last: "
             f"`acc_rows * {k['out']} + {stalls.STORE_EXTRA}`) and reloads "
             f"`acc_rows * {k['acc']} + {stalls.RELOAD_EXTRA}` before every later visit; PROLOGUE = "
             f"{stalls.PROLOGUE_CYCLES}, STEP = {stalls.STEP_CYCLES}, RUN_C = {stalls.RUN_AFTER_COMPUTE}, "
             f"RUN_L = {stalls.RUN_AFTER_LOAD}, LOAD = {stalls.LOAD_EXTRA}. Loads overlap compute (ping-pong "
             "banks, a half select per bank); stores and reloads do "
             "not (one accumulator). Reloads and the stores of spilled partial sums move raw accumulator rows "
             "(acc_bits per element); the store with the quant flag (the final outputs) moves requantized rows "
             f"({wb['out']} bits, {k['out']} beat(s) a row).", ""]
    return "\n".join(lines)


def export_soc(arch: SystolicArch, out_dir: str | Path, mapping: Mapping | None = None,
               layer: Layer | None = None) -> ExportPaths:
    """Write the SoC's Verilog, design.json/yaml and PORTS.md (module docstring).

    Without a mapping the banks follow the architecture's capacities, each
    ping-pong half taking half (the cost model's double-buffered capacity).
    """
    data_bytes = check_bandwidth(arch)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    design = {"module": SOC_MODULE, "architecture": _plain(arch.to_params()), "data_bytes": data_bytes,
              "lint_waivers": LINT_WAIVERS}
    if mapping is not None:
        b = layer.bounds
        params = soc_params(arch, [Case(layer, mapping, np.zeros((b["M"], b["K"]), int), np.zeros((b["K"], b["N"]), int))])
        prog = make_program(arch, layer, mapping, np.zeros((b["M"], b["K"]), int), np.zeros((b["K"], b["N"]), int),
                            params, data_bytes)
        depth = 1 << max(0, (len(prog.descriptors) - 1).bit_length())
        design["layer"] = {"name": layer.name, "op": layer.op, **b}
        design["mapping"] = mapping.to_dict()
        design["descriptors"] = [dict(d) for d in prog.descriptors]
        design["dram_beats"] = len(prog.beats)
    else:
        full = RtlParams.for_arch(arch, ports=False)       # unpaced, as `soc_sim.soc_params`
        params = replace(full, west_depth=max(1, full.west_depth // 2), north_depth=max(1, full.north_depth // 2))
        depth = 64
    design["rtl"] = params.to_dict()
    design["desc_depth"] = depth
    text = verilog.convert(Soc(params, data_bytes, depth), name=SOC_MODULE, emit_src=False)
    paths = ExportPaths(out / f"{SOC_MODULE}.v", out / "design.json", out / "design.yaml", out / "PORTS.md")
    paths.verilog.write_text(text)
    paths.design_json.write_text(json.dumps(design, indent=1) + "\n")
    paths.design_yaml.write_text(yaml.safe_dump(design, sort_keys=False))
    paths.ports_md.write_text(soc_ports_markdown(params, data_bytes, depth))
    return paths
