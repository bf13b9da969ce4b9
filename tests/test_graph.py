"""The network graph IR (codesign.workload.graph): zoo graphs, YAML graphs, validation."""
import hashlib
import json
import math
from pathlib import Path

import pytest
import yaml

from codesign.config import parse_config
from codesign.workload import Network, Node, WorkloadError, gemm, layer_input_shape
from codesign.workload.graph import GraphBuilder, op_output_shape
from codesign.workload.spec import layers_from_spec, network_from_spec
from codesign.workload.zoo import zoo

SNAPSHOT = json.loads((Path(__file__).resolve().parent / "data" / "zoo_unique.json").read_text())


# -- the per-shape view is what the chain builders produced ----------------------

@pytest.mark.parametrize("case", SNAPSHOT["cases"], ids=lambda c: f"{c['model']}{c['kwargs'] or ''}")
def test_unique_view_equals_the_chain_builders_snapshot(case):
    """unique() of every zoo graph = the snapshot taken from the chain builders (tests/data/zoo_unique.json)."""
    w = zoo(case["model"], **case["kwargs"]).unique()
    assert w.name == case["name"]
    got = [{"name": l.name, "count": c, "aliases": list(al), "op": l.op, "dims": [list(d) for d in l.dims],
            "bits": [t.bits for t in l.tensors], "repr_sha256": hashlib.sha256(repr(l).encode()).hexdigest()}
           for l, c, al in zip(w.layers, w.counts, w.aliases)]
    assert got == case["layers"]


# -- zoo graphs: residuals, forks, element counts ------------------------------

def adds(net):
    return [n for n in net.nodes if n.op == "add"]


def test_resnet18_residual_adds_read_two_producers_of_equal_shape():
    net = zoo("resnet18")
    residual = adds(net)
    assert len(residual) == 8
    for node in residual:
        assert len(node.inputs) == 2
        last, skip = (net.node(x) for x in node.inputs)
        assert last.name.endswith(".conv2") and last.shape == skip.shape == node.shape
        assert net.consumers(node.name) == (node.name.replace(".add", ".relu_out"),)


def test_resnet_downsample_is_a_fork_of_the_block_input():
    net = zoo("resnet18")
    # stage 2 changes shape: its input feeds conv1 and the downsample conv, whose output is the skip
    assert net.consumers("layer1.1.relu_out") == ("layer2.0.conv1", "layer2.0.downsample")
    assert net.node("layer2.0.add").inputs == ("layer2.0.conv2", "layer2.0.downsample")
    # an identity block: the input feeds conv1 and the add
    assert net.consumers("maxpool") == ("layer1.0.conv1", "layer1.0.add")
    assert net.node("layer1.0.add").inputs == ("layer1.0.conv2", "maxpool")
    r50 = zoo("resnet50")
    assert len(adds(r50)) == 16
    assert r50.consumers("maxpool") == ("layer1.0.conv1", "layer1.0.downsample")   # 64 -> 256 channels
    assert r50.node("layer1.0.add").inputs == ("layer1.0.conv3", "layer1.0.downsample")


def test_resnet_element_counts():
    net = zoo("resnet18")
    assert net.node("relu").shape == (1, 64, 112, 112)
    assert net.node("maxpool").shape == (1, 64, 56, 56)
    assert net.node("maxpool").elements == 64 * 56 * 56
    assert dict(net.node("maxpool").attrs) == {"kernel": 3, "stride": 2, "padding": 1}
    assert net.node("layer4.1.relu_out").shape == (1, 512, 7, 7)
    assert net.node("avgpool").shape == (1, 512)
    assert net.node("fc").inputs == ("avgpool",)
    assert zoo("resnet50", batch=2, image=448).node("maxpool").shape == (2, 64, 112, 112)
    assert zoo("resnet50").node("avgpool").shape == (1, 2048)


