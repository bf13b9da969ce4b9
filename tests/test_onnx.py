"""ONNX import on real files no one here wrote (shipped in the onnx wheel),
with onnxruntime as the golden of single-layer models and the systolic RTL."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper, version_converter  # noqa: F401

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.mapper import best_mapping
from codesign.families.systolic.rtl.gemm_view import as_gemm, im2col
from codesign.families.systolic.rtl.sim import Case, simulate_many
from codesign.workload import WorkloadError
from codesign.workload.onnx_import import import_model, layers_yaml, to_json
from codesign.workload.zoo import zoo

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
LIGHT = DATA / "light"
TORCH = DATA / "pytorch-converted"
ROOT = Path(__file__).resolve().parents[1]

LIGHT_MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
                "squeezenet", "vgg19", "zfnet512"]


@pytest.fixture(scope="module")
def light():
    return {m: import_model(LIGHT / f"light_{m}.onnx") for m in LIGHT_MODELS}


def _independent_macs(path: Path) -> int:
    """MACs from ONNX's own inferred output shapes (not our loop nests):
    Conv = output elements x C/g x kernel; Gemm = M x N x K."""
    m = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    vi = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
          for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    total = 0
    for n in m.graph.node:
        if n.op_type == "Conv":
            w = vi[n.input[1]]
            total += math.prod(vi[n.output[0]]) * math.prod(w[1:])
        elif n.op_type == "Gemm":
            a = vi[n.input[0]]
            total += math.prod(vi[n.output[0]]) * a[1]
    return total


@pytest.mark.parametrize("model", LIGHT_MODELS)
def test_light_model_imports_and_every_mac_is_counted(light, model):
    res = light[model]
    assert res.layers and res.onnx_nodes == len(onnx.load(str(LIGHT / f"light_{model}.onnx")).graph.node)
    assert res.macs == _independent_macs(LIGHT / f"light_{model}.onnx")
    # every ONNX node is accounted for once: a network node, an edge, folded, or a parameter node
    accounted = len(res.network.nodes) + sum(n for _, n in res.edges) + sum(n for _, n in res.folded) \
        + res.parameter_nodes
    assert accounted == res.onnx_nodes
    t = json.loads(to_json(res))["total"]
    assert t["macs"] == res.macs and t["layers"] == len(res.layers) and t["nodes"] == res.onnx_nodes


# Published MAC figures (multiply-accumulates; "FLOPs" in these sources count one multiply-add):
# - AlexNet (the two-tower BVLC model, 227x227): 666 M MACs in the conv layers (Chen et al., "Eyeriss",
#   ISSCC 2016, Sec. 14.5: "requires 666 million MACs per 227x227 image"); 724 M with the FC layers
#   (Sze et al., "Efficient Processing of DNNs: A Tutorial and Survey", Proc. IEEE 2017, Table III).
#   The ONNX file's input is 224x224, so the figure is checked at 227 (workload.inputs).
# - GoogLeNet / Inception v1: 1.43 G MACs (Sze et al. 2017, Table III); the paper's budget "1.5 billion
#   multiply-adds" (Szegedy et al., "Going deeper with convolutions", CVPR 2015, Sec. 1).
# - VGG-19: 19.6 G (He et al., "Deep Residual Learning", CVPR 2016, Sec. 4.1: "VGG-19 ... 19.6 billion
#   FLOPs").
# - torchvision's weight metadata ``_ops`` (GMACs at 224x224, torchvision/models/<net>.py, the
#   ``*_Weights.IMAGENET1K_V1`` meta; shown as "GFLOPS" on pytorch.org/vision model cards), for the same
#   architectures as these Caffe2 files: vgg19 19.632; resnet50 4.089 (torchvision's is ResNet v1.5, the
#   stride on the 3x3 conv, as in this file; He et al. 2016 Table 1's 3.8 G is v1, a different net);
#   densenet121 2.834; squeezenet1_1 0.349 (this file is v1.1: a 3x3 stem of 64 filters).
# No published figure was found for the Caffe2 ShuffleNet (g=4, its own channel widths, not a
# configuration of the paper's Table 1), ZFNet-512 or BN-Inception (Inception v2): those are checked
# against the independent count above only.
PUBLISHED_GMACS = {"inception_v1": (1.43, 2), "vgg19": (19.632, 3), "resnet50": (4.089, 3),
                   "densenet121": (2.834, 3), "squeezenet": (0.349, 3)}


@pytest.mark.parametrize("model", sorted(PUBLISHED_GMACS))
def test_mac_totals_match_published_figures(light, model):
    figure, digits = PUBLISHED_GMACS[model]
    assert round(light[model].macs / 1e9, digits) == figure
    if model == "vgg19":
        assert round(light[model].macs / 1e9, 1) == 19.6          # He et al. 2016


def test_alexnet_at_227_matches_eyeriss_and_sze():
    res = import_model(LIGHT / "light_bvlc_alexnet.onnx", inputs={"data_0": [1, 3, 227, 227]})
    conv = sum(n.macs for n in res.layers if n.op == "conv2d")
    assert round(conv / 1e6) == 666 and round(res.macs / 1e6) == 724
    assert [n.layer.bounds["G"] for n in res.layers if n.op == "conv2d"] == [1, 2, 1, 2, 2]


def test_inception_v1_is_within_the_papers_budget(light):
    assert light["inception_v1"].macs < 1.5e9


def test_resnet50_matches_the_zoo_layer_by_layer(light):
    ours = light["resnet50"].network.unique()
    theirs = zoo("resnet50").unique()
    assert len(ours) == len(theirs) == 24
    for (a, ca), (b, cb) in zip(ours, theirs):
        assert a.shape_key() == b.shape_key() and a.macs == b.macs and ca == cb, (a.name, b.name)
    assert light["resnet50"].folded == (("BatchNormalization", 53),)


def test_unmodelled_ops_are_listed_with_counts(light):
    lrn = {c.op: c for c in light["bvlc_alexnet"].not_modelled}["LRN"]
    assert lrn.count == 2 and lrn.elements == 96 * 54 * 54 + 256 * 26 * 26
    d = json.loads(to_json(light["densenet121"]))
    assert d["total"]["nodes"] == 1746 and {x["op"] for x in d["non_mac"]} >= {"concat", "relu", "batchnorm"}


# -- single layers: onnxruntime is the golden ---------------------------------------------------
TORCH_LAYERS = ["Conv2d", "Conv2d_strided", "Conv2d_padding", "Conv2d_dilated", "Conv2d_groups",
                "Conv2d_depthwise", "Conv2d_depthwise_padded", "Conv2d_depthwise_strided",
                "Conv2d_depthwise_with_multiplier", "Conv2d_no_bias", "Linear", "Linear_no_bias"]


def _int8(x: np.ndarray) -> np.ndarray:
    """Symmetric per-tensor int8 quantization, integers held in float32."""
    scale = float(np.abs(x).max()) / 127 or 1.0
    return np.clip(np.round(x / scale), -127, 127).astype(np.float32)


def _quantized_run(model_dir: Path):
    """The model with int8 weights and zero bias, its int8 input, and onnxruntime's output."""
    m = onnx.load(str(model_dir / "model.onnx"))
    x = numpy_helper.to_array(onnx.load_tensor(str(model_dir / "test_data_set_0" / "input_0.pb")))
    x = _int8(x)
    weights = {}
    for i, init in enumerate(m.graph.initializer):
        w = numpy_helper.to_array(init)
        q = _int8(w) if w.ndim > 1 else np.zeros_like(w)      # the bias is not a MAC: zero it
        weights[init.name] = q
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(q, init.name))
    y = _ort(m, {m.graph.input[0].name: x})
    return m, x.astype(np.int64), weights, np.rint(y).astype(np.int64)


