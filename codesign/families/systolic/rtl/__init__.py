"""Amaranth RTL of the systolic accelerator: generator, simulation harness, Verilog export.

`Top(RtlParams)` elaborates the design; `simulate` runs a GEMM layer on it
(Amaranth pysim) against a numpy golden and the cost model's cycle formula;
`export_verilog` writes Verilog plus a parameter file and a port list.
"""
from .export import export_verilog
from .params import RtlParams
from .plan import RtlError, model_cycles
from .sim import Case, SimResult, simulate, simulate_many
from .top import Top

__all__ = ["RtlParams", "RtlError", "Top", "Case", "SimResult", "simulate", "simulate_many", "model_cycles",
           "export_verilog"]
