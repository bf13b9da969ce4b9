"""The cost model's traffic and fold sums against brute-force execution.

We actually run the loop nest of small random layers under random mappings
(ragged factors and random loop orders included) and count:
- at each boundary of a tensor the cost model keeps (dram->glb for every
  tensor, glb->pe for the stationary one), the elements fetched each time the
  tile needed below the boundary moves (a buffer holding one tile; a tile is
  fetched whole, so overlapping conv tiles share no halo);
- for the streamed operands, the distinct elements entering the array per
  iteration of all temporal loops (no storage in the array: no reuse);
- the folds, and per fold the used rows, used cols and streamed length,
  from which the compute cycles of every timing mode follow.
Empty iterations (past the bound in a ragged tile) do no work and are skipped.
"""
import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.dataflow import ROLES_ON
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.mapping import LEVELS, Mapping, MappingBatch
from codesign.families.systolic.timing import fold_timing
from codesign.workload import conv2d, gemm, matmul

TEMPORAL_F = {"dram": 0, "glb": 1, "pe": 4}


def tensor_elems(layer, tensor, point):
    """The element (tuple of axis indices) a loop point touches."""
    t = layer.tensor(tensor)
    return tuple(sum(c * point[d] for d, c in axis.terms) for axis in t.axes)


def dim_index(mapping, d, it):
    """Index of dim d from per-level iteration indices (dram outermost, pe innermost)."""
    i = mapping.dims.index(d)
    idx = 0
    for li, lvl in enumerate(LEVELS):
        idx = idx * mapping.factors[li][i] + it[lvl][d]
    return idx


def loops(mapping, lvl):
    """(dim, factor) of a temporal level, outermost first."""
    order = mapping.order[("dram", "glb", "pe").index(lvl)]
    li = LEVELS.index(lvl)
    return [(d, mapping.factors[li][mapping.dims.index(d)]) for d in order]


def brute(layer, mapping, stationary, elems=None):
    tensor_elems = elems or globals()["tensor_elems"]
    bounds = layer.bounds
    dims = layer.dim_names
    levels_loops = {l: loops(mapping, l) for l in ("dram", "glb", "pe")}
    spatial = {l: {d: mapping.factors[LEVELS.index(l)][mapping.dims.index(d)] for d in dims}
               for l in ("rows", "cols")}

    def iterate(levels):
        """All iterations of the given levels' loops, flattened, outermost first."""
        ls = [(l, d, f) for l in levels for d, f in levels_loops[l]]
        for combo in itertools.product(*(range(f) for _, _, f in ls)):
            it = {l: {} for l in levels}
            for (l, d, _), v in zip(ls, combo):
                it[l][d] = v
            yield it

    def inner_points(outer_it, inner_levels):
        """Valid loop points under a fixed outer iteration."""
        fixed = {l: outer_it.get(l, {}) for l in LEVELS}
        free = [(l, d, mapping.factors[LEVELS.index(l)][mapping.dims.index(d)])
                for l in inner_levels for d in dims]
        for combo in itertools.product(*(range(f) for _, _, f in free)):
            it = {l: dict(fixed[l]) for l in LEVELS}
            for (l, d, _), v in zip(free, combo):
                it[l][d] = v
            p = {d: dim_index(mapping, d, it) for d in dims}
            if all(p[d] < bounds[d] for d in dims):
                yield p

    counts = {}
    # kept boundaries: dram->glb for all tensors; glb->pe for the stationary one
    for cut, above, below in (("dram", ["dram"], ["glb", "rows", "cols", "pe"]),
                              ("glb", ["dram", "glb"], ["rows", "cols", "pe"])):
        ls = [(l, d) for l in above for d, f in levels_loops[l] if f > 1]
        innermost = ls[-1] if ls else None
        for t in ("inputs", "weights", "outputs"):
            if cut == "glb" and t != stationary:
                continue
            used = layer.tensor(t).dims
            prev, total, halo_total, resident, prev_it = None, 0, 0, set(), None
            for it in iterate(above):
                tile = {tensor_elems(layer, t, p) for p in inner_points(it, below)}
                if not tile:
                    continue
                # a tile is identified by its place in the nest (its relevant loop indices)
                key = tuple((l, d, v) for l in above for d, v in sorted(it[l].items()) if d in used)
                if key != prev:
                    total += len(tile)
                    step = prev_it is not None and all(
                        it[l][d] == prev_it[l][d] + ((l, d) == innermost) for l, d in ls)
                    halo_total += len(tile - resident) if step else len(tile)
                    prev, resident = key, tile
                prev_it = it
            counts[(cut, t)] = total
            if cut == "dram":
                counts[("halo", t)] = halo_total
    # streamed operands: per temporal iteration, the distinct elements on the array
    for t in ("inputs", "weights", "outputs"):
        if t == stationary:
            continue
        total = 0
        for it in iterate(["dram", "glb", "pe"]):
            total += len({tensor_elems(layer, t, p) for p in inner_points(it, ["rows", "cols"])})
        counts[("glb", t)] = total
    # folds
    folds = []
    for it in iterate(["dram", "glb"]):
        pts = list(inner_points(it, ["rows", "cols", "pe"]))
        if not pts:
            continue
        ext = {d: len({p[d] for p in pts}) for d in dims}
        ur = math.prod(ext[d] for d in dims if spatial["rows"][d] > 1)
        uc = math.prod(ext[d] for d in dims if spatial["cols"][d] > 1)
        t_len = math.prod(ext[d] for d in dims if mapping.factor("pe", d) > 1)
        folds.append((ur, uc, t_len))
    glb_tiles = sum(1 for it in iterate(["dram"]) if next(inner_points(it, ["glb", "rows", "cols", "pe"]), None))
    return counts, folds, glb_tiles


