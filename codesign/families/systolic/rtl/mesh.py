"""The PE mesh with its operand skew and its column output buses.

Operands enter as whole vectors (one scratchpad word per cycle); the mesh
skews them so that lane ``i`` of the west vector reaches row ``i`` ``i``
cycles later and lane ``j`` of the north vector reaches column ``j`` ``j``
cycles later. Inside, ``a`` moves one PE right per cycle, so PE(i, j) sees
the operands of the vector entered at cycle ``x`` at cycle ``x + i + j``:
a wavefront. The fold marker (os ``first``, ws ``swap``) enters with the
west vector on every row and rides the same wavefront, so consecutive
folds follow each other through the mesh without a bubble.

Each column has one output bus (``acc_bits`` wide). Output stationary: the
PE whose ``first`` input is high (the previous fold's sum, in the cycle it
is replaced; a balanced one-hot mux tree, at most one row per column is
selected because fold markers are at least ``rows`` cycles apart).
Weight/input stationary: the partial sum leaving the last physical row, so
the output latency is the same for every fold (unused rows add zero).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .params import RtlParams
from .pe import OsPE, WsPE

__all__ = ["Mesh", "delayed", "onehot_mux"]


def onehot_mux(pairs: list[tuple[Value, Value]]) -> tuple[Value, Value]:
    """(any select, selected value) of (select, value) pairs with at most one select high.

    A balanced tree of 2:1 muxes (log depth in hardware); with no select high
    the value is one of the inputs, which no one samples.
    """
    if len(pairs) == 1:
        return pairs[0]
    lo, hi = onehot_mux(pairs[:len(pairs) // 2]), onehot_mux(pairs[len(pairs) // 2:])
    return lo[0] | hi[0], Mux(lo[0], lo[1], hi[1])


def delayed(m: Module, value: Value, cycles: int, name: str) -> Value:
    """`value` delayed by `cycles` registers (the value itself when 0)."""
    for k in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{k + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


class Mesh(wiring.Component):
    """rows x cols PEs (os or ws flavour) with skew and column buses.

    Ports (all per fold, driven by the controller):

    - ``west``: `rows` signed lanes (os: inputs/A; ws/is: the streamed operand),
      ``first`` (os) / ``swap`` (ws/is): the fold marker, one bit for all rows;
    - ``north``: `cols` signed lanes (os: B, streamed; ws/is: the stationary
      operand's row being preloaded into the shadow registers), ``pl_we``/``pl_row``
      (ws/is): preload write enable and target row, applied to column 0 and skewed with the data;
    - ``bus``: per column, the output value.
    """

    def __init__(self, p: RtlParams):
        self.p = p
        row_bits = max(1, (p.rows - 1).bit_length())
        sig = {
            "west": In(data.ArrayLayout(signed(p.op_bits), p.rows)),
            "north": In(data.ArrayLayout(signed(p.op_bits), p.cols)),
            "bus": Out(data.ArrayLayout(signed(p.acc_bits), p.cols)),
        }
        if p.os:
            sig |= {"first": In(1)}
        else:
            sig |= {"swap": In(1), "pl_we": In(1), "pl_row": In(unsigned(row_bits))}
        super().__init__(sig)

    def elaborate(self, platform):
        p, m = self.p, Module()
        R, C = p.rows, p.cols
        west = [delayed(m, self.west[i], i, f"west{i}") for i in range(R)]
        north = [delayed(m, self.north[j], j, f"north{j}") for j in range(C)]
        if p.os:
            first = [delayed(m, self.first, i, f"first{i}") for i in range(R)]
            pes = [[OsPE(p.op_bits, p.acc_bits) for _ in range(C)] for _ in range(R)]
            for i in range(R):
                for j in range(C):
                    pe = pes[i][j]
                    m.submodules[f"pe_{i}_{j}"] = pe
                    left = (west[i], first[i]) if j == 0 else (pes[i][j - 1].a_out, pes[i][j - 1].first_out)
                    m.d.comb += [pe.a.eq(left[0]), pe.first.eq(left[1]),
                                 pe.b.eq(north[j] if i == 0 else pes[i - 1][j].b_out)]
            for j in range(C):
                m.d.comb += self.bus[j].eq(onehot_mux([(pes[i][j].first, pes[i][j].acc) for i in range(R)])[1])
        else:
            swap = [delayed(m, self.swap, i, f"swap{i}") for i in range(R)]
            we = [self.pl_we] + [Signal(name=f"pl_we_c{j}") for j in range(1, C)]
            row = [self.pl_row] + [Signal.like(self.pl_row, name=f"pl_row_c{j}") for j in range(1, C)]
            for j in range(1, C):
                m.d.sync += [we[j].eq(we[j - 1]), row[j].eq(row[j - 1])]
            pes = [[WsPE(p.op_bits, p.acc_bits) for _ in range(C)] for _ in range(R)]
            for i in range(R):
                for j in range(C):
                    pe = pes[i][j]
                    m.submodules[f"pe_{i}_{j}"] = pe
                    m.d.comb += [pe.a.eq(west[i] if j == 0 else pes[i][j - 1].a_out),
                                 pe.swap.eq(swap[i] if j == 0 else pes[i][j - 1].swap_out),
                                 pe.psum_in.eq(0 if i == 0 else pes[i - 1][j].psum_out),
                                 pe.w_data.eq(north[j]), pe.w_we.eq(we[j] & (row[j] == i))]
            for j in range(C):
                m.d.comb += self.bus[j].eq(pes[R - 1][j].psum_out)
        return m