def test_mobilenet_v2_graph():
    net = zoo("mobilenet_v2")
    residual = adds(net)
    assert len(residual) == 10          # stride 1 and cin == cout: 1 + 2 + 3 + 2 + 2 blocks
    for node in residual:
        project, x = (net.node(n) for n in node.inputs)
        assert project.name.endswith(".project") and project.shape == x.shape
    assert net.node("block2.expand").inputs == ("block1.project",)
    assert net.node("block2.expand.clip").attrs == (("max", 6), ("min", 0))
    assert net.node("block2.dw").inputs == ("block2.expand.clip",)
    assert net.node("block1.dw").inputs == ("stem.clip",)            # t = 1: no expansion
    assert net.consumers("block2.project") == ("block3.expand", "block3.add")   # the fork of a residual block
    assert [n.name for n in net.nodes[-4:]] == ["conv_last", "conv_last.clip", "avgpool", "fc"]
    assert net.node("avgpool").shape == (1, 1280)


def test_bert_attention_edges():
    net = zoo("bert_base", layers=2)
    assert net.consumers("input") == ("enc.0.q_proj", "enc.0.k_proj", "enc.0.v_proj", "enc.0.add1")
    assert net.node("enc.1.scores").inputs == ("enc.1.q_proj", "enc.1.k_proj")
    assert net.node("enc.1.softmax").inputs == ("enc.1.scores",)
    assert net.node("enc.1.context").inputs == ("enc.1.softmax", "enc.1.v_proj")
    assert net.node("enc.1.softmax").shape == (12, 128, 128)
    assert net.node("enc.0.add1").inputs == ("enc.0.out_proj", "input")
    assert net.node("enc.0.ffn_up").inputs == ("enc.0.ln1",)              # post-norm
    assert net.node("enc.0.add2").inputs == ("enc.0.ffn_down", "enc.0.ln1")
    assert net.consumers("enc.0.ln2") == ("enc.1.q_proj", "enc.1.k_proj", "enc.1.v_proj", "enc.1.add1")
    assert net.node("enc.1.ln2").shape == (128, 768) and net.nodes[-1].name == "enc.1.ln2"


def test_vit_graph():
    net = zoo("vit_b16")
    tokens = net.node("tokens")
    assert tokens.inputs == ("class_token", "patch_embed")
    assert tokens.elements == net.shape_of("class_token")[2] + net.node("patch_embed").elements == 197 * 768
    assert net.node("pos_add").inputs == ("tokens", "pos_embedding")
    assert net.consumers("pos_add") == ("enc.0.ln1", "enc.0.add1")         # pre-norm
    assert net.consumers("enc.0.ln1") == ("enc.0.q_proj", "enc.0.k_proj", "enc.0.v_proj")
    assert net.node("enc.0.ffn_up").inputs == ("enc.0.ln2",)
    assert net.node("enc.0.add2").inputs == ("enc.0.ffn_down", "enc.0.add1")
    assert [n.name for n in net.nodes[-2:]] == ["ln", "head"] and net.node("ln").inputs == ("enc.11.add2",)


@pytest.mark.parametrize("model", ["resnet18", "resnet50", "mobilenet_v2", "bert_base", "vit_b16"])
def test_zoo_graphs_are_topological_and_consistent(model):
    """Producers come first; each MAC layer reads as many elements as its operands hold."""
    net = zoo(model, batch=2)
    position = {n.name: i for i, n in enumerate(net.nodes)}
    for src, dst in net.edges:
        assert src in dict(net.inputs) or position[src] < position[dst], (src, dst)
    assert len(position) == len(net.nodes)
    for node in net.layers:
        if node.name == "head":             # ViT's head reads the class token of the normed sequence
            assert net.node(node.inputs[0]).elements == 197 * node.layer.bounds["M"] * node.layer.bounds["K"]
            continue
        operands = [math.prod(layer_input_shape(node.layer))]
        if len(node.inputs) == 2:           # a matmul's second operand
            operands.append(node.layer.footprint("weights"))
        assert [math.prod(net.shape_of(x)) for x in node.inputs] == operands, node.name
    assert hash(net) == hash(zoo(model, batch=2)) and net == zoo(model, batch=2)


# -- Network validation ----------------------------------------------------------