def layers():
    g = st.builds(lambda m, n, k: gemm(m, n, k), st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))
    c = st.builds(lambda c, k, h, r, s, p, dl, grp: conv2d(1, c * grp, h + (r - 1) * dl, h + dl, k * grp, r, 2,
                                                          stride=s, padding=p, dilation=dl, groups=grp),
                  st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 2),
                  st.integers(0, 1), st.integers(1, 2), st.integers(1, 2))
    b = st.builds(lambda bb, m, n, k: matmul(bb, m, n, k), st.integers(1, 3), st.integers(1, 4),
                  st.integers(1, 4), st.integers(1, 4))
    return st.one_of(g, c, b)


@st.composite
def layer_and_mapping(draw):
    layer = draw(layers())
    df = draw(st.sampled_from(["os", "ws", "is"]))
    r_role, c_role, t_role = ROLES_ON[df]
    lv = {l: {} for l in ("glb", "rows", "cols", "pe")}
    for d, b in layer.dims:
        role = layer.role(d)
        where = {r_role: "rows", c_role: "cols", t_role: "pe"}.get(role)
        if where and b > 1:
            lv[where][d] = draw(st.integers(1, b))
        n = math.ceil(b / max(lv["rows"].get(d, 1), lv["cols"].get(d, 1), lv["pe"].get(d, 1)))
        lv["glb"][d] = draw(st.sampled_from([f for f in range(1, n + 1) if n % f == 0]))
    order = {l: draw(st.permutations(layer.dim_names)) for l in ("dram", "glb", "pe")}
    m = Mapping.build(layer, **lv, order=order)
    return layer, df, m


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_and_mapping())
def test_traffic_and_folds_match_bruteforce(lm):
    layer, df, mapping = lm
    R = max(2, math.prod(mapping.level("rows").values()))
    C = max(2, math.prod(mapping.level("cols").values()))
    arch = SystolicArch(rows=R, cols=C, dataflow=df, glb_kib=1e6, acc_kib=1e6, pe_reg_words=10**6,
                        halo_reuse=False)
    st_t = arch.stationary
    counts, folds, glb_tiles = brute(layer, mapping, st_t)
    costs = evaluate(layer, arch, MappingBatch.from_mappings([mapping]))
    row = costs.row(0)
    z = layer.footprint("outputs")
    assert row["infeasible"] == "ok"
    halo = evaluate(layer, SystolicArch(**{**arch.__dict__, "halo_reuse": True}),
                    MappingBatch.from_mappings([mapping])).row(0)
    for t in ("inputs", "weights"):
        assert halo[f"dram_{t}_reads"] == halo[f"glb_{t}_fills"] == counts[("halo", t)], f"halo {t}"
    assert halo["dram_outputs_updates"] == counts[("halo", "outputs")]
    assert halo["glb_inputs_reads"] == row["glb_inputs_reads"]
    for t in ("inputs", "weights"):
        assert row[f"dram_{t}_reads"] == counts[("dram", t)], f"dram {t}"
        assert row[f"glb_{t}_fills"] == counts[("dram", t)]
        assert row[f"glb_{t}_reads"] == counts[("glb", t)], f"glb reads {t}"
    assert row["dram_outputs_updates"] == counts[("dram", "outputs")]
    assert row["dram_outputs_reads"] == counts[("dram", "outputs")] - z
    assert row["acc_outputs_updates"] == counts[("glb", "outputs")]
    assert row["acc_outputs_reads"] == counts[("glb", "outputs")] - z
    # folds and the timing summed fold by fold, for every timing mode
    assert row["folds"] == len(folds)
    assert row["mapping_efficiency"] * len(folds) * R * C == pytest.approx(sum(ur * uc for ur, uc, _ in folds))
    for timing in ("rtl", "scalesim", "ideal"):
        ft = fold_timing(timing, df)
        want = (ft.per_layer + ft.tile_const(R, C) * glb_tiles
                + sum(ft.fold_cycles(R, C, ur, uc, t) for ur, uc, t in folds))
        a = SystolicArch(**{**arch.__dict__, "timing": timing})
        got = evaluate(layer, a, MappingBatch.from_mappings([mapping])).compute_cycles[0]
        assert got == want, timing


