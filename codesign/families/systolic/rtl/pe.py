"""Processing elements: one multiply-accumulate per cycle, all outputs registered.

`OsPE` (output stationary) keeps a partial sum; `WsPE` (weight stationary,
also used for input stationary) keeps a weight. Products are
``op_bits x op_bits`` signed; sums wrap at ``acc_bits`` (two's complement).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["OsPE", "WsPE"]


class OsPE(wiring.Component):
    """Output-stationary PE.

    Each cycle it forwards ``a`` to the right and ``b`` downwards (one
    register each) and adds ``a*b`` to ``acc``. The flags travel with ``a``:
    ``first`` restarts the sum (``acc <= a*b``), ``last`` marks the final
    operand pair; one cycle later ``out_sel`` is high for exactly one cycle
    while ``acc`` holds the finished sum (the column bus reads it then).
    """

    def __init__(self, op_bits: int, acc_bits: int):
        self.op_bits, self.acc_bits = op_bits, acc_bits
        super().__init__({
            "a": In(signed(op_bits)), "b": In(signed(op_bits)), "first": In(1), "last": In(1),
            "a_out": Out(signed(op_bits)), "b_out": Out(signed(op_bits)),
            "first_out": Out(1), "last_out": Out(1),
            "acc": Out(signed(acc_bits)), "out_sel": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        prod = self.a * self.b
        m.d.sync += [
            self.a_out.eq(self.a), self.b_out.eq(self.b),
            self.first_out.eq(self.first), self.last_out.eq(self.last),
            self.acc.eq(Mux(self.first, 0, self.acc) + prod),
            self.out_sel.eq(self.last),
        ]
        return m


class WsPE(wiring.Component):
    """Weight-stationary PE.

    ``w_we`` loads ``w_data`` into the weight register; in that same cycle
    the product already uses ``w_data`` (bypass), so a preload can meet the
    first streamed operand in the same wavefront. Each cycle it forwards
    ``a`` to the right and passes ``psum_out <= psum_in + a*w`` downwards.
    """

    def __init__(self, op_bits: int, acc_bits: int):
        self.op_bits, self.acc_bits = op_bits, acc_bits
        super().__init__({
            "a": In(signed(op_bits)), "psum_in": In(signed(acc_bits)),
            "w_data": In(signed(op_bits)), "w_we": In(1),
            "a_out": Out(signed(op_bits)), "psum_out": Out(signed(acc_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        w = Signal(signed(self.op_bits))
        prod = self.a * Mux(self.w_we, self.w_data, w)
        with m.If(self.w_we):
            m.d.sync += w.eq(self.w_data)
        m.d.sync += [self.a_out.eq(self.a), self.psum_out.eq(self.psum_in + prod)]
        return m
