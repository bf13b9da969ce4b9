"""Validation of mapping pins (the ``Mapping.to_dict()`` shape a config gives per layer)."""
from __future__ import annotations

import numpy as np

from .arch import SystolicArch
from .dataflow import ARRAY_LEVELS, level_of_role
from .flat import flattened, is_flat
from .mapping import LEVELS, TEMPORAL, MappingError
from ...workload import Layer

__all__ = ["check_pin", "flat_pin"]


def flat_pin(layer: Layer, value, key: str) -> str:
    """The flattening kind a pin's ``flat`` asks for (``""``: none); raises
    `MappingError` naming `key` when the value or the layer does not allow it."""
    if value is False:
        return ""
    kind = "pixels" if value is True else value
    if kind not in ("pixels", "im2col"):
        raise MappingError(f"{key}.flat: must be true, false, pixels or im2col, got {value!r}")
    if not is_flat(layer) and flattened(layer, kind) is None:
        raise MappingError(f"{key}.flat: layer {layer.name!r} cannot be flattened as {kind} "
                           f"(pixels: a conv with two or more of N, P, Q > 1; im2col: a conv)")
    return kind


def check_pin(layer: Layer, pin: dict, arch: SystolicArch | None = None) -> None:
    """Pins name known levels and dims with positive factors; given an
    architecture, array factors > 1 sit on the level its dataflow gives the
    dim's role. Raises `MappingError` naming the key."""
    if not isinstance(pin, dict):
        raise MappingError(f"mapping.{layer.name}: a pin must map levels to {{dim: factor}}")
    on = level_of_role(arch.dataflow) if arch is not None else None
    key = f"mapping.{layer.name}"
    if "flat" in pin:                   # the dims are then those of the flattened layer
        kind = flat_pin(layer, pin["flat"], key)
        if kind and not is_flat(layer):
            layer = flattened(layer, kind)
        pin = {k: v for k, v in pin.items() if k != "flat"}
    for lvl, fs in pin.items():
        if lvl == "order":
            if not isinstance(fs, dict):
                raise MappingError(f"{key}.order: must map levels to lists of dims")
            for ol, dims in fs.items():
                if ol not in TEMPORAL:
                    raise MappingError(f"{key}.order.{ol}: unknown level; one of {', '.join(TEMPORAL)}")
                if not isinstance(dims, (list, tuple)) or any(d not in layer.dim_names for d in dims) \
                        or len(set(dims)) != len(dims):
                    raise MappingError(f"{key}.order.{ol}: must list distinct dims of layer {layer.name!r} "
                                       f"({', '.join(layer.dim_names)})")
            continue
        if lvl not in LEVELS:
            raise MappingError(f"{key}.{lvl}: unknown level; one of {', '.join(LEVELS)}, order")
        if not isinstance(fs, dict):
            raise MappingError(f"{key}.{lvl}: must map dims to factors")
        for d, f in fs.items():
            if d not in layer.dim_names:
                raise MappingError(f"{key}.{lvl}.{d}: layer {layer.name!r} has no dim {d} "
                                   f"(dims: {', '.join(layer.dim_names)})")
            if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 1:
                raise MappingError(f"{key}.{lvl}.{d}: must be a positive integer, got {f!r}")
            if on is not None and lvl in ARRAY_LEVELS and f > 1 and on.get(layer.role(d)) != lvl:
                where = on.get(layer.role(d))
                raise MappingError(f"{key}.{lvl}.{d}: the {arch.dataflow} dataflow puts {d} "
                                   f"({layer.role(d)}-dim) {'on ' + where if where else 'off the array'}")
