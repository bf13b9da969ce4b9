"""The built-in model zoo and the layer-spec loader.

``zoo("resnet50", batch=4)`` builds a `Network` by name; ``ZOO`` maps each
name to its builder. `layers_from_spec` turns the ``layers:`` list of a YAML
workload into layers. Shapes, sources and MAC totals (batch 1, default size):

=============  ==========  ===========================================
name           GMAC        keyword arguments (defaults)
=============  ==========  ===========================================
resnet18       1.82        batch=1, image=224
resnet50       4.09        batch=1, image=224
mobilenet_v2   0.30        batch=1, image=224, width_mult=1.0
bert_base      11.2        seq_len=128, batch=1, layers=12
vit_b16        17.6        batch=1, image=224
=============  ==========  ===========================================
"""
from __future__ import annotations

import inspect
from typing import Callable

from codesign.workload import Network, WorkloadError
from codesign.workload.zoo._cnn import mobilenet_v2, resnet18, resnet50
from codesign.workload.spec import OPS, layers_from_spec, network_from_spec
from codesign.workload.zoo._transformer import bert_base, vit_b16
from codesign.workload.zoo import _finn

__all__ = ["ZOO", "zoo", "layers_from_spec", "network_from_spec", "OPS",
           "resnet18", "resnet50", "mobilenet_v2", "bert_base", "vit_b16"]

ZOO: dict[str, Callable[..., Network]] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "bert_base": bert_base,
    "vit_b16": vit_b16,
    "cnv": _finn.cnv, "tfc": _finn.tfc, "mobilenet_v1": _finn.mobilenet_v1,
}


def zoo(name: str, **kw) -> Network:
    """Build the zoo model ``name`` with keyword arguments ``kw``.

    Raises `WorkloadError` (one line, naming the key) for an unknown model,
    an argument the model does not take, or a bad argument value.
    """
    if not isinstance(name, str) or name not in ZOO:
        raise WorkloadError(f"workload.model: unknown model {name!r}; choose from {', '.join(ZOO)}")
    build = ZOO[name]
    allowed = tuple(inspect.signature(build).parameters)
    for key in kw:
        if key not in allowed:
            raise WorkloadError(f"workload.{key}: unknown argument for model {name!r}; "
                                f"choose from {', '.join(allowed)}")
    return build(**kw)