def _ort(m, feeds):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if m.opset_import[0].version < 11:     # onnxruntime lacks some opset-6 kernels (Gemm-6)
        m = onnx.version_converter.convert_version(m, 11)
    return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _operands(node, m, x, weights):
    """Our layer's GEMM operands per group (numpy im2col of real tensors), and how to lay out ORT's output."""
    layer = node.layer
    w = weights[[i for i in m.graph.node if i.op_type in ("Conv", "Gemm", "MatMul")][0].input[1]] \
        if layer.op != "gemm" else None
    if layer.op in ("conv2d", "depthwise_conv2d"):
        p = dict(layer.params)
        cg, kg = p["C"] // p["groups"], p["K"] // p["groups"]
        return [im2col(layer, x[:, g * cg:(g + 1) * cg], w[g * kg:(g + 1) * kg].astype(np.int64))
                for g in range(p["groups"])]
    wt = [v for v in weights.values() if v.ndim == 2][0].astype(np.int64)   # (out, in) torch Linear weight
    return [(x, wt.T)]


def _ort_per_group(y, node, groups):
    """ORT output as (rows, cols) per group, rows (n, p, q) like im2col's a @ b."""
    if node.layer.op == "gemm":
        return [y]
    kg = y.shape[1] // groups
    return [y[:, g * kg:(g + 1) * kg].transpose(0, 2, 3, 1).reshape(-1, kg) for g in range(groups)]


