"""The mapping space of one layer on one systolic architecture.

A mapping fixes, per dim, three numbers and, per temporal level, a loop
order (see `codesign.families.systolic.mapping`). The space this module defines:

**Tile factors, per dim** (bound ``B``). The dataflow puts the dim's role on
one array level (os: m -> rows, n -> cols, k -> pe; ws: k -> rows,
n -> cols, m -> pe; is: k -> rows, m -> cols, n -> pe; ``g`` dims such as
groups never go on the array). On that level the *array tile* ``a`` takes
one of

- ``ceil(B / n)`` for every ``n = 1..B``: the smallest tile giving ``n``
  array folds. These include every divisor of ``B``; the others leave a
  ragged last fold (e.g. ``B = 56`` on 16 rows: 14, 12, 10, 8, ..., 1);
- on rows/cols also ``min(B, side)``, the full-width tile (same fold count
  as the ``ceil`` tile, bigger tiles: 16 rather than 14 for ``B = 56``);
- capped by the array side on rows/cols (several dims of one role share
  it: the product of their factors is checked against the side).

With ``F = ceil(B / a)`` array folds, the ``glb`` factor ``g`` is any
divisor of ``F`` and the ``dram`` factor is ``F / g`` (the lead's rule in
`Mapping`: ragged tiles only at the array level). Dims of bound 1 have the
single candidate ``a = g = 1``.

**Loop orders.** Only loops with factor > 1 exist, so only their relative
order matters. Under the cost model's reuse rule a tensor's tile is
re-fetched per iteration of every enclosing loop except the trailing run of
loops over dims it does not use. Every non-``g`` dim is unused by exactly
one tensor (an m-dim by the weights, an n-dim by the inputs, a k-dim by the
outputs), a ``g`` dim by none. So in any order the trailing run of
"unused" loops is non-empty for at most one tensor: the run of loops of
the role of the innermost loop. Two orders of a level are therefore
*equivalent* (same traffic for all three tensors) iff they have the same
innermost role ``r`` and the same set ``S`` of role-``r`` loops after the
last loop of another role (`reuse_class`). Among the classes, ``S`` = all
active role-``r`` loops dominates (more exempt loops, nothing else
changes), and ``g`` loops are best outermost; that leaves, per level,
one order per role that has dims: `dram_orders` (``g`` dims, then the
other roles, then role ``r`` innermost). At the ``glb`` level only the
stationary operand's reuse depends on the order (the streamed operands are
re-read every cycle whatever the order), so one order dominates there:
the stationary operand's unused dims innermost (`glb_order`). The ``pe``
order changes no count in the cost model; it is the layer's dim order.

With halo reuse (``hardware.halo_reuse``, see `traffic`) the dram order
also decides which dim's loop is innermost among those that iterate: a
*sliding* dim there (a conv's P, Q, R or S) fetches each next glb tile's
new rows only. So besides the canonical order of each role, the dram level
searches, per sliding dim, the canonical order of its role with that dim
innermost: any order whose innermost iterating loop is a sliding dim is
then matched (same reuse class or a better one, same halo sweep), and one
whose innermost iterating loop is another dim is matched by its role's
canonical order (whose own innermost iterating loop may slide: only lower
input traffic).

**Pins** (the ``Mapping.to_dict()`` shape, e.g. ``{"glb": {"M": 4},
"order": {"dram": ["K", "N"]}}``) fix the given entries: a pinned factor
restricts that dim's candidates (a pinned array factor is added even if it
is not one of the candidates above), a pinned order replaces the orders of
that level (dims not listed follow in layer order, as in `Mapping.build`).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .arch import SystolicArch
from .dataflow import ROLES_ON, level_of_role
from .soc_stalls import compute_timing
from ...workload import Layer
from .flat import flat_kind
from .mapping import LEVELS, TEMPORAL, Mapping, MappingBatch, MappingError
from .pins import check_pin
from .quotients import array_tiles, dim_candidates

__all__ = ["DimSpace", "MappingSpace", "array_tiles", "check_counts", "reuse_class", "ROLE_ORDER",
           "EXACT_COUNT"]

#: the roles, in the order the canonical loop orders list them (outermost first)
ROLE_ORDER = ("g", "m", "n", "k")


@dataclass(frozen=True)
class DimSpace:
    """The candidates of one dim: parallel arrays, one entry per (array tile,
    glb factor) pair. `level` is the array level its role goes on (None for
    ``g`` dims, which stay off the array)."""

    name: str
    bound: int
    role: str
    level: str | None
    a: np.ndarray = field(repr=False)
    g: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.a)

    @property
    def F(self) -> np.ndarray:
        """Array folds along the dim, ``ceil(B / a)``."""
        return -(-self.bound // np.minimum(self.a, self.bound))

    @property
    def D(self) -> np.ndarray:
        """The derived dram factor ``F / g``."""
        return self.F // self.g

    @property
    def t(self) -> np.ndarray:
        """The glb tile ``min(a * g, B)``."""
        return np.minimum(self.a * self.g, self.bound)


def reuse_class(order: tuple[str, ...], factors: dict[str, int], layer: Layer) -> tuple[str, frozenset]:
    """The reuse-equivalence class of a level's loop order (module docstring):
    the role of the innermost loop with factor > 1 and the set of loops of
    that role after the last loop of another role. ``("", {})`` when the
    level has no loop or its innermost loop is a ``g`` dim (no reuse)."""
    active = [d for d in order if factors.get(d, 1) > 1]
    if not active or layer.role(active[-1]) == "g":
        return "", frozenset()
    r = layer.role(active[-1])
    run = list(itertools.takewhile(lambda d: layer.role(d) == r, reversed(active)))
    return r, frozenset(run)


@dataclass(frozen=True)
class MappingSpace:
    """The mapping space of `layer` on `arch`, optionally with a `pin`.

    `dims` holds the candidates of every dim of the layer (layer order);
    `dram_orders` and `glb_orders` the loop orders searched at those levels
    (canonical representatives of the non-dominated reuse classes, or the
    pinned order); `pe_order` the order used at the pe level. Raises
    `MappingError` (naming the pin key) for a pin that cannot be honoured.
    """

    layer: Layer
    arch: SystolicArch
    pin: dict | None = None

    def __post_init__(self):
        check_counts(self.layer, self.arch)
        check_pin(self.layer, self.pin or {}, self.arch)

    # -- per-dim candidates -------------------------------------------------
    @cached_property
    def level_of(self) -> dict[str, str | None]:
        """Array level of each dim under the dataflow (None: ``g`` dims)."""
        on = level_of_role(self.arch.dataflow)
        return {d: on.get(self.layer.role(d)) for d in self.layer.dim_names}

    @cached_property
    def dims(self) -> tuple[DimSpace, ...]:
        pin = self.pin or {}
        out = []
        for d, b in self.layer.dims:
            lvl = self.level_of[d]
            side = {"rows": self.arch.rows, "cols": self.arch.cols}.get(lvl)
            tile = 1 if lvl is None else pin.get(lvl, {}).get(d)
            a, g = dim_candidates(b, side, tile)
            keep = np.ones(len(a), bool)
            if d in pin.get("glb", {}):
                keep &= g == pin["glb"][d]
            if d in pin.get("dram", {}):
                keep &= -(-b // np.minimum(a, b)) // g == pin["dram"][d]
            if not keep.all():
                a, g = a[keep], g[keep]
            if not len(a):
                raise MappingError(f"mapping.{self.layer.name}.{self._pin_key(d)}: no tiling of {d} (bound {b}) "
                                   f"has these factors (the glb factor must divide the number of array tiles "
                                   f"and dram is the quotient)")
            out.append(DimSpace(d, b, self.layer.role(d), lvl, a, g))
        return tuple(out)

    def _pin_key(self, d: str) -> str:
        keys = [lvl for lvl in LEVELS if d in (self.pin or {}).get(lvl, {})]
        return f"{keys[0]}.{d}" if keys else d

    # -- loop orders ----------------------------------------------------------
    @property
    def stationary(self) -> str:
        return self.arch.stationary

    @cached_property
    def roles(self) -> tuple[str, ...]:
        """Roles of the dims of bound > 1, in `ROLE_ORDER`."""
        present = {self.layer.role(d) for d, b in self.layer.dims if b > 1}
        return tuple(r for r in ROLE_ORDER if r in present)

    def canonical_order(self, innermost: str, last: str | None = None) -> tuple[str, ...]:
        """Dims of bound 1 first, then ``g`` dims, then the other roles in
        `ROLE_ORDER`, role `innermost` last (layer order within a role, but
        dim `last`, of that role, innermost)."""
        names = self.layer.dim_names
        one = [d for d, b in self.layer.dims if b == 1]
        live = [d for d in names if d not in one]
        seq = [r for r in ROLE_ORDER if r != innermost] + [innermost]
        out = [d for r in seq for d in live if self.layer.role(d) == r and d != last]
        return tuple(one + out + ([last] if last is not None else []))

    @cached_property
    def sliding_dims(self) -> frozenset[str]:
        """Live dims of a two-dim tensor axis (a conv's P, Q, R, S): with
        ``halo_reuse`` the innermost iterating dram loop over one of them
        keeps the rows consecutive glb tiles share."""
        if not self.arch.halo_reuse:
            return frozenset()
        b = self.layer.bounds
        out: set[str] = set()
        for t in self.layer.tensors:
            for a in t.axes:
                terms = [(d, c) for d, c in a.terms if b[d] > 1]
                if len(terms) == 2:             # and two tiles can share a row (G*Cg + C never does)
                    (d1, c1), (d2, c2) = terms
                    g = math.gcd(c1, c2)
                    if b[d1] > c2 // g and b[d2] > c1 // g:
                        out |= {d1, d2}
        return frozenset(out)

    @cached_property
    def dram_orders(self) -> tuple[tuple[str, ...], ...]:
        """One order per non-dominated reuse class (per role with live
        non-``g`` dims; the first ``len(canonical)``), then, with halo reuse,
        one per sliding dim that is not already innermost in its role's
        canonical order, that dim innermost; or the pinned order."""
        pinned = self._pinned_order("dram")
        if pinned is not None:
            return (pinned,)
        roles = [r for r in self.roles if r != "g"] or ["g"]
        canon = [self.canonical_order(r) for r in roles]
        extra = [self.canonical_order(self.layer.role(d), d) for d in self.layer.dim_names
                 if d in self.sliding_dims and self.layer.role(d) in roles]
        return tuple(canon + [o for o in extra if o not in canon])

    def halo_dim(self, order: int) -> str | None:
        """The sliding dim that dram order `order` puts innermost (None: not one)."""
        o = self.dram_orders[order]
        live = [d for d in o if self.layer.bounds[d] > 1]
        return live[-1] if live and live[-1] in self.sliding_dims else None

    @property
    def canonical_orders(self) -> int:
        """How many of `dram_orders` are reuse-class representatives (the rest: halo orders)."""
        if self._pinned_order("dram") is not None:
            return 1
        return len([r for r in self.roles if r != "g"] or ["g"])

    @cached_property
    def glb_orders(self) -> tuple[tuple[str, ...], ...]:
        """The stationary operand's unused dims innermost, or the pinned order."""
        pinned = self._pinned_order("glb")
        if pinned is not None:
            return (pinned,)
        st = self.layer.tensor(self.stationary)
        unused = [d for d in self.layer.dim_names if d not in st.dims]
        r = self.layer.role(unused[0]) if unused else "g"
        return (self.canonical_order(r),)

    @cached_property
    def pe_order(self) -> tuple[str, ...]:
        pinned = self._pinned_order("pe")
        return pinned if pinned is not None else self.layer.dim_names

    def _pinned_order(self, level: str) -> tuple[str, ...] | None:
        o = ((self.pin or {}).get("order") or {}).get(level)
        if o is None:
            return None
        o = list(o)
        return tuple(o + [d for d in self.layer.dim_names if d not in o])

    @property
    def orders_pinned(self) -> bool:
        """True when a pin fixes the dram or glb order (the search's bounds
        are then not exact and more candidates are costed)."""
        return any(self._pinned_order(lvl) is not None for lvl in ("dram", "glb"))

    # -- size and realisation -------------------------------------------------
    @property
    def size(self) -> int:
        """Mappings in the space: tile combinations x searched loop orders
        (before any capacity or dominance pruning)."""
        return math.prod(len(d) for d in self.dims) * len(self.dram_orders) * len(self.glb_orders)

    def batch(self, choice: np.ndarray, dram_order: np.ndarray | int = 0,
              glb_order: np.ndarray | int = 0) -> MappingBatch:
        """Mappings from candidate indices: `choice` (N, D) indexes each dim's
        candidates; `dram_order`/`glb_order` index `dram_orders`/`glb_orders`."""
        choice = np.asarray(choice, dtype=np.int64)
        N, D = choice.shape
        F = np.ones((N, len(LEVELS), D), dtype=np.int64)
        for j, ds in enumerate(self.dims):
            a, g = ds.a[choice[:, j]], ds.g[choice[:, j]]
            folds = -(-ds.bound // np.minimum(a, ds.bound))
            F[:, 0, j] = folds // g
            F[:, 1, j] = g
            if ds.level is not None:
                F[:, LEVELS.index(ds.level), j] = a
        rank = np.empty((N, len(TEMPORAL), D), dtype=np.int64)
        rank[:, 0] = self._ranks(self.dram_orders)[np.broadcast_to(dram_order, (N,))]
        rank[:, 1] = self._ranks(self.glb_orders)[np.broadcast_to(glb_order, (N,))]
        rank[:, 2] = self._ranks((self.pe_order,))[0]
        return MappingBatch(self.layer.dim_names, np.array([b for _, b in self.layer.dims], dtype=np.int64),
                            F, rank)

    def _ranks(self, orders) -> np.ndarray:
        pos = {d: i for i, d in enumerate(self.layer.dim_names)}
        out = np.empty((len(orders), len(pos)), dtype=np.int64)
        for i, o in enumerate(orders):
            out[i, [pos[d] for d in o]] = np.arange(len(o))
        return out

    def mapping(self, batch: MappingBatch, i: int) -> Mapping:
        """Mapping `i` of a batch, named after the layer."""
        m = batch[i]
        return Mapping(self.layer.name, m.dims, m.bounds, m.factors, m.order, flat_kind(self.layer))


def random_batch(layer: Layer, arch: SystolicArch, n: int, seed: int = 0) -> MappingBatch:
    """n random dataflow-valid mappings of the unpruned space: any array tile
    up to the side (ragged allowed), a random divisor of the tile count at the
    glb level, random loop orders at every level. For benchmarks and tests of
    the cost model (capacity is not enforced: some are infeasible)."""
    rng = np.random.default_rng(seed)
    bounds = np.array([b for _, b in layer.dims])
    D = len(bounds)
    inner = np.ones((n, 4, D), dtype=np.int64)
    where = dict(zip(ROLES_ON[arch.dataflow], (1, 2, 3)))
    for j, d in enumerate(layer.dim_names):
        w = where.get(layer.role(d))
        if w and bounds[j] > 1:
            cap = {1: arch.rows, 2: arch.cols, 3: bounds[j]}[w]
            inner[:, w, j] = rng.integers(1, min(bounds[j], cap) + 1, n)
    tiles = -(-bounds // inner[:, 1:, :].prod(axis=1))            # (n, D)
    top = int(tiles.max())
    divs = [[f for f in range(1, k + 1) if k % f == 0] for k in range(top + 1)]
    width = max(len(x) for x in divs)
    table = np.array([x + [1] * (width - len(x)) for x in divs])
    count = np.array([max(len(x), 1) for x in divs])
    pick = (rng.random((n, D)) * count[tiles]).astype(np.int64)
    inner[:, 0, :] = table[tiles, pick]
    rank = np.argsort(rng.random((n, 3, D)), axis=2)
    return MappingBatch.from_arrays(layer, inner, rank)


#: the largest count the cost model keeps exact: latency is computed in
#: float64 (integers exact up to 2**53) and every count is an int64
EXACT_COUNT = 2**53


def check_counts(layer: Layer, arch: SystolicArch) -> None:
    """Refuse a layer whose counts could pass `EXACT_COUNT` on `arch` under some
    mapping of the space: one line naming the layer and the largest MAC count
    this array takes. Per MAC a mapping costs at most the sum of the fold-cost
    coefficients in cycles (folds, glb tiles and the used extents summed over
    folds are each at most the MAC count) and moves at most one element of
    each tensor (two for outputs: read and written back) to or from DRAM."""
    ft = compute_timing(arch)
    cycles = (abs(ft.fold_const(arch.rows, arch.cols)) + abs(ft.per_glb_tile) + abs(ft.per_used_rows)
              + abs(ft.per_used_cols) + abs(ft.per_t))
    dram_bytes = sum((2 if t.name == "outputs" else 1) * t.bits for t in layer.tensors) / 8
    per_mac = cycles + dram_bytes / arch.dram_bw_bytes
    if layer.macs * per_mac + abs(ft.per_layer) > EXACT_COUNT:
        raise MappingError(f"layer {layer.name!r}: {layer.macs:.3g} MACs is more than the cost model counts "
                           f"exactly on this array (at most {EXACT_COUNT / per_mac:.3g} MACs: its cycle counts "
                           f"must stay below 2**53)")
