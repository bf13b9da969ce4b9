"""The FIFOs' share of the budgets for the solver: a lower bound valid for every folding
(`fifo_floor`) and the exact check of one folding (`FifoCheck`)."""
from __future__ import annotations

import numpy as np

from .arch import StreamingArch
from .cost import Options
from .engines import Pipeline
from . import finn
from .pipeline import FINN_FIFO_DEPTH, MAX_SRL_DEPTH, edges, evaluate

__all__ = ["fifo_floor", "FifoCheck"]


def fifo_floor(pipe: Pipeline, arch: StreamingArch) -> dict:
    """A lower bound on the FIFOs' LUT and BRAM18 valid for every folding (the solver takes it off the
    budgets first): ``finn`` timing, the FIFOs themselves (depth FINN_FIFO_DEPTH whatever the folding);
    ``rtl``, per edge the fewest LUTs of any depth >= 1 (an SRL FIFO of depth d >= 1 has at least
    ceil(W/2) LUTs, a block-RAM one 2 ceil(log2 d) >= 18 for d > 256: `finn.fifo_lut`) and 0 BRAM18."""
    lut = bram = 0
    for src, _, _ in edges(pipe):
        w = pipe.engine(src).channels_out * arch.op_bits
        if arch.timing == "finn":
            lut += int(finn.fifo_lut(FINN_FIFO_DEPTH, w, "rtl"))
        else:
            lut += min(int(finn.fifo_lut(1, w, "rtl")), int(finn.fifo_lut(MAX_SRL_DEPTH + 1, w, "vivado")))
    return {"lut": lut, "bram18": bram}


class FifoCheck:
    """The solver's lazy constraint: whether the engines of a folding and their FIFOs (sized from its
    schedule) fit the budgets together. Counts the foldings it rejected; `last`: the FIFO share of the last one it checked."""

    def __init__(self, pipe: Pipeline, opts: dict[str, Options], arch: StreamingArch):
        self.pipe, self.opts, self.arch = pipe, opts, arch
        self.rejected = 0
        self.last: dict | None = None
        self._seen: dict = {}

    def __call__(self, choice: dict[str, int]) -> bool:
        key = tuple(choice.values())
        if key not in self._seen:
            self._seen[key] = (self._fits(choice), self.last)
        good, self.last = self._seen[key]
        return good

    def _fits(self, choice) -> bool:
        pc = evaluate(self.pipe, self.opts, choice, self.arch)
        b = self.arch.budget()
        tot = {"lut": pc.fifo_lut, "dsp": 0, "bram18": pc.fifo_bram18}
        for name, i in choice.items():
            for r in tot:
                tot[r] += int(getattr(self.opts[name], r)[i])
        good = all(tot[r] <= b[r] for r in tot)
        self.rejected += not good
        self.last = {"lut": pc.fifo_lut, "bram18": pc.fifo_bram18}
        return good