A, B = gemm(4, 4, 4, name="a"), gemm(4, 8, 4, name="b")


@pytest.mark.parametrize("build, message", [
    (lambda: Network("n", (Node("a", "gemm", ("input",), layer=A), Node("a", "relu", ("a",), (4, 4))),
                     (("input", (4, 4)),)),
     "network 'n': duplicate node name 'a'"),
    (lambda: Network("n", (Node("a", "gemm", ("x",), layer=A),), (("input", (4, 4)),)),
     "network 'n': node 'a' reads 'x', which is neither an earlier node nor a graph input"),
    (lambda: Network("n", (Node("r", "relu", ("a",), (4, 4)), Node("a", "gemm", ("input",), layer=A)),
                     (("input", (4, 4)),)),
     "network 'n': node 'r' reads 'a', which comes later (nodes go in topological order; a graph has no cycles)"),
    (lambda: Network("n", (Node("r", "relu", ("r",), (4, 4)),), (("input", (4, 4)),)),
     "network 'n': node 'r' reads itself (a cycle)"),
    (lambda: Network("n", (), (("input", (4, 0)),)),
     "network 'n': graph input 'input' shape (4, 0) must hold positive integers"),
    (lambda: Network("n", (), (("input", (4,)), ("input", (4,)))),
     "network 'n': graph input name 'input' is empty or used twice"),
    (lambda: Node("a", "conv2d", ("input",), layer=A), "node 'a': op 'conv2d' differs from its layer's op 'gemm'"),
    (lambda: Node("a", "gemm", ("input",), (4, 4)), "node 'a': op gemm needs a layer (its loop nest)"),
    (lambda: Node("a", "gemm", layer=A, count=0), "node 'a': count must be a positive integer, got 0"),
    (lambda: Node("r", "relu", shape=(4, -1)), "node 'r': shape (4, -1) must hold positive integers"),
])
def test_network_validation_errors(build, message):
    with pytest.raises(WorkloadError) as err:
        build()
    assert str(err.value) == message


def test_graph_builder_defaults_to_the_last_node_and_infers_shapes():
    g = GraphBuilder("n", [("input", (4, 4))])
    g.mac(A)
    g.op("r", "relu")
    g.mac(B, "input")
    g.op("cat", "concat", "r", "b")
    net = g.build()
    assert net.edges == (("input", "a"), ("a", "r"), ("input", "b"), ("r", "cat"), ("b", "cat"))
    assert net.node("cat").shape == (4, 12)
    with pytest.raises(WorkloadError, match=r"^network 'n', node 'x': inputs: add of inputs with different "
                                            r"element counts \(a: 16, b: 32\)$"):
        g.op("x", "add", "a", "b")


@pytest.mark.parametrize("op, inputs, attrs, shape", [
    ("maxpool", [("x", (1, 64, 112, 112))], {"kernel": 3, "stride": 2, "padding": 1}, (1, 64, 56, 56)),
    ("avgpool", [("x", (2, 8, 7, 7))], {"kernel": 2}, (2, 8, 3, 3)),          # stride defaults to the kernel
    ("global_avgpool", [("x", (2, 8, 7, 7))], {}, (2, 8)),
    ("concat", [("x", (1, 16, 5, 5)), ("y", (1, 48, 5, 5))], {}, (1, 64, 5, 5)),
    ("concat", [("x", (3, 4)), ("y", (5, 4))], {"axis": 0}, (8, 4)),
    ("add", [("x", (1, 8, 2, 2)), ("y", (32,)), ("z", (4, 8))], {}, (1, 8, 2, 2)),
    ("softmax", [("x", (12, 9, 9))], {}, (12, 9, 9)),
])
def test_op_output_shape(op, inputs, attrs, shape):
    assert op_output_shape(op, inputs, attrs) == shape


