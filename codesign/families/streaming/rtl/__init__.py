"""Amaranth RTL of the streaming (layer-pipelined) family: engines, FIFOs, top, simulation, export.

`make_plan` turns a folded pipeline into `EngineSpec`s; `StreamingTop` elaborates the
pipeline (`engine`: the ``rtl`` controller of `..timing` per engine, `datapath`: MVAU/VVAU
and stream engines); `run_frames` simulates it; `StreamingDesign` verifies it against the
numpy golden and the model and exports it.
"""
from .design import StreamingDesign, choice_of, find_pipeline
from .plan import StreamingRtlError, make_plan
from .sim import run_frames
from .top import StreamingTop

__all__ = ["StreamingDesign", "StreamingRtlError", "StreamingTop", "choice_of", "find_pipeline", "make_plan", "run_frames"]
