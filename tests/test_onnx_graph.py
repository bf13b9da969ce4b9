"""ONNX import -> ``-o layers.yaml`` (the spec's graph form) -> evaluate; sweep, map and evaluate on an
imported network; the >2 GB loading path; ``codesign import`` on every light model."""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

import codesign
from codesign.cli import main
from codesign.config import load_config, parse_config
from codesign.workload import WorkloadError
from codesign.workload import onnx_load
from codesign.workload.onnx_import import import_model
from codesign.workload.onnx_yaml import layers_yaml
from codesign.workload.spec import network_from_spec

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
TORCH = Path(onnx.__file__).parent / "backend" / "test" / "data" / "pytorch-converted"
ROOT = Path(__file__).resolve().parents[1]
LIGHT_MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
                "squeezenet", "vgg19", "zfnet512"]
HARDWARE = {"family": "systolic", "rows": 16, "cols": 16, "dataflow": "os", "glb_kib": 256, "acc_kib": 64,
            "dram_bw_bytes": 16, "clock_mhz": 1000, "tech": "horowitz45", "timing": "rtl"}


def _same_graph(direct, loaded):
    """The YAML's network has the direct import's MAC layers, MACs, edges and non-MAC nodes (op, shape)."""
    rename = {direct.inputs[0][0]: "input"}
    assert [(n.name, n.op, n.macs, n.layer.shape_key()) for n in direct.layers] == \
        [(n.name, n.op, n.macs, n.layer.shape_key()) for n in loaded.layers]
    assert sorted((rename.get(a, a), b) for a, b in direct.edges) == sorted(loaded.edges)
    assert {n.name: (n.op, n.shape) for n in direct.nodes if not n.is_mac} == \
        {n.name: (n.op, n.shape) for n in loaded.nodes if not n.is_mac}
    assert loaded.macs == direct.macs and len(loaded.nodes) == len(direct.nodes)
    pool = lambda net: {n.name: [n.attr(k) for k in ("kernel", "stride", "padding")]  # noqa: E731
                        for n in net.nodes if n.op in ("maxpool", "avgpool")}
    assert pool(direct) == pool(loaded)       # the IR's pool keys, set by the importer where they apply