@pytest.mark.parametrize("op, inputs, attrs, message", [
    ("relu", [("x", (4,)), ("y", (4,))], {}, "inputs: relu reads 1 input, got 2"),
    ("add", [("x", (4,))], {}, "inputs: add reads 2 or more inputs, got 1"),
    ("sub", [("x", (4,))] * 3, {}, "inputs: sub reads 2 inputs, got 3"),
    ("maxpool", [("x", (1, 1, 4, 4))], {}, "kernel: missing (the pooling window's size)"),
    ("maxpool", [("x", (1, 1, 4, 4))], {"kernel": 3, "padding": 2}, "padding: 2 is more than half the kernel 3"),
    ("maxpool", [("x", (1, 1, 4, 4))], {"kernel": 0}, "kernel: must be a positive integer, got 0"),
    ("global_avgpool", [("x", (4, 4))], {},
     "inputs: global_avgpool reads an (N, C, H, W) tensor; 'x' has shape (4, 4)"),
    ("concat", [("x", (1, 2, 3)), ("y", (1, 2, 4))], {}, "inputs: concat along axis 1 needs the other axes equal: "
                                                          "'x' has shape (1, 2, 3), 'y' (1, 2, 4)"),
    ("concat", [("x", (1, 2)), ("y", (1, 2))], {"axis": 2}, "axis: must be an integer in 0..1 for 'x' of shape "
                                                            "(1, 2), got 2"),
    ("reshape", [("x", (4,))], {}, "op: no shape rule for 'reshape'"),
])
def test_op_output_shape_errors(op, inputs, attrs, message):
    with pytest.raises(WorkloadError) as err:
        op_output_shape(op, inputs, attrs)
    assert str(err.value).startswith(message)


# -- graphs in YAML ---------------------------------------------------------------

RESIDUAL_YAML = """
- {name: conv0, op: conv2d, N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3, padding: 1}
- {name: relu0, op: relu}
- {name: conv1, op: conv2d, N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3, padding: 1}
- {name: add1, op: add, inputs: [conv1, conv0]}
- {name: relu1, op: relu}
- {name: pool, op: maxpool, kernel: 3, stride: 2, padding: 1}
- {name: wide, op: conv2d, N: 1, C: 64, H: 28, W: 28, K: 32, R: 1, S: 1, inputs: [pool]}
- {name: cat, op: concat, inputs: [pool, wide]}
- {name: gap, op: global_avgpool}
- {name: fc, op: gemm, M: 1, N: 10, K: 96, count: 2}
- {name: probs, op: softmax}
"""


def test_yaml_residual_block():
    net = network_from_spec(yaml.safe_load(RESIDUAL_YAML), "res")
    assert net.inputs == (("input", (1, 64, 56, 56)),)
    assert net.node("add1").inputs == ("conv1", "conv0")
    assert net.consumers("conv0") == ("relu0", "add1")           # the fork
    assert net.node("conv1").inputs == ("relu0",)                # no inputs: the previous node
    assert net.node("pool").shape == (1, 64, 28, 28)
    assert dict(net.node("pool").attrs) == {"kernel": 3, "stride": 2, "padding": 1}
    avg = network_from_spec([{"op": "conv2d", "N": 1, "C": 2, "H": 9, "W": 9, "K": 2, "R": 1, "S": 1},
                             {"name": "avg", "op": "avgpool", "kernel": 2}], "a").node("avg")
    assert avg.shape == (1, 2, 4, 4) and avg.attrs == (("kernel", 2), ("padding", 0), ("stride", 2))
    assert net.node("cat").shape == (1, 96, 28, 28) and net.node("cat").attrs == (("axis", 1),)
    assert net.node("gap").shape == (1, 96)
    assert net.node("probs").shape == (1, 10)
    w = net.unique()
    assert [l.name for l in w.layers] == ["conv0", "wide", "fc"] and w.counts == (2, 1, 2)
    assert w.aliases[0] == ("conv0", "conv1") and net.node("fc").count == 2
    cfg = parse_config({"workload": {"layers": yaml.safe_load(RESIDUAL_YAML)},
                        "hardware": {"family": "systolic", "rows": 4, "cols": 4}}, "res.yaml")
    assert cfg.network.nodes == net.nodes and cfg.workload == w


