"""The accelerator top level: scratchpad banks, mesh, accumulator, controller.

Host protocol (PORTS.md has the full port list):

1. while ``busy`` is low, write the glb tile's operand vectors into the west
   and north scratchpad banks (``*_we``, ``*_addr``, ``*_wdata``; one word per
   cycle) and, if the tile continues a reduction whose partial sums left the
   accumulator, write them back (``acc_we``);
2. set the tile configuration ports and hold ``start`` high for one cycle;
3. wait for ``done`` (``busy`` falls; ``cycles`` holds the busy cycles);
4. read result rows: put ``acc_addr``, read ``acc_rdata`` (partial sums, to
   spill) or ``out_rdata`` (a finished tile: requantized to ``out_bits`` with
   ``requant_shift``) one cycle later.

Conv layers run as their im2col GEMM (`Layer.gemm_view()`), prepared by the host.
"""
from __future__ import annotations

from amaranth.hdl import EnableInserter, Module, Mux, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .buffers import Accumulator, Scratchpad
from .controller import Controller
from .mesh import Mesh
from .params import RtlParams

__all__ = ["Top", "top_signature", "ROLE_NAMES"]

ROLE_NAMES = ("row", "col", "time")


def top_signature(p: RtlParams) -> wiring.Signature:
    """The host-facing ports of `Top` (PORTS.md describes each)."""
    db = p.dim_bits
    sig = {"start": In(1), "busy": Out(1), "done": Out(1), "cycles": Out(p.cycle_bits)}
    for field in ("ext", "fold", "nfold"):
        sig |= {f"{field}_{r}": In(unsigned(db)) for r in ROLE_NAMES}
    sig |= {f"order_{l}": In(2) for l in ("outer", "middle", "inner")}
    sig |= {
        "accumulate": In(1),
        "west_we": In(1), "west_addr": In(p.west_addr_bits), "west_wdata": In(p.rows * p.op_bits),
        "north_we": In(1), "north_addr": In(p.north_addr_bits), "north_wdata": In(p.cols * p.op_bits),
        "acc_addr": In(p.acc_addr_bits), "acc_we": In(1), "acc_wdata": In(p.cols * p.acc_bits),
        "acc_rdata": Out(p.cols * p.acc_bits),
        "requant_shift": In(p.shift_bits), "out_rdata": Out(p.cols * p.out_bits),
    }
    return wiring.Signature(sig)


class Top(wiring.Component):
    """A systolic GEMM accelerator generated from `RtlParams`.

    `west`, `north` (Scratchpad), `acc` (Accumulator) and `ctrl` (Controller) are
    exposed so a simulation testbench can reach their memories and signals directly.
    """

    def __init__(self, p: RtlParams):
        self.p = p
        super().__init__(top_signature(p))
        self.west = Scratchpad(p.rows, p.op_bits, p.west_depth)
        self.north = Scratchpad(p.cols, p.op_bits, p.north_depth)
        self.acc = Accumulator(p)
        self.ctrl = Controller(p)

    def elaborate(self, platform):
        p, m = self.p, Module()
        m.submodules.west = west = self.west
        m.submodules.north = north = self.north
        acc, mesh, ctrl = self.acc, Mesh(p), self.ctrl
        # port pacing: the mesh and the accumulator advance with the controller's steps
        paced = (lambda e: EnableInserter(ctrl.adv)(e)) if p.paced else (lambda e: e)  # noqa: E731
        m.submodules.acc = paced(acc)
        m.submodules.mesh = paced(mesh)
        m.submodules.ctrl = ctrl
        step = (lambda en: en & ctrl.adv) if p.paced else (lambda en: en)  # noqa: E731

        m.d.comb += [ctrl.start.eq(self.start & ~ctrl.busy), self.busy.eq(ctrl.busy),
                     self.done.eq(ctrl.done), self.cycles.eq(ctrl.cycles), ctrl.accumulate.eq(self.accumulate)]
        for r, name in enumerate(ROLE_NAMES):
            m.d.comb += [ctrl.ext[r].eq(getattr(self, f"ext_{name}")),
                         ctrl.fold[r].eq(getattr(self, f"fold_{name}")),
                         ctrl.nfold[r].eq(getattr(self, f"nfold_{name}"))]
        for l, name in enumerate(("outer", "middle", "inner")):
            m.d.comb += ctrl.order[l].eq(getattr(self, f"order_{name}"))

        for bank, pre in ((west, "west"), (north, "north")):
            m.d.comb += [bank.w_en.eq(getattr(self, f"{pre}_we") & ~ctrl.busy),
                         bank.w_addr.eq(getattr(self, f"{pre}_addr")),
                         bank.w_data.eq(getattr(self, f"{pre}_wdata")),
                         bank.r_en.eq(step(getattr(ctrl, f"{pre}_en"))),
                         bank.r_addr.eq(getattr(ctrl, f"{pre}_addr"))]

        m.d.comb += [mesh.west[i].eq(Mux(ctrl.lane_valid[i], west.r_data[i], 0)) for i in range(p.rows)]
        m.d.comb += [mesh.north[j].eq(north.r_data[j]) for j in range(p.cols)]
        if p.os:
            m.d.comb += mesh.first.eq(ctrl.marker)
        else:
            m.d.comb += [mesh.swap.eq(ctrl.marker), mesh.pl_we.eq(ctrl.pl_we), mesh.pl_row.eq(ctrl.pl_row)]

        m.d.comb += [acc.valid.eq(ctrl.out_valid), acc.addr.eq(ctrl.out_addr),
                     acc.overwrite.eq(ctrl.out_overwrite), acc.used_cols.eq(ctrl.out_cols),
                     acc.bus.eq(mesh.bus),
                     acc.busy.eq(ctrl.busy), acc.host_addr.eq(self.acc_addr), acc.host_we.eq(self.acc_we),
                     acc.host_wdata.eq(self.acc_wdata), self.acc_rdata.eq(acc.host_rdata),
                     acc.shift.eq(self.requant_shift), self.out_rdata.eq(acc.host_qdata)]
        return m