def test_single_layers_match_onnxruntime_numpy_and_rtl():
    arch = SystolicArch(rows=4, cols=4, dataflow="os")
    cases, expect = [], []
    for name in TORCH_LAYERS:
        d = TORCH / f"test_{name}"
        res = import_model(d / "model.onnx")
        assert len(res.layers) == 1 and not res.not_modelled, name
        node = res.layers[0]
        m, x, weights, y = _quantized_run(d)
        groups = node.layer.gemm_view()["G"]
        ops = _operands(node, m, x, weights)
        golden = _ort_per_group(y, node, groups)
        assert node.shape == y.shape, name
        for (a, b), g in zip(ops, golden):
            assert np.array_equal(a @ b, g), name                # numpy golden of our loop nest == ORT
        run = as_gemm(node.layer, best_mapping(node.layer, arch).mapping)
        for (a, b), g in zip(ops, golden):
            cases.append(Case(run.layer, run.mapping, a, b))
            expect.append((name, g))
    results = simulate_many(arch, cases)
    for (name, g), r in zip(expect, results):
        assert r.bit_exact and r.cycle_exact and np.array_equal(r.outputs, g), name


def test_conv_transpose_is_its_scatter_loop_nest():
    res = import_model(TORCH / "test_ConvTranspose2d" / "model.onnx")
    node = res.layers[0]
    assert node.op == "conv_transpose2d" and node.shape == (1, 4, 20, 12)
    assert node.macs == 1 * 3 * 7 * 6 * 4 * 3 * 3
    assert best_mapping(node.layer, SystolicArch(rows=4, cols=4)).cost["macs"] == node.macs


# -- hand-built graphs: forms the shipped files lack ----------------------------------------------
def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_asymmetric_pads_give_the_exact_output_size_and_products(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.float32)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], pads=[0, 1, 2, 0], strides=[2, 2])
    m = _model([conv], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 7, 6])],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [numpy_helper.from_array(w, "w")])
    onnx.save(m, tmp_path / "pad.onnx")
    node = import_model(tmp_path / "pad.onnx").layers[0]
    x = rng.integers(-127, 128, (1, 3, 7, 6)).astype(np.float32)
    y = _ort(m, {"x": x})
    assert node.shape == y.shape and node.attr("pads") == (0, 1, 2, 0)
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (0, 2), (1, 0)))     # the padded input the layer indexes
    a, b = im2col(node.layer, xp, w.astype(np.int64))
    assert np.array_equal(a @ b, y.astype(np.int64).transpose(0, 2, 3, 1).reshape(-1, 4))


def test_attention_matmuls_are_batched_and_projections_are_gemms(tmp_path):
    f = TensorProto.FLOAT
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"]), helper.make_node("MatMul", ["x", "wk"], ["k"]),
             helper.make_node("Reshape", ["q", "hs"], ["q4"]), helper.make_node("Reshape", ["k", "hs"], ["k4"]),
             helper.make_node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
             helper.make_node("Transpose", ["k4"], ["kh"], perm=[0, 2, 3, 1]),
             helper.make_node("MatMul", ["qh", "kh"], ["s"]), helper.make_node("Softmax", ["s"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "qh"], ["o"]), helper.make_node("Gelu", ["o"], ["y"])]
    inits = [numpy_helper.from_array(np.zeros((64, 64), np.float32), "wq"),
             numpy_helper.from_array(np.zeros((64, 64), np.float32), "wk"),
             numpy_helper.from_array(np.array([0, 16, 4, 16], np.int64), "hs")]
    m = _model(nodes, [helper.make_tensor_value_info("x", f, ["batch", 16, 64])],
               [helper.make_tensor_value_info("y", f, None)], inits, opset=20)
    onnx.save(m, tmp_path / "attn.onnx")
    res = import_model(tmp_path / "attn.onnx", batch=2)
    ops = [(n.op, n.layer.bounds) for n in res.layers]
    assert ops[0] == ("gemm", {"M": 32, "N": 64, "K": 64})
    assert ops[2] == ("matmul", {"B": 8, "M": 16, "N": 16, "K": 16}) and ops[3][0] == "matmul"
    assert [(c.op, c.count) for c in res.non_mac] == [("softmax", 1), ("gelu", 1)] and not res.not_modelled
    assert dict(res.edges) == {"Reshape": 2, "Transpose": 2}
    with pytest.raises(WorkloadError, match=r"workload.inputs.x: dimension 0 \('batch'\) is symbolic"):
        import_model(tmp_path / "attn.onnx")


