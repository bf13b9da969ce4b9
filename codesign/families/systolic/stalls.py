"""Latency beyond compute: DRAM transfers and buffer ports (see `cost`).

`av` is the cost model's architecture view (`cost._ArchView`): scalars, or
(N,) arrays for one architecture per mapping.

Port pacing (``rtl`` timing; the RTL's controller does the same, `rtl/controller.py`):
the array advances one *step* (a cycle of the unstalled schedule) every ``k``
cycles, ``k`` the least number of cycles in which every buffer port moves the
most bits a step of that class can need: ``k = max(1, max over ports of
ceil(bits / width))``, bits on one port adding up. The classes and the bits
they may need (``R``, ``C`` the physical array; a vector is a whole bank word):

- ``stream`` (a fold's step ``tau < t``): a west and a north vector from the
  glb, ``(R + C) * op_bits`` (ws/is: the streamed vector and the next fold's
  preload row), and one accumulator row read and one written, ``C * acc_bits``
  each (the column chain has at most one row's words in flight per step);
- ``pad`` (a fold's step ``tau >= t``, when ``t < R``): the accumulator row;
  ws/is also a preload row, ``C * op_bits``;
- ``fill`` (ws/is, the ``R`` steps preloading fold 0): a preload row;
- ``drain`` (the ``R + C + 1`` steps after the last fold): the accumulator row;
- the set-up step needs nothing (``k = 1``).

The accumulator banks are the RTL's own memory even with ``acc_kib == 0``
(`rtl.params`: a third of the glb), so the acc ports pace them. A glb tile's cycles are then ``1 + k_fill R (ws/is) + sum over folds
(k_pad max(t, R) + (k_stream - k_pad) t) + k_drain (R + C + 1)``: the port
stall beyond the unstalled ``rtl`` timing is `array_port_stalls`.
"""
from __future__ import annotations

import numpy as np

from .energy import out_word
from .traffic import LayerInfo

__all__ = ["PORTS", "PACE_CLASSES", "pacing", "arch_pacing", "rtl_pacing", "array_port_stalls", "port_cycles", "stalled_latency"]

#: the architecture view's port width (bits per cycle) per (memory, direction)
PORTS = {("glb", "read"): "glb_read_port", ("glb", "write"): "glb_write_port",
         ("acc", "read"): "acc_read_port", ("acc", "write"): "acc_write_port"}
_PORT_KEY = {v: k for k, v in PORTS.items()}


#: the step classes of port pacing (module docstring), in the order `pacing` returns them
PACE_CLASSES = ("stream", "pad", "fill", "drain")


def _cdiv(a, b):
    return -(-a // b)


def pacing(rows, cols, ws: bool, op_bits: int, acc_bits: int, glb_read, acc_read, acc_write) -> tuple:
    """Cycles per step (``k``) of each of `PACE_CLASSES` (module docstring; ints, or arrays
    for arrays of rows, cols or widths). Widths in bits per cycle; a width of 0 never stalls."""
    zero = 0 * rows * cols

    def k(bits, width):
        return 1 if isinstance(width, int) and width == 0 else np.maximum(1, _cdiv(bits, width))

    def pace(glb_bits, acc_row: bool):
        acc = cols * acc_bits if acc_row else zero
        return np.maximum(np.maximum(k(glb_bits, glb_read), k(acc, acc_read)), k(acc, acc_write))

    row = cols * op_bits if ws else zero
    out = (pace((rows + cols) * op_bits, True), pace(row, True), pace(row, False), pace(zero, True))
    return tuple(int(x) if np.ndim(x) == 0 else x for x in out)


def array_port_stalls(ks: tuple, rows, cols, ws: bool, sum_t_floored, sum_t, glb_tiles):
    """Cycles the port pacing `ks` (`pacing`) adds to the unstalled ``rtl`` compute:
    per glb tile ``(k_fill - 1) R`` (ws/is) ``+ (k_drain - 1)(R + C + 1)``, per fold
    ``(k_pad - 1) max(t, R) + (k_stream - k_pad) t`` (`sum_t_floored` sums ``max(t, R)``,
    `sum_t` sums ``t``)."""
    k_stream, k_pad, k_fill, k_drain = ks
    tile = (k_drain - 1) * (rows + cols + 1) + ((k_fill - 1) * rows if ws else 0)
    return tile * glb_tiles + (k_pad - 1) * sum_t_floored + (k_stream - k_pad) * sum_t


def arch_pacing(av) -> tuple:
    """`pacing` of the cost model's architecture view (`cost._ArchView`) or a `SystolicArch`."""
    arch = getattr(av, "base", av)
    get = (lambda k: getattr(av, k)) if hasattr(av, "base") else (lambda k: arch.port_bits(*_PORT_KEY[k]))
    return pacing(av.rows, av.cols, arch.dataflow != "os", arch.op_bits, arch.acc_bits, get("glb_read_port"),
                  get("acc_read_port"), get("acc_write_port"))


def rtl_pacing(arch) -> tuple[int, int, int, int]:
    """The pacing the generated RTL runs an architecture at (`rtl.params.port_widths`):
    `arch_pacing`, none in ``soc`` timing (its model, `soc_stalls`, has no port stalls)."""
    return (1, 1, 1, 1) if arch.timing == "soc" else arch_pacing(arch)


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
