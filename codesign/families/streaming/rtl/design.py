"""A chosen streaming pipeline as what ``export`` and ``verify`` use (`Family.generate`).

`StreamingDesign.verify` runs several frames of random int8 inputs through the whole
pipeline in Amaranth's simulator (random weights, the most negative value always among
them) and checks, per engine: its output tokens equal the numpy golden (`golden`) bit
for bit and every one of them is written in the cycle the model's ``rtl`` schedule
(`timing.schedule`) says; for the pipeline: the measured II (between the last output
tokens of successive frames), the first-frame latency and the batch latency equal the
model's, and no engine ever held a finished token its FIFOs had no room for (stall) at
the model's FIFO depths. A network over the simulation budget is refused, or with
``scale_down`` rebuilt smaller (`scale`: same topology, smaller images and channels,
said in the header).
"""
from __future__ import annotations

import time

import numpy as np

from ...base import Design, NetworkCost, VerifyReport, VerifyRow
from ..pipeline import evaluate
from ..timing import schedule
from .golden import golden, random_weights
from .plan import StreamingRtlError, make_plan

__all__ = ["StreamingDesign", "DEFAULT_FRAMES", "choice_of", "find_pipeline"]

DEFAULT_FRAMES = 3


def find_pipeline(cost: NetworkCost, arch, cache: dict):
    """(network, pipeline, options) that `cost` was computed on, from `prepare`'s cache: the latest entry
    for `arch` whose engines are the cost's layers (same names, the very same Layer objects)."""
    names = tuple(lc.name for lc in cost.layers)
    for key, (net, pipe, opts) in reversed(list(cache.items())):      # the latest first: stream engines
                                                                        # have no Layer to tell networks apart
        if key[-1] == arch and tuple(e.name for e in pipe.engines) == names and all(
                e.layer is lc.layer for e, lc in zip(pipe.engines, cost.layers)):
            return net, pipe, opts
    raise StreamingRtlError("streaming RTL: the pipeline of this cost is no longer prepared; map the network again")


def choice_of(cost: NetworkCost, opts: dict) -> dict:
    """The option index per engine of the folding `cost` reports."""
    out = {}
    for lc in cost.layers:
        o, f = opts[lc.name], lc.figures
        if f.get("pe") is None:
            out[lc.name] = 0
            continue
        hit = np.nonzero((o.pe == f["pe"]) & (o.simd == f["simd"]) & (o.dram == (f.get("weights") == "dram")))[0]
        out[lc.name] = int(hit[0])
    return out


