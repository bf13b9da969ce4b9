"""The dataflow table of the systolic array: the one place that says where each
dim role goes (see `codesign.workload.ir` for the roles m, n, k, g).

========  ==========  =====  =====  ======================
dataflow  stationary  rows   cols   streamed in time (pe)
========  ==========  =====  =====  ======================
os        outputs     m (M)  n (N)  k (K)
ws        weights     k (K)  n (N)  m (M)
is        inputs      k (K)  m (M)  n (N)
========  ==========  =====  =====  ======================

``g`` dims (groups, heads) never go on the array. Every non-``g`` dim is
unused by exactly one tensor: an m-dim by the weights, an n-dim by the
inputs, a k-dim by the outputs (`UNUSED_BY`). Capital letters name the
GEMM view's dims (the RTL's roles).
"""
from __future__ import annotations

__all__ = ["DATAFLOWS", "STATIONARY", "ROLES_ON", "ARRAY_LEVELS", "GEMM_DIM", "ROLE_DIMS", "UNUSED_BY",
           "level_of_role"]

DATAFLOWS = ("os", "ws", "is")
#: the operand each dataflow keeps in the PE registers
STATIONARY = {"os": "outputs", "ws": "weights", "is": "inputs"}
#: the array levels, in the order ROLES_ON lists them
ARRAY_LEVELS = ("rows", "cols", "pe")
#: dim roles placed on rows, on cols, and streamed in time
ROLES_ON = {"os": ("m", "n", "k"), "ws": ("k", "n", "m"), "is": ("k", "m", "n")}
#: the GEMM view's dim of each role
GEMM_DIM = {"m": "M", "n": "N", "k": "K"}
#: GEMM dims on (rows, cols, time) per dataflow (the RTL's row/col/time roles)
ROLE_DIMS = {df: tuple(GEMM_DIM[r] for r in roles) for df, roles in ROLES_ON.items()}
#: the role of the dims each tensor does not use
UNUSED_BY = {"inputs": "n", "weights": "m", "outputs": "k"}


def level_of_role(dataflow: str) -> dict[str, str]:
    """``{role: array level}`` under `dataflow` (g roles absent: they stay off the array)."""
    return dict(zip(ROLES_ON[dataflow], ARRAY_LEVELS))
