"""ZigZag 3.9.1 (PyPI zigzag-dse) on the shared cases; prints one JSON line per case.

Run in its own environment (benchmarks/peers/setup.sh zigzag):
``benchmarks/peers/.envs/zigzag/bin/python benchmarks/peers/run_zigzag.py [--case NAME]``

The shared architecture in ZigZag's format: a 16x16 operational array
(MAC 0.2 pJ), a one-word output register per PE (0.1 pJ), one 256 KiB
buffer for all operands (4 pJ per 8-bit word, ports of 8 to 1024 bits so
that it feeds the array every cycle, as codesign assumes) and DRAM (128 pJ
per 8-bit word, 128 bits = 16 bytes per cycle). Every operand, partial sums
included, is 8 bits here, so that one ZigZag word access costs what one
codesign access costs (a user table charges per access whatever the
width). Spatial mapping pinned to codesign's os array: output pixels (OX,
or the GEMM's D) on D1 (rows), output channels K on D2 (cols). LOMA
searches the temporal mapping (lpf_limit 6, ZigZag's default) for the
lowest energy. `evaluations` counts ZigZag cost-model evaluations.
``--pinned OURS.jsonl`` (run_ours.py's output): no search; ZigZag costs
codesign's mapping of each layer (pinned.zigzag_pinned: its spatial mapping
in the mapping file, its temporal mapping handed to the cost model in place
of LOMA's). ``--glb-port-bits W`` narrows the buffer's ports (port_stalls.py);
``--ports`` adds each layer's port activities and stall (ZigZag's own terms).
"""
import json
import logging
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402
import pinned  # noqa: E402

import yaml  # noqa: E402
from zigzag import api  # noqa: E402
from zigzag.datatypes import LayerDim, LayerOperand  # noqa: E402
from zigzag.mapping.temporal_mapping import TemporalMapping  # noqa: E402
from zigzag.stages.evaluation import cost_model_evaluation as cme_stage  # noqa: E402
from zigzag.stages.mapping import temporal_mapping_generator_stage as tm_stage  # noqa: E402

EVALS = [0]
_run = cme_stage.CostModelStage.run


def _counted(self):
    EVALS[0] += 1
    yield from _run(self)


cme_stage.CostModelStage.run = _counted
PINNED = [None]     # the temporal mapping to cost instead of LOMA's search (pinned.zigzag_pinned's "temporal")
_generate = tm_stage.TemporalMappingGeneratorStage.generate_temporal_mappings


def _pinned_or_search(self):
    if PINNED[0] is None:
        yield from _generate(self)
        return
    tm = {LayerOperand(op): [[(LayerDim(d), f) for d, f in level] for level in levels]
          for op, levels in PINNED[0].items()}
    yield TemporalMapping(tm, self.layer, self.mapping_type)


tm_stage.TemporalMappingGeneratorStage.generate_temporal_mappings = _pinned_or_search


def port(name, kind, lo, hi, alloc):
    return dict(name=name, type=kind, bandwidth_min=lo, bandwidth_max=hi, allocation=alloc)


GLB_PORT_BITS, DRAM_PORT_BITS = 1024, cases.DRAM_BW_BYTES * 8


