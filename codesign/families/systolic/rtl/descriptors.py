"""From a GEMM layer's mapping to the SoC's tile program: descriptors and the DRAM image.

One descriptor per glb tile, in the mapping's dram-level loop order (the
order `Plan.tiles` gives; `regs.FIELD_DOC` lists the words). The DRAM holds,
per operand block, its west or north words exactly as the scratchpad
banks hold them (`sim._words`: fold-sized blocks, lanes past the fold or
the tile edge zero; a ragged tile's words only, no padding), and per output tile one region of accumulator rows
(written by stores, read back by reloads). A word of ``B`` bits takes
``ceil(B / (8 * data_bytes))`` beats, low beat first; regions follow each
other, aligned to the data width.

Flags per tile ``i``: ``accumulate`` when its reduction index is > 0;
``reload`` when it also starts a new output-tile visit (the partial sums
were stored after an earlier visit); ``store`` when tile ``i + 1`` belongs
to another output tile or ``i`` is the last tile; ``keep_west`` /
``keep_north`` when tile ``i``'s west / north block is tile ``i - 1``'s (the
same row and time tile indices for west; col and the north run role's for
north): the SoC skips that load, and the descriptor points at the block
already laid out.``quant`` on the store after the last
reduction tile (the outputs are final): the SoC stores them requantized
(`sim.requantize` at `Program.shift`, `sim.requant_shift`'s default), so
a final output region holds rows of ``cols * out_bits`` bits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arch import SystolicArch
from ..mapping import Mapping
from ....workload import Layer
from .controller import ROLE_CODES
from .dma import beats_per_word
from .params import RtlParams
from .plan import COL, ROW, TIME, Plan, make_plan
from .regs import FIELDS, SHIFT_LSB, flag_bits
from .sim import _operand, _pack, _unpack, _words, requant_shift
from .top import ROLE_NAMES

__all__ = ["Program", "make_program", "read_outputs", "to_beats", "from_beats"]


def to_beats(word: int, k: int, data_bytes: int) -> list[int]:
    """One on-chip word as `k` beats of ``8 * data_bytes`` bits, low beat first."""
    mask = (1 << (8 * data_bytes)) - 1
    return [(word >> (8 * data_bytes * i)) & mask for i in range(k)]


def from_beats(beats: list[int], data_bytes: int) -> int:
    """The word `to_beats` split."""
    return sum(b << (8 * data_bytes * i) for i, b in enumerate(beats))


@dataclass(frozen=True)
class Program:
    """A layer's tile program: `descriptors` (dicts over `regs.FIELDS`), the DRAM image
    (`beats`, one int per data-width beat from byte address 0) and the output regions
    (output-tile key -> (byte address, rows, the last tile of that output tile))."""

    plan: Plan
    data_bytes: int
    descriptors: tuple[dict, ...]
    beats: tuple[int, ...]
    out_regions: dict
    shift: int = 0          # the final stores' requantization shift

    def words(self, i: int) -> list[int]:
        """Descriptor `i` as its 32-bit words (what the host writes)."""
        return [int(self.descriptors[i][f]) & 0xFFFFFFFF for f in FIELDS]


class _Image:
    """DRAM image being laid out: regions appended at data-width alignment."""

    def __init__(self, data_bytes: int):
        self.db, self.beats = data_bytes, []

    def put(self, words: list[int], k: int) -> int:
        addr = len(self.beats) * self.db
        for w in words:
            self.beats += to_beats(w, k, self.db)
        return addr

    def reserve(self, n_beats: int) -> int:
        addr = len(self.beats) * self.db
        self.beats += [0] * n_beats
        return addr


def make_program(arch: SystolicArch, layer: Layer, mapping: Mapping, a: np.ndarray, b: np.ndarray,
                 params: RtlParams, data_bytes: int, reuse: bool = True) -> Program:
    """The descriptors and DRAM image that run ``a @ b`` (a: M x K, b: K x N) with `mapping`;
    without `reuse` no keep flags (every tile loads both operands: a comparison, not what the
    ``soc`` model times)."""
    plan = make_plan(arch, layer, mapping)
    dims, k_role = plan.dims, plan.k_role
    x_role = TIME if plan.dataflow == "os" else ROW
    y_role = ROW if plan.dataflow == "os" else TIME
    west_op = _operand(a, b, dims[ROW], dims[TIME])
    north_op = _operand(a, b, dims[COL], dims[x_role])
    kw = beats_per_word(params, data_bytes)
    shift = min(requant_shift(layer.bounds["K"], params.op_bits, params.out_bits), params.acc_bits - 1)
    k_tiles = len(plan.tiles_along(k_role))
    img = _Image(data_bytes)
    tiles = list(plan.tiles())
    out_roles = [r for r in range(3) if r != k_role]
    key = lambda t: tuple(t.index[r] for r in out_roles)  # noqa: E731
    regions, descs, src = {}, [], {}
    for i, tile in enumerate(tiles):
        n = plan.folds_in(tile.extent)
        keep = {}
        for op, role, lanes, bank, blk in ((west_op, TIME, params.rows, "west", ROW),
                                           (north_op, x_role, params.cols, "north", COL)):
            keep[bank] = reuse and i > 0 and all(tiles[i - 1].index[r] == tile.index[r] for r in (blk, role))
            if not keep[bank]:
                sub = op[tile.base[blk]:tile.base[blk] + tile.extent[blk],
                         tile.base[role]:tile.base[role] + tile.extent[role]]
                words = _pack(_words(sub, n[blk], plan.fold[blk], lanes), params.op_bits)
                src[bank] = (img.put(words, kw[bank]), len(words))
        rows = n[COL] * tile.extent[y_role]
        if key(tile) not in regions:
            regions[key(tile)] = [img.reserve(rows * kw["acc"]), rows, i]
        regions[key(tile)][2] = i
        resumes = tile.index[k_role] > 0
        new_visit = i == 0 or key(tiles[i - 1]) != key(tile)
        last_visit = i + 1 == len(tiles) or key(tiles[i + 1]) != key(tile)
        d = {f"ext_{nm}": tile.extent[r] for r, nm in enumerate(ROLE_NAMES)}
        d |= {f"fold_{nm}": plan.fold_in(tile.extent)[r] for r, nm in enumerate(ROLE_NAMES)}
        d |= {f"nfold_{nm}": n[r] for r, nm in enumerate(ROLE_NAMES)}
        order = sum(ROLE_CODES[ROLE_NAMES[plan.glb_order[l]]] << (2 * l) for l in range(3))
        d["flags"] = (order | (int(resumes) << flag_bits["accumulate"])
                      | (int(resumes and new_visit) << flag_bits["reload"]) | (int(last_visit) << flag_bits["store"])
                      | (int(keep["west"]) << flag_bits["keep_west"]) | (int(keep["north"]) << flag_bits["keep_north"])
                      | (int(last_visit and tile.index[k_role] == k_tiles - 1) << flag_bits["quant"])
                      | (shift << SHIFT_LSB))
        d |= {"west_src": src["west"][0], "west_words": src["west"][1], "north_src": src["north"][0],
              "north_words": src["north"][1], "acc_addr": regions[key(tile)][0], "acc_words": rows}
        descs.append(d)
    return Program(plan, data_bytes, tuple(descs), tuple(img.beats),
                   {k: tuple(v) for k, v in regions.items()}, shift)


def read_outputs(prog: Program, params: RtlParams, beats: list[int], bounds_mn: tuple[int, int]) -> np.ndarray:
    """The M x N result from the DRAM beats after the program ran (every output tile's final rows,
    requantized: ``cols`` lanes of ``out_bits``)."""
    plan = prog.plan
    dims = plan.dims
    y_role = ROW if plan.dataflow == "os" else TIME
    out = np.zeros(bounds_mn, dtype=np.int64)
    view = out if (dims[COL], dims[y_role]) == ("M", "N") else out.T
    k = beats_per_word(params, prog.data_bytes)["out"]
    tiles = list(plan.tiles())
    for addr, rows, last in prog.out_regions.values():
        tile = tiles[last]
        base = addr // prog.data_bytes
        words = np.array([_unpack(from_beats(beats[base + r * k:base + (r + 1) * k], prog.data_bytes),
                                  params.cols, params.out_bits) for r in range(rows)], dtype=np.int64)
        n_col, f = plan.folds_in(tile.extent)[COL], plan.fold[COL]
        blk = words[:, :f].reshape(n_col, tile.extent[y_role], f).transpose(0, 2, 1).reshape(n_col * f, -1)
        view[tile.base[COL]:tile.base[COL] + tile.extent[COL],
             tile.base[y_role]:tile.base[y_role] + tile.extent[y_role]] = blk[:tile.extent[COL]]
    return out