@pytest.mark.parametrize("model", LIGHT_MODELS)
def test_import_prints_the_summary_and_writes_the_graph(tmp_path, capsys, model):
    path, out = LIGHT / f"light_{model}.onnx", tmp_path / "layers.yaml"
    res = import_model(path)
    assert main(["import", str(path), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"total: {res.macs:,} MACs in {len(res.layers)} layers" in text and "Traceback" not in text
    assert f"wrote {out}: {len(res.network.nodes)} nodes, {len(res.layers)} MAC layers" in text
    for c in res.not_modelled:                    # listed in the summary and kept as nodes in the YAML
        assert f"  {c.op}: {c.count} (" in text and out.read_text().count(f"op: other, onnx_op: {c.op},") == c.count
    _same_graph(res.network, parse_config(yaml.safe_load(out.read_text()), str(out)).network)


@pytest.mark.parametrize("model", ["resnet50", "densenet121"])
def test_evaluate_of_the_written_yaml_equals_evaluate_of_the_onnx_file(tmp_path, capsys, model):
    path, out = LIGHT / f"light_{model}.onnx", tmp_path / "layers.yaml"
    assert main(["import", str(path), "-o", str(out)]) == 0
    out.write_text(out.read_text() + yaml.safe_dump({"hardware": HARDWARE}))
    direct = tmp_path / "direct.yaml"
    direct.write_text(yaml.safe_dump({"name": f"light_{model}", "workload": {"onnx": str(path)},
                                      "hardware": HARDWARE}))
    capsys.readouterr()
    runs = []
    for cfg in (out, direct):
        assert main(["evaluate", str(cfg), "--json"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    a, b = runs
    assert [(x["name"], x["macs"], x["count"]) for x in a["layers"]] == \
        [(x["name"], x["macs"], x["count"]) for x in b["layers"]]
    assert a["total"] == b["total"] and a["total"]["macs"] == import_model(path).macs
    _same_graph(import_model(path).network, load_config(out).network)


def test_unmodelled_ops_stay_as_other_nodes_and_asymmetric_pools_keep_their_shape():
    alex = layers_yaml(import_model(LIGHT / "light_bvlc_alexnet.onnx"))[0]
    assert alex.count("op: other, onnx_op: LRN, shape: [1, 96, 54, 54]}") == 1
    # asymmetric pool pads: the spec has no key for them, so the model's shape is written and the pads noted
    inc = layers_yaml(import_model(LIGHT / "light_inception_v2.onnx"))[0]
    line = next(x for x in inc.splitlines() if "op: maxpool" in x and "pads" in x)
    assert "shape: [" in line and "# kernel_shape [3, 3]; pads [0, 0, 1, 1]; strides [2, 2]" in line
    assert "kernel:" not in line
    pools = [n for n in import_model(LIGHT / "light_resnet50.onnx").network.nodes if n.op == "maxpool"]
    assert [(n.attr("kernel"), n.attr("stride"), n.attr("padding")) for n in pools] == [(3, 2, 1)]


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _save(tmp_path, m, name="m.onnx"):
    onnx.save(m, tmp_path / name)
    return import_model(tmp_path / name)


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_branch_before_the_first_conv_a_node_named_input_and_a_transposed_conv(tmp_path):
    w = numpy_helper.from_array(np.zeros((8, 8, 1, 1), np.float32), "w")
    wt = numpy_helper.from_array(np.zeros((8, 4, 3, 3), np.float32), "wt")
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="input"),     # reads x before any conv
             helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Mul", ["c", "s"], ["m"], name="gate"),
             helper.make_node("ConvTranspose", ["m", "wt"], ["t"], name="up", strides=[2, 2]),
             helper.make_node("Relu", ["t"], ["y"], name="act")]
    res = _save(tmp_path, _model(nodes, [_vi("x", [1, 8, 6, 6])], [_vi("y", None)], [w, wt]))
    text, skipped = layers_yaml(res)
    specs = yaml.safe_load(text)["workload"]["layers"]
    assert [s["name"] for s in specs] == ["conv", "input_1", "gate", "up", "act"] and skipped == 1
    assert specs[1]["inputs"] == ["input"] and specs[2]["inputs"] == ["conv", "input_1"]
    assert specs[3]["op"] == "other" and "conv_transpose2d: 10,368 MACs" in specs[3]["reason"]  # 1*8*6*6 x 4*3*3
    net = network_from_spec(specs, "m")
    assert net.node("act").shape == res.network.node("act").shape == (1, 4, 13, 13)
    assert net.macs == res.macs - res.network.node("up").macs


def test_graphs_the_layers_form_cannot_hold_are_one_line_errors(tmp_path, capsys):
    w = numpy_helper.from_array(np.zeros((4, 4, 1, 1), np.float32), "w")
    two = _model([helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Conv", ["s", "w"], ["y"])],
                 [_vi("a", [1, 4, 5, 5]), _vi("b", [1, 4, 5, 5])], [_vi("y", None)], [w])
    late = _model([helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Conv", ["r", "w"], ["y"])],
                  [_vi("a", [1, 4, 5, 5])], [_vi("y", None)], [w])
    only_t = _model([helper.make_node("ConvTranspose", ["a", "w"], ["y"])], [_vi("a", [1, 4, 5, 5])],
                    [_vi("y", None)], [w])
    for name, m, msg in [("two", two, "-o: the layers: form has one graph input; two has 2 (a, b)"),
                         ("late", late, "-o: no MAC layer of late the layers: form can hold reads the graph input "
                          "'a' alone"),
                         ("only_t", only_t, "-o: no MAC layer of only_t the layers: form can hold")]:
        onnx.save(m, tmp_path / f"{name}.onnx")
        assert main(["import", str(tmp_path / f"{name}.onnx"), "-o", str(tmp_path / "o.yaml")]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "o.yaml").exists()


@pytest.mark.parametrize("spec, msg", [
    ({"name": "x", "op": "other", "onnx_op": "LRN"}, "layers[1]: missing key 'shape'"),
    ({"name": "x", "op": "relu", "shape": [1, 0]}, "layers[1].shape: must be a non-empty list of positive"),
    ({"name": "x", "op": "other", "onnx_op": 3, "shape": [1]}, "layers[1].onnx_op: must be a non-empty string"),
])
def test_spec_shape_and_other_keys_are_checked(spec, msg):
    head = {"name": "fc", "op": "gemm", "M": 4, "N": 4, "K": 4}
    with pytest.raises(WorkloadError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        network_from_spec([head, spec], "n")
    net = network_from_spec([head, {"name": "n", "op": "other", "onnx_op": "LRN", "shape": [2, 8]},
                             {"name": "m", "op": "mul", "shape": [2, 8]}], "n")
    assert net.node("n").attr("onnx_op") == "LRN" and net.node("m").shape == (2, 8)


# -- the >2 GB path ----------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["squeezenet", "inception_v2"])
def test_the_infer_shapes_path_route_gives_the_same_network(monkeypatch, model):
    path = LIGHT / f"light_{model}.onnx"
    normal = import_model(path)
    calls = []
    real = onnx.shape_inference.infer_shapes_path
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes_path", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.setattr(onnx_load, "_PROTOBUF_LIMIT_BYTES", 0)      # every file is "over 2 GB"
    big = import_model(path)
    assert len(calls) == 1 and calls[0][0] == str(path)
    assert big.network == normal.network and big.not_modelled == normal.not_modelled and big.macs == normal.macs


# -- a sweep, map and evaluate on an imported network --------------------------------------------------
def test_sweep_on_the_imported_squeezenet(tmp_path, capsys):
    from codesign.search.settings import parse_search
    from codesign.search.sweep import run_sweep
    cfg = load_config(ROOT / "configs" / "onnx_squeezenet.yaml")
    out = tmp_path / "res"
    run_sweep(cfg, parse_search(cfg), out, n_trials=16, progress=False)
    df = codesign.load_results(out)
    assert len(df) == 16 and df["trial"].tolist() == list(range(16)) and df["feasible"].any()
    names = {e.name for e, _ in cfg.network.unique()}
    assert set(json.loads(df["mappings"].iloc[0])) == names
    # a feasible trial as a fixed config: `evaluate` reproduces its figures
    n = int(codesign.pareto_front(df)["trial"].iloc[0])
    assert main(["pareto", str(out), "--trial", str(n)]) == 0
    fixed = yaml.safe_load(capsys.readouterr().out)
    # the model's path resolved from the sweep's config: the trial's config works wherever it is saved
    model = (ROOT / "configs" / "models" / "light_squeezenet.onnx").resolve()
    assert fixed["workload"] == {"onnx": str(model), "batch": 1}
    p = tmp_path / "fixed.yaml"
    p.write_text(yaml.safe_dump(fixed))
    assert main(["evaluate", str(p), "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    row = df[df["trial"] == n].iloc[0]
    assert total["latency_cycles"] == row["latency_cycles"] and total["energy_pj"] == pytest.approx(row["energy_pj"])


def test_map_and_evaluate_on_the_imported_squeezenet_agree(capsys):
    cfg = str(ROOT / "configs" / "onnx_squeezenet_fixed.yaml")
    assert main(["evaluate", cfg, "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert main(["map", cfg, "--json"]) == 0
    mp = json.loads(capsys.readouterr().out)
    assert [x["name"] for x in mp["layers"]] == [x["name"] for x in ev["layers"]]
    for key in ("latency_cycles", "energy_pj", "macs"):
        assert sum(x["count"] * x["cost"][key] for x in mp["layers"]) == pytest.approx(ev["total"][key]), key
    assert ev["total"]["macs"] == 349_151_936
    assert main(["map", cfg, "--layer", "n3"]) == 0 and "n3" in capsys.readouterr().out
