"""Port pacing: the ``rtl`` schedule with buffer ports narrower than the array's words.

The generated RTL's controller (`rtl/controller.py`) and the cost model do the same:
the array advances one *step* (a cycle of the unstalled ``rtl`` schedule, `timing`)
every ``k`` cycles, ``k`` the least number of cycles in which every buffer port moves
the most bits a step of its class can need: ``k = max(1, max over ports of
ceil(bits / width))``. Words are whole bank words (a west vector is ``R`` operands
even when fewer rows are used); the glb read port carries the west and the north
bank's reads, the acc ports the accumulator's. The step classes (``R``, ``C`` the
physical array, ``tau`` a fold's step, ``t`` its streamed length, ``max(t, R)`` steps):

- ``stream`` (``tau < min(t, R)``): a west and a north vector, ``(R + C) op_bits``
  (os: A and B; ws/is: the streamed vector and a row of the next fold's weights,
  preloaded in the fold's first ``R`` steps);
- ``long`` (``R <= tau < t``): os both vectors again; ws/is the west vector only;
- ``pad`` (``t <= tau < R``): os nothing from the glb; ws/is a preload row, ``C op_bits``;
- ``fill`` (ws/is: the ``R`` steps preloading fold 0): a preload row;
- ``drain`` (the ``R + C + 1`` steps after the last fold): nothing from the glb;
- in every fold and drain step one accumulator row read and one written,
  ``C acc_bits`` each (the column chain holds at most one row's words per step);
  the set-up step needs nothing.

So a fold of ``t`` costs ``k_stream min(t, R) + k_long max(t - R, 0) + k_pad max(R - t, 0)``
and a glb tile adds ``1 + k_fill R (ws/is) + k_drain (R + C + 1)``. The per-fold cost is
convex in ``t`` (``k_stream <= k_long + k_pad``), so charging the mean ``t`` of the
folds is a lower bound (`Scorer`), exact when all folds lie on one side of ``R``.
The accumulator banks are the RTL's own memory even with ``acc_kib == 0``
(`rtl.params`: a third of the glb), so the acc ports pace them.
"""
from __future__ import annotations

import numpy as np

__all__ = ["PACE_CLASSES", "pacing", "arch_pacing", "rtl_pacing", "array_port_stalls", "stall_terms", "step_counts"]

#: the step classes (module docstring), in the order `pacing` returns them
PACE_CLASSES = ("stream", "long", "pad", "fill", "drain")
NO_PACING = (1,) * len(PACE_CLASSES)

#: (memory, direction) of the cost model's architecture view's port fields
_VIEW_PORTS = {"glb_read_port": ("glb", "read"), "acc_read_port": ("acc", "read"),
               "acc_write_port": ("acc", "write")}


def _cdiv(a, b):
    return -(-a // b)


def pacing(rows, cols, ws: bool, op_bits: int, acc_bits: int, glb_read, acc_read, acc_write) -> tuple:
    """Cycles per step (``k``) of each of `PACE_CLASSES` (module docstring; ints, or arrays
    for arrays of rows, cols or widths). Widths in bits per cycle; a width of 0 never stalls."""
    zero = 0 * rows * cols

    def k(bits, width):
        return 1 if isinstance(width, int) and width == 0 else np.maximum(1, _cdiv(bits, width))

    def pace(glb_bits, acc_row: bool = True):
        acc = cols * acc_bits if acc_row else zero
        return np.maximum(np.maximum(k(glb_bits, glb_read), k(acc, acc_read)), k(acc, acc_write))

    both, preload = (rows + cols) * op_bits, cols * op_bits if ws else zero
    out = (pace(both), pace(rows * op_bits if ws else both), pace(preload), pace(preload, False), pace(zero))
    return tuple(int(x) if np.ndim(x) == 0 else x for x in out)


def step_counts(rows, sum_t_floored, sum_t, folds) -> tuple:
    """Steps of the classes stream, long, pad summed over folds, from the sums over folds
    of ``max(t, R)`` and of ``t`` and the fold count (``min(t, R) = t + R - max(t, R)``)."""
    rf = rows * folds
    return sum_t + rf - sum_t_floored, sum_t_floored - rf, sum_t_floored - sum_t


def stall_terms(ks: tuple, rows, cols, ws: bool) -> tuple:
    """The stall the pacing `ks` (`pacing`) adds per glb tile and per stream, long and pad step."""
    k_stream, k_long, k_pad, k_fill, k_drain = ks
    tile = (k_drain - 1) * (rows + cols + 1) + ((k_fill - 1) * rows if ws else 0)
    return tile, k_stream - 1, k_long - 1, k_pad - 1


def array_port_stalls(ks: tuple, rows, cols, ws: bool, sum_t_floored, sum_t, folds, glb_tiles):
    """Cycles the pacing `ks` (`pacing`) adds to the unstalled ``rtl`` compute (module
    docstring): `sum_t_floored` sums ``max(t, R)`` over the folds, `sum_t` sums ``t``."""
    tile, stream, long, pad = stall_terms(ks, rows, cols, ws)
    n_stream, n_long, n_pad = step_counts(rows, sum_t_floored, sum_t, folds)
    return tile * glb_tiles + stream * n_stream + long * n_long + pad * n_pad


def arch_pacing(av) -> tuple:
    """`pacing` of the cost model's architecture view (`cost._ArchView`) or a `SystolicArch`."""
    arch = getattr(av, "base", av)
    get = (lambda k: getattr(av, k)) if arch is not av else (lambda k: arch.port_bits(*_VIEW_PORTS[k]))
    return pacing(av.rows, av.cols, arch.dataflow != "os", arch.op_bits, arch.acc_bits,
                  *(get(k) for k in _VIEW_PORTS))


def rtl_pacing(arch) -> tuple:
    """The pacing the generated RTL runs an architecture at (`rtl.params.port_widths`):
    `arch_pacing`, none in ``soc`` timing (its model, `soc_stalls`, has no port stalls)."""
    return NO_PACING if arch.timing == "soc" else arch_pacing(arch)