def test_a_custom_op_is_listed_not_fatal(tmp_path):
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Frobnicate", ["r"], ["z"], domain="acme"),
             helper.make_node("Erf", ["r"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", f, [2, 8])],
                                            [helper.make_tensor_value_info("y", f, None)]),
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])
    onnx.save(m, tmp_path / "custom.onnx")
    res = import_model(tmp_path / "custom.onnx")
    assert [(c.op, c.count) for c in res.not_modelled] == [("acme.Frobnicate", 1)]
    assert {c.op for c in res.non_mac} == {"relu", "erf"} and res.macs == 0


# -- the command line -------------------------------------------------------------------------------
def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "codesign.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def test_cli_errors_are_one_line_exit_2(tmp_path):
    (tmp_path / "text.onnx").write_text("not a model")
    good = (LIGHT / "light_squeezenet.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(good[: len(good) // 3])
    sym = _model([helper.make_node("Relu", ["x"], ["y"])],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(sym, tmp_path / "sym.onnx")
    cases = [(["import", tmp_path / "missing.onnx"], "no such file"),
             (["import", tmp_path / "text.onnx"], "not a readable ONNX model"),
             (["import", tmp_path / "cut.onnx"], "not a readable ONNX model"),
             (["import", tmp_path / "sym.onnx"], "dimension 0 ('N') is symbolic; give --batch"),
             (["import", tmp_path / "sym.onnx", "--input", "y=1,4"], "--input y: no such graph input"),
             (["import", LIGHT / "light_bvlc_alexnet.onnx", "--batch", "4"], "the model fixes that shape")]
    for args, msg in cases:
        r = _cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr, (args, r.stderr)
    r = _cli("import", tmp_path / "sym.onnx", "--batch", "3", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["non_mac"] == [{"op": "relu", "count": 1, "elements": 12}]


def test_cli_summary_json_and_layers_yaml_that_evaluate_reads(tmp_path):
    out = tmp_path / "layers.yaml"
    r = _cli("import", LIGHT / "light_squeezenet.onnx", "-o", out)
    assert r.returncode == 0 and "349,151,936 MACs in 26 layers" in r.stdout, r.stderr
    import yaml
    from codesign.config import parse_config
    raw = yaml.safe_load(out.read_text())
    cfg = parse_config(raw, str(out))
    assert cfg.network.macs == 349_151_936 and len(cfg.network.layers) == 26
    res = import_model(LIGHT / "light_squeezenet.onnx")
    assert layers_yaml(res)[1] == 0


def test_shipped_config_loads_the_copied_model():
    from codesign.config import load_config
    cfg = load_config(ROOT / "configs" / "onnx_squeezenet.yaml")
    assert cfg.network.macs == import_model(LIGHT / "light_squeezenet.onnx").macs
    assert (ROOT / "configs" / "models" / "light_squeezenet.onnx").read_bytes() == \
        (LIGHT / "light_squeezenet.onnx").read_bytes()


def test_config_errors_name_the_key(tmp_path):
    from codesign.config import ConfigError, parse_config
    base = {"onnx": str(LIGHT / "light_squeezenet.onnx")}
    for extra, msg in [({"batch": 0}, "workload.batch: must be a positive integer"),
                       ({"inputs": {"nope": [1, 3, 224, 224]}}, "workload.inputs.nope: no such graph input"),
                       ({"shape": 1}, "workload.shape: unknown key")]:
        with pytest.raises((ConfigError, WorkloadError), match=msg):
            parse_config({"workload": {**base, **extra}}, str(tmp_path / "c.yaml"))
    with pytest.raises((ConfigError, WorkloadError), match="workload.onnx: .*no such file"):
        parse_config({"workload": {"onnx": "nothere.onnx"}}, str(tmp_path / "c.yaml"))