def test_yaml_list_without_inputs_is_the_chain_of_its_layers():
    specs = [{"name": "fc", "op": "gemm", "M": 256, "N": 256, "K": 256},
             {"name": "c3", "op": "conv2d", "N": 1, "C": 128, "H": 28, "W": 28, "K": 128, "R": 3, "S": 3},
             {"name": "attn", "op": "matmul", "B": 12, "M": 128, "N": 128, "K": 64, "count": 12}]
    assert network_from_spec(specs, "x") == Network.chain("x", layers_from_spec(specs))
    assert layers_from_spec(yaml.safe_load(RESIDUAL_YAML))[-1][1] == 2      # MAC layers only, (layer, count)


G = {"op": "gemm", "M": 2, "N": 2, "K": 2}
C = {"op": "conv2d", "N": 1, "C": 4, "H": 4, "W": 4, "K": 4, "R": 1, "S": 1}


@pytest.mark.parametrize("specs, message", [
    ([{**C, "name": "c0"}, {**C, "name": "c1"}, {"name": "r", "op": "relu"}, {"op": "add", "inputs": ["c1", "conv9"]}],
     "workload.layers[3].inputs[1]: no node named 'conv9' before this one"),
    ([{**C, "name": "c0"}, {"op": "add", "inputs": ["c0", "c2"]}, {**C, "name": "c2"}],
     "workload.layers[1].inputs[1]: 'c2' comes later (workload.layers[2]); a node reads only earlier nodes"),
    ([{**C, "name": "c0"}, {"name": "r", "op": "relu", "inputs": ["r"]}],
     "workload.layers[1].inputs[0]: 'r' is this node itself (a cycle)"),
    ([{**C, "name": "c0"}, {**C, "name": "c1", "K": 8}, {"op": "add", "inputs": ["c0", "c1"]}],
     "workload.layers[2].inputs: add of inputs with different element counts (c0: 64, c1: 128)"),
    ([{**G, "name": "g"}, {"op": "maxpool", "kernel": 2}],
     "workload.layers[1].inputs: maxpool reads an (N, C, H, W) tensor; 'g' has shape (2, 2)"),
    ([C, {"op": "maxpool", "kernel": 5}], "workload.layers[1].kernel: window 5x5 does not fit input 4x4"),
    ([C, {"op": "maxpool", "kernel": 2, "stride": 0}], "workload.layers[1].stride: must be a positive integer, got 0"),
    ([C, {"op": "maxpool"}], "workload.layers[1].kernel: missing"),
    ([C, {"op": "relu", "count": 2}],
     "workload.layers[1]: unknown key 'count' for op relu; choose from name, op, inputs"),
    ([C, {"op": "add", "kernel": 2, "inputs": ["conv2d_0", "conv2d_0"]}], "workload.layers[1]: unknown key 'kernel'"),
    ([C, {"op": "clip", "min": "0"}], "workload.layers[1].min: must be a number, got '0'"),
    ([C, {"op": "clip", "min": 6, "max": 0}], "workload.layers[1].max: 0 is below min 6"),
    ([{"op": "relu"}, C], "workload.layers[0].op: the first node must be a MAC layer"),
    ([{**G, "inputs": "input"}], "workload.layers[0].inputs: must be a non-empty list of node names, got 'input'"),
    ([{**G, "inputs": [3]}], "workload.layers[0].inputs[0]: must be a node name (a non-empty string), got 3"),
    ([{**G, "name": "a"}, {**G, "inputs": ["a", "a"]}], "workload.layers[1].inputs: gemm reads 1 input, got 2"),
    ([{**G, "name": "input"}], "workload.layers[0].name: 'input' is the graph input's name"),
    ([C, {"op": "reshape"}], "workload.layers[1].op: unknown op 'reshape'; choose from gemm, conv2d"),
])
def test_yaml_graph_errors(specs, message):
    with pytest.raises(WorkloadError) as err:
        network_from_spec(specs, "x")
    text = str(err.value)
    assert "\n" not in text and text.startswith(message), text
