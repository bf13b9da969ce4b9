"""codesign's chosen mapping of a layer, written in ZigZag's and AccelForge's terms (issue 15).

Standard library only: run_zigzag.py and run_accelforge.py import it in the
peers' environments (``--pinned``), and tests/test_peers_pinned.py checks the
translation in the project's venv, without the peers installed.

A codesign mapping (``Mapping.to_dict()``) has, outermost first, ``dram``
(loops over glb tiles), ``glb`` (loops over array folds), ``rows``/``cols``
(the 16x16 os array) and ``pe`` (loops streamed through the array while
each PE keeps its output word). One buffer boundary holds all three tensors.

- ZigZag (`zigzag_pinned`): the spatial mapping (rows -> D1, cols -> D2) and
  a temporal mapping per operand, innermost level first and, in a level,
  innermost loop first (ZigZag's ``mapping_dic_origin``): the output has
  three levels (its one-word register: the ``pe`` loops; the buffer: the
  ``glb`` loops; DRAM: the ``dram`` loops), the inputs and weights two (the
  buffer: ``pe`` and ``glb`` loops; DRAM). ZigZag makes a ragged spatial
  tile a fractional unrolling (``SpatialMappingConversionStage``: the MACs
  exact, see the README for the input reads); a ragged temporal tile (``pe``
  K 181 x ``dram`` 17 over 3,072) is padded: ZigZag runs every iteration.
- AccelForge (`accelforge_pinned`): a loop nest, outermost first, of
  ``storage`` nodes (MainMemory keeps every tensor; GlobalBuffer keeps
  each tensor below the innermost ``dram`` loop that indexes it; Register
  keeps the output below the array) and ``temporal``/``spatial`` loops, each with its rank
  variable and the tile shape it leaves (AccelForge's ``tile_shape``).
  A ragged tile is a tile shape that does not divide its parent.
"""
import math

#: codesign dim -> ZigZag loop dim (conv: ZigZag's ONNX names; gemm: O[d][k] += I[d][c] * W[c][k])
ZZ_DIMS = {"conv": {"N": "B", "K": "K", "C": "C", "P": "OY", "Q": "OX", "R": "FY", "S": "FX"},
           "gemm": {"M": "D", "N": "K", "K": "C", "B": "H"}}
#: codesign dim -> AccelForge rank variable (run_accelforge.workload_yaml's einsums)
AF_RANKS = {"conv": {"K": "k", "C": "c", "P": "p", "Q": "q", "R": "r", "S": "s"},
            "gemm": {"M": "m", "N": "n", "K": "k", "B": "b"}}
#: the codesign dims that index each tensor (AccelForge's names: I, Wt, O); a conv's input through its halo
RELEVANT = {"conv": {"I": {"N", "C", "P", "Q", "R", "S"}, "Wt": {"K", "C", "R", "S"}, "O": {"N", "K", "P", "Q"}},
            "gemm": {"I": {"B", "M", "K"}, "Wt": {"B", "K", "N"}, "O": {"B", "M", "N"}}}


class NotExpressible(ValueError):
    """A codesign mapping the peer's format cannot express."""


def layer_bounds(spec):
    """codesign dim -> bound of a cases.py layer (dims of bound 1 left out)."""
    if spec["op"] == "conv":
        b = {"N": spec["N"], "K": spec["K"], "C": spec["C"], "P": spec["P"], "Q": spec["Q"],
             "R": spec["R"], "S": spec["S"]}
    else:
        b = {"B": spec["B"], "M": spec["M"], "N": spec["N"], "K": spec["K"]}
    return {d: n for d, n in b.items() if n > 1}


def _loops(mapping, level):
    """[(dim, factor)] of a temporal level, outermost first, factors > 1 only."""
    fs = mapping.get(level, {})
    return [(d, fs[d]) for d in mapping["order"][level] if fs.get(d, 1) > 1]


def _check(spec, mapping):
    names = ZZ_DIMS[spec["op"]]
    for lvl in ("dram", "glb", "rows", "cols", "pe"):
        for d, f in mapping.get(lvl, {}).items():
            if d not in names and f > 1:
                raise NotExpressible(f"{spec['name']}: dim {d} ({lvl}) has no peer name")
    if mapping.get("flat"):
        raise NotExpressible(f"{spec['name']}: a flattened mapping (pixels as one dim)")


