"""Activations kept on chip between consecutive layers (hardware ``keep_activations``).

The array runs one layer after another. Layer by layer, a producer writes
its (requantized) outputs to DRAM and the next layer reads them back. When
the activation fits, it can stay in the glb instead: the producer's final
output writes go to the glb, and the consumer fills its input tiles from
that copy instead of from DRAM (`cost.evaluate` with ``kept``; the glb
accesses are of kind ``kept``).

Which edges (`kept_edges`), exactly:

- a MAC node A (one instance, ``count == 1``) whose output is read by one
  MAC node B (also one instance) reading nothing else, directly or through
  a chain of one-input element-wise nodes (relu, clip, requant, ...: applied
  on the read-out path) each read by the next only;
- B's unpadded input has A's output's elements and B's input width equals
  A's requantized output width (`energy.out_word`);
- **space**: each layer is mapped as usual (its best mapping with the whole
  glb); an edge is kept only when, for both A and B, the activations kept
  while it runs (its input and its output, if kept) plus its tiles fit:
  ``kept bytes + glb_bytes_used x (2 if double_buffered else 1) <= glb_kib x 1024``.
  Edges are decided in topological order (greedily): an earlier kept edge
  counts against the space of a later one. The mapper does not re-map a
  layer with less glb to make an edge fit.

The savings are exact per the cost model: on an edge, the DRAM bytes of the
producer's final output writes plus all of the consumer's DRAM input reads
(refetches included), and the energy of those accesses minus that of the
glb accesses that replace them; the latency saved is the network's, from
re-costing each touched layer with its kept tensors (its DRAM stalls, first
load and last drain).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

from ...workload import Network, layer_input_shape
from ...workload.graph import ELEMENTWISE_OPS
from .cost import evaluate_mapping
from .energy import out_word

__all__ = ["KeptEdge", "OnChip", "kept_edges", "TRANSPARENT_OPS"]

#: one-input element-wise ops an edge may pass through (applied as the activation leaves the accumulator)
TRANSPARENT_OPS = tuple(o for o in ELEMENTWISE_OPS if o not in ("add", "mul", "sub", "div", "max", "min", "pow"))


@dataclass(frozen=True)
class KeptEdge:
    """One activation kept in the glb from `producer` to `consumer` and what it saves."""

    producer: str
    consumer: str
    activation_bytes: float
    dram_bytes_saved: float
    energy_pj_saved: float


@dataclass(frozen=True)
class OnChip:
    """The kept edges and the network-level savings (latency from re-costing the touched layers)."""

    edges: tuple[KeptEdge, ...] = ()
    latency_cycles_saved: int = 0

    @property
    def dram_bytes_saved(self) -> float:
        return sum(e.dram_bytes_saved for e in self.edges)

    @property
    def energy_pj_saved(self) -> float:
        return sum(e.energy_pj_saved for e in self.edges)


def _producer(net: Network, node) -> str | None:
    """The MAC node whose output `node` reads through transparent nodes, each read only by the next."""
    if len(node.inputs) != 1:
        return None
    src, reader = node.inputs[0], node.name
    while True:
        if src not in {n.name for n in net.nodes} or net.consumers(src) != (reader,):
            return None
        prev = net.node(src)
        if prev.is_mac:
            return prev.name
        if prev.op not in TRANSPARENT_OPS or len(prev.inputs) != 1:
            return None
        src, reader = prev.inputs[0], prev.name


def _candidates(net: Network, arch) -> list[tuple[str, str, float]]:
    """(producer, consumer, activation bytes) of every edge that may be kept, in topological order."""
    out = []
    for node in net.layers:
        a = _producer(net, node)
        if a is None or node.count != 1 or net.node(a).count != 1:
            continue
        pa, lb = net.node(a).layer, node.layer
        q = out_word(arch, {"outputs": pa.tensor("outputs").bits})
        if prod(layer_input_shape(lb)) != net.node(a).elements or lb.tensor("inputs").bits != q:
            continue
        out.append((a, node.name, net.node(a).elements * q / 8))
    return out


def kept_edges(net: Network, arch, results: dict) -> OnChip:
    """The edges kept on chip (module docstring) and their savings; `results` maps a
    layer's shape key to its `network.LayerResult` (mapping, dataflow, cost)."""
    if not arch.keep_activations:
        return OnChip()
    res = {n.name: results[n.layer.shape_key()] for n in net.layers}
    div = 2 if arch.double_buffered else 1
    held: dict[str, float] = {}                    # node -> kept bytes while it runs
    kept: dict[str, set] = {}
    chosen = []
    for a, b, act in _candidates(net, arch):
        if all(held.get(n, 0.0) + act + div * res[n].cost["glb_bytes_used"] <= arch.glb_bytes for n in (a, b)):
            for n, t in ((a, "outputs"), (b, "inputs")):
                held[n] = held.get(n, 0.0) + act
                kept.setdefault(n, set()).add(t)
            chosen.append((a, b, act))

    def cost(name, tensors):
        r = res[name]
        return evaluate_mapping(r.layer, arch.running(r.dataflow), r.mapping,
                                kept=frozenset(tensors))

    def saved(name, tensors, key):
        return res[name].cost[key] - cost(name, tensors)[key]

    edges = tuple(KeptEdge(a, b, act, saved(a, {"outputs"}, "dram_bytes") + saved(b, {"inputs"}, "dram_bytes"),
                           saved(a, {"outputs"}, "energy_pj") + saved(b, {"inputs"}, "energy_pj"))
                  for a, b, act in chosen)
    latency = sum(saved(n, ts, "latency_cycles") for n, ts in kept.items())
    return OnChip(edges, int(latency))