def test_bruteforce_catches_a_wrong_count():
    """The brute force itself is not vacuous: a re-ordered nest changes counts."""
    layer = gemm(4, 4, 4)
    a = Mapping.build(layer, glb={"M": 2, "N": 2}, rows={"M": 2}, cols={"N": 2}, pe={"K": 4},
                      order={"glb": ["M", "N"]})
    b = Mapping.build(layer, glb={"M": 2, "N": 2}, rows={"M": 2}, cols={"N": 2}, pe={"K": 4},
                      order={"glb": ["N", "M"]}, dram={"K": 1})
    ca, _, _ = brute(layer, a, "outputs")
    assert ca[("glb", "inputs")] == 4 * 4 * 2       # A re-streamed for each of 2 column folds
    assert ca[("dram", "inputs")] == 16
    assert len(brute(layer, b, "outputs")[1]) == 4


def test_tilings_with_empty_iterations_are_infeasible():
    """A glb factor that does not divide the array-tile count leaves empty
    iterations; Mapping refuses it and the batch path marks it infeasible."""
    layer = gemm(2, 3, 1)
    import pytest as _pt
    from codesign.families.systolic.mapping import MappingError
    with _pt.raises(MappingError, match="glb factor must divide 3"):
        Mapping.build(layer, glb={"N": 2})
    inner = np.array([[[1, 2, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]])
    batch = MappingBatch.from_arrays(layer, inner, np.zeros((1, 3, 3), dtype=np.int64) + np.arange(3))
    arch = SystolicArch(rows=2, cols=2)
    assert evaluate(layer, arch, batch).row(0)["infeasible"] == "tiling"


@pytest.mark.parametrize("order,saves", [(["K", "P"], True), (["P", "K"], False), (["K", "R", "P"], False),
                                         (["K", "P", "R"], True)])
def test_halo_reuse_follows_the_innermost_loop(order, saves):
    """Timeloop's convention 7 on a 3-row kernel: a P split innermost at dram
    fetches only each next tile's new rows; with K inside it every P tile is
    fetched whole (as timeloop-model counts conv_tiled_pouter_16x16_g32k);
    an R split innermost slides the window the other way; P tiles over one
    kernel row share no rows."""
    layer = conv2d(1, 2, 10, 1, 2, 3, 1)                          # K2 C2 P8 R3 (Q1 S1)
    dram = {"P": 4, "K": 2, "R": 3 if "R" in order else 1}
    m = Mapping.build(layer, dram=dram, rows={"P": 2}, cols={"K": 1}, pe={"C": 2, "R": 3 // dram["R"]},
                      order={"dram": order})
    counts, _, _ = brute(layer, m, "outputs")
    arch = SystolicArch(rows=2, cols=2, dataflow="os", glb_kib=1e6, acc_kib=1e6)
    got = {h: evaluate(layer, SystolicArch(**{**arch.__dict__, "halo_reuse": h}),
                       MappingBatch.from_mappings([m])).row(0)["dram_inputs_reads"] for h in (False, True)}
    assert got[True] == counts[("halo", "inputs")] and got[False] == counts[("dram", "inputs")]
    assert (got[True] < got[False]) == saves


def pixel_elems(conv):
    """tensor_elems of a flattened `conv` with the real input pixel of each im2col entry."""
    p = dict(conv.params)
    b = conv.bounds
    P, Q, stride, dil, Cg = b["P"], b["Q"], p["stride"], p["dilation"], b["C"]

    def elems(layer, tensor, point):
        if tensor != "inputs":
            return tensor_elems(layer, tensor, point)
        n, pq = divmod(point["M"], P * Q)
        pp, q = divmod(pq, Q)
        if "CRS" in point:                      # c outermost, then r, then s
            c, rs = divmod(point["CRS"], b["R"] * b["S"])
            r, s = divmod(rs, b["S"])
        else:
            c, r, s = point["C"], point["R"], point["S"]
        return (n, point["G"] * Cg + c, pp * stride + r * dil, q * stride + s * dil)
    return elems


@st.composite
def flat_layer_and_mapping(draw):
    from codesign.families.systolic.flat import flattened
    n, c, k, h, r, s, dl, grp = (draw(st.integers(1, x)) for x in (2, 2, 2, 4, 3, 2, 2, 2))
    conv = conv2d(n, c * grp, h + (r - 1) * dl, h + dl, k * grp, r, 2, stride=s, dilation=dl, groups=grp)
    layer = flattened(conv, draw(st.sampled_from(["pixels", "im2col"])))
    if layer is None:
        layer, conv = flattened(conv2d(2, 1, 3, 3, 1, 2, 2), "pixels"), conv2d(2, 1, 3, 3, 1, 2, 2)
    df = draw(st.sampled_from(["os", "ws", "is"]))
    r_role, c_role, t_role = ROLES_ON[df]
    lv = {l: {} for l in ("glb", "rows", "cols", "pe")}
    for d, b in layer.dims:
        where = {r_role: "rows", c_role: "cols", t_role: "pe"}.get(layer.role(d))
        if where and b > 1:
            lv[where][d] = draw(st.integers(1, b))
        n_ = math.ceil(b / max(lv["rows"].get(d, 1), lv["cols"].get(d, 1), lv["pe"].get(d, 1)))
        lv["glb"][d] = draw(st.sampled_from([f for f in range(1, n_ + 1) if n_ % f == 0]))
    order = {l: draw(st.permutations(layer.dim_names)) for l in ("dram", "glb", "pe")}
    return conv, layer, df, Mapping.build(layer, **lv, order=order)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat_layer_and_mapping())
def test_flattened_tiles_match_bruteforce(clm):
    """Flattened output-pixel tiles (im2col M, runs of pixels across output rows
    and images; and the whole im2col GEMM, runs of kernel taps across channels
    too): kept input tiles hold distinct pixels, streamed inputs move im2col
    entries; the loop nest executed on the conv's real input pixels."""
    conv, layer, df, mapping = clm
    R = max(2, math.prod(mapping.level("rows").values()))
    C = max(2, math.prod(mapping.level("cols").values()))
    arch = SystolicArch(rows=R, cols=C, dataflow=df, glb_kib=1e6, acc_kib=1e6, pe_reg_words=10**6)
    counts, folds, _ = brute(layer, mapping, arch.stationary, elems=pixel_elems(conv))
    row = evaluate(layer, arch, MappingBatch.from_mappings([mapping])).row(0)
    assert row["infeasible"] == "ok" and row["folds"] == len(folds)
    for t in ("inputs", "weights"):
        assert row[f"dram_{t}_reads"] == counts[("dram", t)], f"dram {t}"
        assert row[f"glb_{t}_reads"] == counts[("glb", t)], f"glb reads {t}"
    assert row["dram_outputs_updates"] == counts[("dram", "outputs")]
    assert row["acc_outputs_updates"] == counts[("glb", "outputs")]
    # the kept glb tile: the largest glb tile's distinct pixels (and its weights)
    fp = {t: 0 for t in ("inputs", "weights")}
    inner = [math.prod(mapping.factors[l][i] for l in range(1, 5)) for i in range(len(layer.dims))]
    for it in itertools.product(*(range(f) for f in mapping.factors[0])):
        box = [range(i * x, min((i + 1) * x, b)) for i, x, (_, b) in zip(it, inner, layer.dims)]
        pts = [dict(zip(layer.dim_names, p)) for p in itertools.product(*box)]
        for t in fp:
            fp[t] = max(fp[t], len({pixel_elems(conv)(layer, t, p) for p in pts}))
    assert row["glb_bytes_used"] == sum(fp[t] * layer.tensor(t).bits / 8 for t in fp)
