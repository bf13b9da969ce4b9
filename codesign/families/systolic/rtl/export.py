"""Verilog export: the design, its parameters (JSON + YAML) and its port list.

`export_verilog(arch, out_dir)` writes a generic design whose memories take
the architecture's capacities; given a GEMM `layer` and its `mapping`, the
memories are sized for that mapping's glb tiles and the parameter files
also hold the host program (the configuration of every glb tile).

`LINT_WAIVERS` lists the Verilator ``-Wall`` warnings that Yosys' Verilog
backend emits by construction (not design faults); every other warning,
e.g. combinational loops (UNOPTFLAT), latches or undriven signals, fails.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ...base import LINT_WAIVERS
from ..arch import SystolicArch
from ..mapping import Mapping
from ..pacing import PACE_CLASSES
from ..timing import fold_timing
from ....workload import Layer, gemm
from .controller import ROLE_CODES
from .params import RtlParams
from .plan import RtlError, make_plan, model_cycles
from .top import ROLE_NAMES, Top, top_signature

__all__ = ["ExportPaths", "export_verilog", "host_program", "ports_markdown", "LINT_WAIVERS", "MODULE"]

MODULE = "codesign_systolic"



@dataclass(frozen=True)
class ExportPaths:
    """The files `export_verilog` wrote."""

    verilog: Path
    design_json: Path
    design_yaml: Path
    ports_md: Path

    def __iter__(self):
        return iter((self.verilog, self.design_json, self.design_yaml, self.ports_md))


_DOC = {
    "clk": "clock (rising edge)",
    "rst": "synchronous reset, active high",
    "start": "pulse high for one cycle (while busy is low) to run one glb tile; samples the tile configuration",
    "busy": "high from the cycle after start until the tile's last result is in the accumulator",
    "done": "high after a tile finished, until the next start",
    "cycles": "busy cycles of the last tile (the measured compute cycles)",
    "ext_row": "tile extent of the dim on the rows (os M, ws/is K)",
    "ext_col": "tile extent of the dim on the cols (os N, ws N, is M)",
    "ext_time": "tile extent of the streamed dim (os K, ws M, is N)",
    "fold_row": "fold size on the rows: the mapping's rows factor (<= array rows)",
    "fold_col": "fold size on the cols: the mapping's cols factor (<= array cols)",
    "fold_time": "fold size in time: the mapping's pe factor",
    "nfold_row": "folds along the rows in this tile: ceil(ext_row / fold_row)",
    "nfold_col": "folds along the cols: ceil(ext_col / fold_col)",
    "nfold_time": "folds in time: ceil(ext_time / fold_time)",
    "order_outer": "glb-level loop order, outermost loop: 0 row, 1 col, 2 time",
    "order_middle": "glb-level loop order, middle loop (0 row, 1 col, 2 time)",
    "order_inner": "glb-level loop order, innermost loop (0 row, 1 col, 2 time)",
    "accumulate": "1: the accumulator holds this tile's partial sums (add to them); 0: the first reduction fold overwrites",
    "west_we": "write enable of the west scratchpad bank (host, while not busy)",
    "west_addr": "west word address: row_block * ext_time + time_index",
    "west_wdata": "west word: lane i (bits [i*op_bits +: op_bits]) feeds mesh row i",
    "north_we": "write enable of the north scratchpad bank (host, while not busy)",
    "north_addr": "north word address: os col_block * ext_time + time_index; ws/is col_block * ext_row + row_index",
    "north_wdata": "north word: lane j (bits [j*op_bits +: op_bits]) feeds mesh column j",
    "acc_addr": "accumulator row address (host, while not busy): os col_block * ext_row + row_index; "
                "ws/is col_block * ext_time + time_index",
    "acc_we": "write a row of partial sums (host reload, while not busy)",
    "acc_wdata": "row to write: lane j (bits [j*acc_bits +: acc_bits]) for mesh column j",
    "acc_rdata": "row read at acc_addr, one cycle later: lane j for mesh column j (signed acc_bits)",
    "requant_shift": "requantization shift of out_rdata (host, per layer; at most acc_bits - 1)",
    "out_rdata": "the acc_rdata row requantized: lane j = clip(sum >> requant_shift) to signed out_bits "
                 "(arithmetic shift, saturate); what a finished output tile sends to DRAM",
}


def ports_markdown(p: RtlParams) -> str:
    """PORTS.md: the top-level ports, the host protocol, the memory layouts, the timing."""
    lines = [f"# `{MODULE}` ports", "",
             f"{p.rows}x{p.cols} {p.dataflow} systolic array, int{p.op_bits} operands, int{p.acc_bits} "
             f"accumulation, int{p.out_bits} outputs; west bank {p.west_depth} words, north bank "
             f"{p.north_depth} words, accumulator {p.acc_depth} rows of {p.cols} sums.", "",
             "| port | dir | bits | meaning |", "|---|---|---|---|",
             "| clk | in | 1 | " + _DOC["clk"] + " |", "| rst | in | 1 | " + _DOC["rst"] + " |"]
    for name, member in top_signature(p).members.items():
        lines.append(f"| {name} | {'in' if member.flow == wiring.In else 'out'} | "
                     f"{Shape.cast(member.shape).width} | {_DOC[name]} |")
    ft = fold_timing("rtl", p.dataflow)
    lines += ["", "## Host protocol", "",
              "1. While `busy` is low, write the glb tile's operand words into the west and north banks "
              "(one word per cycle) and, when a reduction resumes whose partial sums left the accumulator, "
              "write them back with `acc_we`.",
              "2. Set the tile configuration (`ext_*`, `fold_*`, `nfold_*`, `order_*`, `accumulate`) and "
              "hold `start` high for one cycle.",
              "3. Wait for `done`; `cycles` then holds the tile's compute cycles.",
              "4. Read result rows: drive `acc_addr`, sample `acc_rdata` (partial sums, to spill) or "
              "`out_rdata` (a finished tile, requantized with `requant_shift`) one cycle later.", "",
              "Roles: os puts M on the rows, N on the cols and streams K; ws puts K on the rows, N on the "
              "cols and streams M; is puts K on the rows, M on the cols and streams N. Conv layers run as "
              "their im2col GEMM (`Layer.gemm_view()`), prepared by the host.", "",
              "Word layouts (row_block = index of a `fold_row`-sized block of the row dim, etc.; lanes past the "
              "fold size or the tile edge are zero): west word lane i = operand[row_block*fold_row + i, time]; "
              "north word lane j = os B[time, col_block*fold_col + j], ws/is stationary "
              "[row, col_block*fold_col + j]; accumulator row lane j = output at column col_block*fold_col + j.",
              "", "## Timing", "",
              f"Folds run back to back: a fold with `t` streamed vectors takes `max(t, {p.rows})` cycles "
              f"(at least the array's rows); a tile adds {int(ft.tile_const(p.rows, p.cols))} (fill and drain). "
              f"This is the cost model's `rtl` timing mode "
              f"(codesign/families/systolic/timing.py: {ft}).", ""]
    if p.paced:
        ks = dict(zip(PACE_CLASSES, p.pacing))
        widths = ", ".join(f"{k} {getattr(p, k)}" for k in ("glb_read_bits", "acc_read_bits", "acc_write_bits")
                           if getattr(p, k))
        lines += [f"Port pacing ({widths} bits per cycle): each cycle of that schedule (a step) lasts "
                  f"k cycles, enough for every port to move the step's words at its width: k = {ks['stream']} in a "
                  f"fold's step `tau < min(t, R)`, {ks['long']} for `R <= tau < t`, {ks['pad']} for `t <= tau < R`, "
                  f"{ks['fill']} filling (ws/is), {ks['drain']} draining, 1 at set-up "
                  "(codesign/families/systolic/pacing.py).", ""]
    return "\n".join(lines)


def host_program(arch: SystolicArch, layer: Layer, mapping: Mapping) -> list[dict]:
    """The configuration ports of every glb tile of a GEMM layer's mapping, in run order."""
    plan = make_plan(arch, layer, mapping)
    out = []
    for tile in plan.tiles():
        n = plan.folds_in(tile.extent)
        cfg = {"tile": list(tile.index), "base": dict(zip(plan.dims, tile.base))}
        fold = plan.fold_in(tile.extent)
        for r, name in enumerate(ROLE_NAMES):
            cfg |= {f"ext_{name}": tile.extent[r], f"fold_{name}": fold[r], f"nfold_{name}": n[r]}
        cfg |= {f"order_{l}": ROLE_CODES[ROLE_NAMES[plan.glb_order[i]]]
                for i, l in enumerate(("outer", "middle", "inner"))}
        cfg["accumulate"] = int(tile.index[plan.k_role] > 0)
        out.append(cfg)
    return out


