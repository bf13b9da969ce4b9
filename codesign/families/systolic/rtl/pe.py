"""Processing elements: one multiply-accumulate per cycle, all outputs registered.

`OsPE` (output stationary) keeps a partial sum; `WsPE` (weight stationary,
also used for input stationary) keeps a weight and a shadow weight (the
next fold's, loaded while this fold streams). Products are
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
    register each) and adds ``a*b`` to ``acc``. ``first`` travels with
    ``a`` and marks the first operand pair of a fold: the sum restarts
    (``acc <= a*b``), and in that same cycle ``acc`` still holds the
    previous fold's finished sum, which the column bus reads (``first`` is
    the PE's output select). So folds run back to back with no second sum
    register: a sum is read in the one cycle before it is overwritten.
    """

    def __init__(self, op_bits: int, acc_bits: int):
        self.op_bits, self.acc_bits = op_bits, acc_bits
        super().__init__({
            "a": In(signed(op_bits)), "b": In(signed(op_bits)), "first": In(1),
            "a_out": Out(signed(op_bits)), "b_out": Out(signed(op_bits)), "first_out": Out(1),
            "acc": Out(signed(acc_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [
            self.a_out.eq(self.a), self.b_out.eq(self.b), self.first_out.eq(self.first),
            self.acc.eq(Mux(self.first, 0, self.acc) + self.a * self.b),
        ]
        return m


class WsPE(wiring.Component):
    """Weight-stationary PE with a double-buffered weight.

    ``w_we`` loads ``w_data`` into the shadow register. ``swap`` travels
    with ``a`` and marks the first streamed operand of a fold: in that
    cycle the product already uses the shadow weight, which moves into the
    active register (a shadow write in the same cycle is the next fold's
    and lands in the shadow). Each cycle it forwards ``a`` and ``swap`` to
    the right and passes ``psum_out <= psum_in + a*w`` downwards.
    """

    def __init__(self, op_bits: int, acc_bits: int):
        self.op_bits, self.acc_bits = op_bits, acc_bits
        super().__init__({
            "a": In(signed(op_bits)), "swap": In(1), "psum_in": In(signed(acc_bits)),
            "w_data": In(signed(op_bits)), "w_we": In(1),
            "a_out": Out(signed(op_bits)), "swap_out": Out(1), "psum_out": Out(signed(acc_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        w, shadow = Signal(signed(self.op_bits)), Signal(signed(self.op_bits))
        cur = Mux(self.swap, shadow, w)
        with m.If(self.swap):
            m.d.sync += w.eq(shadow)
        with m.If(self.w_we):
            m.d.sync += shadow.eq(self.w_data)
        m.d.sync += [self.a_out.eq(self.a), self.swap_out.eq(self.swap),
                     self.psum_out.eq(self.psum_in + self.a * cur)]
        return m