def zigzag_pinned(spec, mapping):
    """ZigZag's form of codesign's mapping of one cases.py layer:
    ``{"spatial_mapping": {"D1": [..], "D2": [..]}, "temporal": {op: [[[dim, factor], ..] per level]}}``
    (levels and loops innermost first, ops O, I, W; module docstring)."""
    _check(spec, mapping)
    names = ZZ_DIMS[spec["op"]]
    # an array dimension left empty is filled by ZigZag's own spatial mapping generator (ResNet-18's fc:
    # C 8 on D1, on top of the temporal C loops): pin it to a dim of ours unrolled 1
    idle = {"D1": names["Q" if spec["op"] == "conv" else "M"], "D2": names["K" if spec["op"] == "conv" else "N"]}
    spatial = {oa: [f"{names[d]}, {f}" for d, f in mapping.get(lvl, {}).items() if f > 1] or [f"{idle[oa]}, 1"]
               for oa, lvl in (("D1", "rows"), ("D2", "cols"))}
    inner = [[names[d], f] for d, f in reversed(_loops(mapping, "pe"))]
    mid = [[names[d], f] for d, f in reversed(_loops(mapping, "glb"))]
    outer = [[names[d], f] for d, f in reversed(_loops(mapping, "dram"))]
    temporal = {"O": [inner, mid, outer], "I": [inner + mid, outer], "W": [inner + mid, outer]}
    return {"spatial_mapping": spatial, "temporal": temporal}


def accelforge_pinned(spec, mapping):
    """AccelForge's form of codesign's mapping of one cases.py layer: nodes outermost first,
    ``["storage", component, [tensors]]`` or ``[kind, rank, tile_shape, spatial name or None]``
    (module docstring). The tile shapes are codesign's tiles (`Mapping.tile`)."""
    _check(spec, mapping)
    ranks = AF_RANKS[spec["op"]]
    bounds = layer_bounds(spec)
    if spec["op"] == "conv" and spec["N"] > 1:
        raise NotExpressible(f"{spec['name']}: batch > 1 (run_accelforge's einsum has no batch rank)")
    inner_levels = {"dram": ("glb", "rows", "cols", "pe"), "glb": ("rows", "cols", "pe"),
                    "rows": ("cols", "pe"), "cols": ("pe",), "pe": ()}

    def tile(level, d):
        """Extent of dim d in one tile inside `level`'s loops (codesign's Mapping.tile of the next level)."""
        return min(bounds[d], math.prod(mapping.get(lv, {}).get(d, 1) for lv in inner_levels[level]))

    tensors = ["I", "O", "Wt"]
    nodes = [["storage", "MainMemory", tensors]]
    dram = _loops(mapping, "dram")
    # codesign keeps a tensor in the buffer across the dram loops inside its innermost relevant one
    # (its reuse rule); AccelForge refetches below its storage node, so each tensor's GlobalBuffer
    # node sits right below the innermost dram loop that indexes it
    relevant = RELEVANT[spec["op"]]
    at = {t: max([i + 1 for i, (d, _) in enumerate(dram) if d in relevant[t]], default=0) for t in tensors}
    for i in range(len(dram) + 1):
        here = [t for t in tensors if at[t] == i]
        if here:
            nodes.append(["storage", "GlobalBuffer", here])
        if i < len(dram):
            nodes.append(["temporal", ranks[dram[i][0]], tile("dram", dram[i][0]), None])
    nodes += [["temporal", ranks[d], tile("glb", d), None] for d, _ in _loops(mapping, "glb")]
    for lvl, name in (("rows", "reuse_weight"), ("cols", "reuse_input")):
        nodes += [["spatial", ranks[d], tile(lvl, d), name] for d, f in mapping.get(lvl, {}).items() if f > 1]
    nodes.append(["storage", "Register", ["O"]])
    nodes += [["temporal", ranks[d], 1, None] for d, _ in _loops(mapping, "pe")]   # one factor per dim and level
    return nodes


def loop_extents(spec, zz):
    """codesign dim -> (spatial, temporal) iterations of ZigZag's pinned form (the output's
    levels; a dim's spatial factors may be split over D1 and D2)."""
    back = {v: k for k, v in ZZ_DIMS[spec["op"]].items()}
    out = {d: [1, 1] for d in layer_bounds(spec)}
    for loops in zz["spatial_mapping"].values():
        for s in loops:
            d, f = s.split(", ")
            if back[d] in out or int(f) > 1:     # an idle array dim pinned to a dim of bound 1
                out[back[d]][0] *= int(f)
    for level in zz["temporal"]["O"]:
        for d, f in level:
            out[back[d]][1] *= f
    return {d: tuple(v) for d, v in out.items()}


def padded_macs(spec, zz):
    """MACs ZigZag charges for its pinned form of a layer: a ragged spatial tile becomes ZigZag's
    fractional unrolling, ``bound / ceil(bound / spatial)`` per temporal iteration (exact), a ragged
    temporal tile runs in full (padding): per dim ``temporal x bound / ceil(bound / spatial)``."""
    bounds = layer_bounds(spec)
    return math.prod(t * bounds[d] / -(-bounds[d] // s) for d, (s, t) in loop_extents(spec, zz).items())