def accelerator(glb_port_bits=GLB_PORT_BITS):
    """ZigZag charges r_cost/w_cost per access of a port's bandwidth_max bits (cost_model._calc_memory_access):
    the per-word energies are scaled by max_bw / 8 so that one 8-bit word costs the shared table's figure."""
    e = dict(cases.ENERGY_PJ)
    e["glb"] *= glb_port_bits / cases.OP_BITS
    e["dram"] *= DRAM_PORT_BITS / cases.OP_BITS
    return dict(
        name="shared_16x16",
        memories=dict(
            rf_out=dict(size=cases.OP_BITS, r_cost=e["reg"], w_cost=e["reg"], area=0, latency=1, operands=["O"],
                        ports=[port("r_port_1", "read", 8, 8, ["O, tl"]), port("r_port_2", "read", 8, 8, ["O, th"]),
                               port("w_port_1", "write", 8, 8, ["O, fh"]), port("w_port_2", "write", 8, 8, ["O, fl"])],
                        served_dimensions=[]),
            glb=dict(size=cases.GLB_KIB * 1024 * 8, r_cost=e["glb"], w_cost=e["glb"], area=0, latency=1,
                     operands=["I1", "I2", "O"],
                     ports=[port("r_port_1", "read", 8, glb_port_bits, ["I1, tl", "I2, tl", "O, tl", "O, th"]),
                            port("w_port_1", "write", 8, glb_port_bits, ["I1, fh", "I2, fh", "O, fh", "O, fl"])],
                     served_dimensions=["D1", "D2"]),
            dram=dict(size=10 ** 12, r_cost=e["dram"], w_cost=e["dram"], area=0, latency=1,
                      operands=["I1", "I2", "O"],
                      ports=[port("rw_port_1", "read_write", 8, DRAM_PORT_BITS,
                                  ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"])],
                      served_dimensions=["D1", "D2"]),
        ),
        operational_array=dict(unit_energy=e["mac"], unit_area=1, dimensions=["D1", "D2"],
                               sizes=[cases.ROWS, cases.COLS]),
    )


def layer_yaml(spec):
    """One layer in ZigZag's workload format (as its ONNX parser writes it)."""
    prec = dict(W=cases.OP_BITS, I=cases.OP_BITS, O=cases.OP_BITS, O_final=cases.OP_BITS)
    if spec["op"] == "conv":
        s = spec["stride"]
        return dict(id=0, name=spec["name"], operator_type="Conv",
                    equation="O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
                    dimension_relations=[f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"],
                    loop_dims=["B", "K", "C", "OY", "OX", "FY", "FX"],
                    loop_sizes=[spec[k] for k in ("N", "K", "C", "P", "Q", "R", "S")],
                    operand_precision=prec, operand_source=dict(I=0, W=0),
                    pr_loop_dims=["IX", "IY"],
                    pr_loop_sizes=[spec["W"] + 2 * spec["padding"], spec["H"] + 2 * spec["padding"]],
                    padding=[[spec["padding"]] * 2, [spec["padding"]] * 2])
    heads = spec["B"] > 1      # per-head matmul: both operands carry H
    h = "[h]" if heads else ""
    return dict(id=0, name=spec["name"], operator_type="Gemm",
                equation=f"O{h}[d][k]+=I{h}[d][c]*W{h}[c][k]", dimension_relations=[],
                loop_dims=["C", "D", "K"] + (["H"] if heads else []),
                loop_sizes=[spec["K"], spec["M"], spec["N"]] + ([spec["B"]] if heads else []),
                operand_precision=prec, operand_source=dict(I=0, W=0))


def mapping_yaml(spec, spatial=None):
    d1 = "OX" if spec["op"] == "conv" else "D"
    spatial = spatial or dict(D1=[f"{d1}, {cases.ROWS}"], D2=[f"K, {cases.COLS}"])
    return [dict(name="default", spatial_mapping={k: v for k, v in spatial.items() if v},
                 memory_operand_links=dict(O="O", W="I2", I="I1"))]


def port_report(cme):
    """ZigZag's port activities (per memory, port: real, allowed, period, period_count, what) and its stall."""
    acts = [{port: [dict(real=a.real_cycle, allowed=a.allowed_cycle, period=a.period, period_count=a.period_count,
                         what=str(a.served_op_lv_dir)) for a in lst] for port, lst in mem.items()}
            for mem in cme.port_activity_collect]
    return dict(memories=[str(m.name) for m in cme.mem_level_list], activities=acts,
                stall_slack_comb=float(cme.stall_slack_comb), ideal_temporal_cycle=float(cme.ideal_temporal_cycle),
                latency_total0=float(cme.latency_total0), latency_total2=float(cme.latency_total2))


def loops(cme):
    """The best mapping: spatial unrolling and, per operand, its temporal loops per memory level (innermost first)."""
    tm = cme.temporal_mapping.mapping_dic_origin
    return dict(spatial=str(cme.spatial_mapping),
                temporal={str(op): [[[str(d), int(f)] for d, f in lvl] for lvl in levels]
                          for op, levels in tm.items()})


def run_layer(spec, folder, ours=None, glb_port_bits=GLB_PORT_BITS):
    """(CPU seconds, evaluations, cycles, energy_pj, mapping, compute cycles, cme) of ZigZag's best mapping
    of one layer, or of codesign's mapping `ours` (its to_dict form) costed by ZigZag."""
    pin = pinned.zigzag_pinned(spec, ours) if ours else None
    PINNED[0] = pin and pin["temporal"]
    paths = {}
    for kind, data in (("workload", [layer_yaml(spec)]), ("accelerator", accelerator(glb_port_bits)),
                       ("mapping", mapping_yaml(spec, pin and pin["spatial_mapping"]))):
        paths[kind] = os.path.join(folder, f"{spec['name']}.{kind}.yaml")
        with open(paths[kind], "w") as f:
            yaml.safe_dump(data, f, sort_keys=False)
    EVALS[0] = 0
    t0 = time.process_time()
    energy, latency, cmes = api.get_hardware_performance_zigzag(
        paths["workload"], paths["accelerator"], paths["mapping"], opt=cases.OBJECTIVE,
        dump_folder=os.path.join(folder, spec["name"]), loma_show_progress_bar=False)
    dt = time.process_time() - t0
    cme = cmes[0][1][0][0]
    return dt, EVALS[0], float(latency), float(energy), loops(cme), float(cme.ideal_temporal_cycle), cme


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(cases.CASES))
    ap.add_argument("--layers", type=int, default=0, help="run only the first N layers of each case (0: all)")
    ap.add_argument("--pinned", metavar="OURS_JSONL", help="cost codesign's mappings (run_ours.py's output) instead")
    ap.add_argument("--glb-port-bits", type=int, default=GLB_PORT_BITS, help="the buffer's read and write port width")
    ap.add_argument("--ports", action="store_true", help="add each layer's port activities and stall")
    args = ap.parse_args(argv)
    ours = {}
    if args.pinned:
        with open(args.pinned) as f:
            ours = {r["case"]: r for r in map(json.loads, f) if r.get("tool") == "codesign"}
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        for case in args.case or list(cases.CASES):
            specs = cases.CASES[case][:args.layers or None]
            if args.pinned and case not in ours:
                continue
            out = dict(tool="zigzag-pinned" if args.pinned else "zigzag", version="3.9.1", case=case,
                       glb_port_bits=args.glb_port_bits, seconds=0.0, evaluations=0, cycles=0.0,
                       energy_pj=0.0, layers=[], subset=len(specs) < len(cases.CASES[case]))
            for i, spec in enumerate(specs):
                mine = ours[case]["layers"][i]["mapping"] if args.pinned else None
                dt, n, cyc, e, mp, ideal, cme = run_layer(spec, folder, mine, args.glb_port_bits)
                out["seconds"] += dt
                out["evaluations"] += n
                out["cycles"] += spec["count"] * cyc
                out["energy_pj"] += spec["count"] * e
                out["layers"].append(dict(name=spec["name"], count=spec["count"], seconds=dt, evaluations=n,
                                          cycles=cyc, compute_cycles=ideal, energy_pj=e, mapping=mp,
                                          **({"ports": port_report(cme)} if args.ports else {})))
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