def export_verilog(arch: SystolicArch, out_dir: str | Path, mapping: Mapping | None = None,
                   layer: Layer | None = None) -> ExportPaths:
    """Write ``<out_dir>/codesign_systolic.v``, ``design.json``, ``design.yaml`` and ``PORTS.md``.

    With a `mapping` (of a GEMM `layer`; without `layer`, the mapping's own
    M, N, K bounds), memories are sized for its glb tiles and the parameter
    files include its host program; otherwise memories follow `arch`'s
    capacities. Raises RtlError if the RTL cannot run the mapping.
    """
    if mapping is not None and layer is None:
        if tuple(mapping.dims) != ("M", "N", "K"):
            raise RtlError(f"mapping of {mapping.layer!r} is not a GEMM over M, N, K; pass its layer")
        layer = gemm(*mapping.bounds, name=mapping.layer)
    if layer is not None and mapping is None:
        raise RtlError("export_verilog: a layer needs its mapping")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if mapping is not None:
        params = RtlParams.for_plans(arch, [make_plan(arch, layer, mapping)])
    else:
        params = RtlParams.for_arch(arch)
    text = verilog.convert(Top(params), name=MODULE, emit_src=False)
    design = {"module": MODULE, "architecture": _plain(arch.to_params()), "rtl": params.to_dict(),
              "timing_rtl": asdict(fold_timing("rtl", arch.dataflow)),
              "lint_waivers": LINT_WAIVERS}
    if mapping is not None:
        design["layer"] = {"name": layer.name, "op": layer.op, **layer.bounds}
        design["mapping"] = mapping.to_dict()
        design["model_cycles"] = model_cycles(arch, layer, mapping)
        design["host_program"] = host_program(arch, layer, mapping)
    paths = ExportPaths(out / f"{MODULE}.v", out / "design.json", out / "design.yaml", out / "PORTS.md")
    paths.verilog.write_text(text)
    paths.design_json.write_text(json.dumps(design, indent=1) + "\n")
    paths.design_yaml.write_text(yaml.safe_dump(design, sort_keys=False))
    paths.ports_md.write_text(ports_markdown(params))
    return paths


def _plain(d: dict) -> dict:
    """JSON/YAML-safe copy (tuples to lists, recursively)."""
    def conv(v):
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v
    return conv(d)