class StreamingDesign(Design):
    """The pipeline `pipe` of `network` on `arch` with folding `choice` (option index per engine)."""

    def __init__(self, arch, network, pipe, opts, choice: dict, note: str = ""):
        self.arch, self.network, self.pipe, self.opts, self.choice = arch, network, pipe, opts, choice
        self.note = note

    def plan(self, frames: int = DEFAULT_FRAMES):
        """(RtlPlan, PipelineCost) of the design for a run of `frames` frames."""
        pc = evaluate(self.pipe, self.opts, self.choice, self.arch, frames=frames)
        return make_plan(self.pipe, self.opts, self.choice, pc, self.arch), pc

    def export(self, out_dir, layer: str | None = None, seed: int = 0) -> tuple[str, list]:
        """Write Verilog, design.json and PORTS.md (`export`); with `layer`, that engine alone."""
        from .export import export_design
        return export_design(self, out_dir, layer, seed)

    def verify(self, *, layer: str | None = None, scale_down: bool = False, max_cycles: int = 20000,
               seed: int = 0, vcd: str | None = None, frames: int = DEFAULT_FRAMES,
               depth: dict | None = None) -> VerifyReport:
        """Simulate `frames` frames (module docstring); `layer` keeps only that engine's row (the whole
        pipeline runs); `depth` overrides FIFO depths (to show that one entry less stalls)."""
        from .sim import run_frames
        if max_cycles < 1:
            raise StreamingRtlError(f"--max-cycles: must be positive, got {max_cycles}")
        if frames < 2:
            raise StreamingRtlError(f"frames: at least 2 to measure an II, got {frames}")
        design, header = self, f"{self.arch.describe()}: {self.pipe.name}, {frames} frames through the pipeline"
        pc = evaluate(self.pipe, self.opts, self.choice, self.arch, frames=frames)
        if pc.latency_cycles > max_cycles:
            if not scale_down:
                raise StreamingRtlError(f"network {self.pipe.name!r}: {pc.latency_cycles} model cycles for "
                                        f"{frames} frames exceed the pysim budget of {max_cycles}; use "
                                        "--scale-down (or --max-cycles)")
            from .scale import scaled_choice

            def latency(pipe, opts, choice):
                return evaluate(pipe, opts, choice, self.arch, frames=frames).latency_cycles
            design = StreamingDesign(self.arch, *scaled_choice(self.network, self.arch, max_cycles, frames, latency))
            header += f" (scaled down: {design.note})"
        rtl_plan, pc = design.plan(frames)
        if layer is not None and layer not in {e.name for e in rtl_plan.engines}:
            raise StreamingRtlError(f"--layer {layer}: no such engine (engines: "
                                    f"{', '.join(e.name for e in rtl_plan.engines)})")
        rng = np.random.default_rng(seed)
        weights = random_weights(rtl_plan, rng)
        src = rtl_plan.engines[0]
        lo, hi = -(1 << (self.arch.op_bits - 1)), 1 << (self.arch.op_bits - 1)
        x = rng.integers(lo, hi, (frames, src.jobs, src.c_out))
        x.flat[0] = lo
        gold = golden(rtl_plan, x, weights)
        jc = {e.name: e.job_cycles for e in rtl_plan.engines}
        sch = schedule(design.pipe, jc, pc.ii_cycles, frames)
        run = run_frames(rtl_plan, weights, x, max(2 * pc.latency_cycles, pc.latency_cycles + 64), depth, vcd)
        rows = [self._engine_row(e, run, gold, sch) for e in rtl_plan.engines
                if layer is None or e.name == layer]
        rows += self._pipeline_rows(rtl_plan, pc, run, gold, frames)
        rate = run.cycles / run.seconds if run.seconds else 0.0
        return VerifyReport(f"{header}; pysim {run.cycles} cycles in {run.seconds:.1f} s ({rate:.0f} cycles/s)",
                            tuple(rows), run.seconds)

    @staticmethod
    def _engine_row(e, run, gold, sch) -> VerifyRow:
        want = gold[e.name].reshape(-1, e.c_out)
        got = run.tokens[e.name]
        exact = got.shape == want.shape and np.array_equal(got, want)
        model_w = sch.write[e.name].tolist()
        same = run.writes[e.name] == model_w
        notes = [f"{len(got)} tokens" + ("" if got.shape == want.shape else f" of {len(want)}")]
        if not same:
            k = next((i for i, (a, b) in enumerate(zip(run.writes[e.name], model_w)) if a != b),
                     min(len(run.writes[e.name]), len(model_w)))
            notes.append(f"write cycles differ from the model's from token {k}")
        else:
            notes.append("every write in the model's cycle")
        if run.stalls[e.name]:
            notes.append(f"stalled {run.stalls[e.name]} cycles on a full FIFO")
        rtl_first = run.writes[e.name][e.jobs - 1] + 1 if len(run.writes[e.name]) >= e.jobs else -1
        fold = (f"PE {e.pe} SIMD {e.simd}, {e.job_cycles} cycles/job" if e.kind in ("mvau", "vvau")
                else e.kind)
        return VerifyRow(e.name, exact and same and not run.stalls[e.name], rtl_first, int(model_w[e.jobs - 1]) + 1,
                         exact, fold, tuple(notes))

    @staticmethod
    def _pipeline_rows(plan, pc, run, gold, frames) -> list[VerifyRow]:
        out = plan.engine(plan.output)
        w = run.writes[plan.output]
        ends = [w[(f + 1) * out.jobs - 1] for f in range(frames) if len(w) >= (f + 1) * out.jobs]
        exact = np.array_equal(run.tokens[plan.output], gold[plan.output].reshape(-1, out.c_out))
        stalls = sum(run.stalls.values())
        ok = run.finished and exact and stalls == 0
        iis = sorted(set(np.diff(ends).tolist())) or [-1]
        depths = ", ".join(f"{s}->{d}: {n}" for (s, d, _), n in plan.fifo_depth.items())
        fill = ends[0] + 1 if ends else -1
        return [
            VerifyRow("pipeline II", ok and iis == [pc.ii_cycles], iis[-1], pc.ii_cycles, exact,
                      f"bottleneck {pc.bottleneck}",
                      () if len(iis) == 1 else (f"frame-to-frame intervals {iis}",)),
            VerifyRow("pipeline first frame", ok and fill == pc.fill_cycles, fill, pc.fill_cycles, exact,
                      "latency of frame 0", (f"FIFO depths {depths}", f"{stalls} stall cycles")),
            VerifyRow(f"pipeline {frames} frames", ok and (ends[-1] + 1 if ends else -1) == pc.latency_cycles,
                      ends[-1] + 1 if ends else -1, pc.latency_cycles, exact, "batch latency",
                      () if run.finished else (f"did not finish in {run.cycles} cycles",)),
        ]
