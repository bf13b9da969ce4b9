"""Latency beyond compute: DRAM transfers and buffer ports (see `cost`).

`av` is the cost model's architecture view (`cost._ArchView`): scalars, or
(N,) arrays for one architecture per mapping.
"""
from __future__ import annotations

import numpy as np

from .energy import out_word
from .traffic import LayerInfo

__all__ = ["PORTS", "port_cycles", "stalled_latency"]

#: the architecture view's port width (bits per cycle) per (memory, direction)
PORTS = {("glb", "read"): "glb_read_port", ("glb", "write"): "glb_write_port",
         ("acc", "read"): "acc_read_port", ("acc", "write"): "acc_write_port"}


def port_cycles(info: LayerInfo, av, acc: dict) -> np.ndarray:
    """Cycles the glb and acc ports need for the layer's accesses: the most
    loaded port's bits over its width (reads: reads; writes: fills and updates)."""
    need: dict[tuple[str, str], np.ndarray] = {}
    for (mem, t, kind), v in acc.items():
        if mem in ("glb", "acc"):
            key = (mem, "read" if kind == "reads" else "write")
            need[key] = need.get(key, 0) + v * info.bits[t]
    return np.max([v / getattr(av, PORTS[k]) for k, v in need.items()], axis=0)


def stalled_latency(info: LayerInfo, av, compute, fp: dict, dram_read_bytes, dram_bytes,
                    ports, kept: frozenset[str] = frozenset()) -> np.ndarray:
    """Latency with DRAM bandwidth (double buffering: the first load and the last drain
    exposed; the last drain holds final outputs, requantized; none for a tensor `kept` on
    chip) and the buffer ports: never below the cycles the busiest port needs."""
    arch, bits, bw = av.base, info.bits, av.dram_bw_bytes
    if arch.timing == "scalesim":           # SCALE-Sim's CALC mode: no stalls
        latency = compute.astype(np.float64)
    elif arch.timing == "ideal":            # Timeloop: reads and writes limited separately
        latency = np.maximum(compute, np.maximum(dram_read_bytes, dram_bytes - dram_read_bytes) / bw)
    else:
        transfer = dram_bytes / bw
        if arch.double_buffered:
            first = sum(fp[t] * bits[t] for t in ("inputs", "weights") if t not in kept) / 8 / bw
            last = 0 if "outputs" in kept else fp["outputs"] * out_word(arch, bits) / 8 / bw
            latency = first + np.maximum(compute, np.maximum(transfer - first - last, 0)) + last
        else:
            latency = compute + transfer
    if arch.timing != "scalesim":
        latency = np.maximum(latency, ports)
    return np.ceil(latency).astype(np.int64)
