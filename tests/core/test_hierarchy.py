"""The layer hierarchy (inspector.core.hierarchy) on real torch exports, the onnx wheel's models
and models built with onnx.helper; and `info`'s `groups`.

The torch models are exported in a child process (``export_in_child``); the same child writes
the module names torch gives (``named_modules()``) and each module's parameter count next to
the model, and the groups are checked against those.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.cli import main
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model, open_model
from inspector.core.hierarchy import MAX_DEPTH, NAME_SCOPES_KEY, Hierarchy, build_hierarchy
from inspector.core.hierarchy_repeats import _reached_from_inputs
from tests.model_zoo import (
    TORCH_CNN_CODE,
    TORCH_LSTM_CODE,
    TORCH_TRANSFORMER_CODE,
    export_in_child,
    shipped_model_id,
    shipped_model_params,
    torch_available,
)

# Written after the model is built, in the exporting child: the names torch gives.
DUMP_MODULES = """
import json
json.dump(
    {
        "modules": [name for name, _ in model.named_modules()],
        "params": {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_modules()},
    },
    open(out + ".modules.json", "w"),
)
"""

# A small transformer stack: the module tree has a called container (mlp, a Sequential), an
# uncalled one (layers, a ModuleList) and three levels under each layer.
STACK_CODE = """
class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(16, 16)
        self.k = nn.Linear(16, 16)
        self.v = nn.Linear(16, 16)
        self.out = nn.Linear(16, 16)

    def forward(self, x):
        w = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2) * 0.25, dim=-1)
        return self.out(w @ self.v(x))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(16)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(16)
        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 16)
        self.layers = nn.ModuleList([Block() for _ in range(3)])
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = self.embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


model = Stack()
args = (torch.randn(1, 6, 8),)
export_kwargs = {"dynamo": DYNAMO, "input_names": ["x"], "output_names": ["y"]}
"""

LINEARS = ("embed", "head", "q", "k", "v", "out", "mlp.0", "mlp.2")


def _export(tmp_path_factory: pytest.TempPathFactory, name: str, code: str) -> tuple[Path, dict]:
    if not torch_available():
        pytest.skip("torch is not installed")
    out = tmp_path_factory.mktemp("hierarchy") / f"{name}.onnx"
    export_in_child(code + DUMP_MODULES, out)
    return out, json.loads(Path(str(out) + ".modules.json").read_text())


@pytest.fixture(scope="module", params=["dynamo", "torchscript"])
def stack(request, tmp_path_factory) -> tuple[str, Model, dict]:
    """The stack exported by one exporter: (exporter, model, torch's module names and params)."""
    dynamo = request.param == "dynamo"
    path, torch_names = _export(
        tmp_path_factory, f"stack_{request.param}", STACK_CODE.replace("DYNAMO", str(dynamo))
    )
    return request.param, open_model(path, infer=False), torch_names


def _keys(h: Hierarchy) -> set[str]:
    return {g.key for g in h.groups[1:]}


def _assert_consistent(h: Hierarchy, node_count: int) -> None:
    """Counts add up (a control-flow node's subgraphs counted in its group), every group's slice
    holds exactly its subtree's nodes of the graph grouped, keys are unique."""
    assert len(h.node_group) == node_count
    assert h.groups[0].nodes == int(h.direct.sum())
    assert len(_keys(h)) == len(h.groups) - 1
    here = np.bincount(h.node_group, minlength=len(h.groups))  # nodes of this graph only
    subtree = here.copy()
    for g in reversed(h.groups[1:]):  # children come after their parents
        subtree[g.parent] += subtree[g.id]
    for g in h.groups:
        assert h.direct[g.id] >= here[g.id]
        assert g.nodes == h.direct[g.id] + sum(h.groups[c].nodes for c in g.children)
        inside = h.nodes_of(g.id)
        assert len(inside) == subtree[g.id]
        assert all(g.id == 0 or g.id in h.path_to(i) for i in inside.tolist())
        for c in g.children:
            assert h.groups[c].parent == g.id and h.groups[c].depth == g.depth + 1


# ------------------------------------------------------------------ torch exports: module tree


def test_stack_groups_follow_the_module_tree(stack):
    exporter, model, torch_names = stack
    h = build_hierarchy(model.graph)
    assert h.source == ("metadata" if exporter == "dynamo" else "names")
    _assert_consistent(h, len(model.graph.nodes))
    # Every module that ran ops is a group, keyed by the name torch gives it; the ModuleList
    # `layers` is never called, so each layer hangs under the root.
    assert _keys(h) == set(torch_names["modules"]) - {"", "layers"}
    assert [h.groups[c].key for c in h.groups[0].children] == [
        "embed",
        "layers.0",
        "layers.1",
        "layers.2",
        "head",
    ]
    for g in h.groups[1:]:
        parent = h.groups[g.parent]
        assert parent.key == "" or g.key.startswith(parent.key + ".")
    mlp = h.group("layers.1.mlp")
    assert [h.groups[c].name for c in mlp.children] == ["mlp.0", "mlp.1", "mlp.2"]
    assert h.group("layers.1.attn.q").name == "q"
    # A Linear's group holds its MatMul (or Gemm) and exactly its weight and bias.
    for g in h.groups[1:]:
        if g.name in LINEARS:
            ops = {model.graph.nodes[i].op_type for i in h.nodes_of(g.id).tolist()}
            assert ops & {"MatMul", "Gemm"}, g.key
            assert g.params == torch_names["params"][g.key], g.key
    sizes = {h.group(f"layers.{i}").nodes for i in range(3)}
    assert len(sizes) == 1  # the three layers export alike


def test_stack_json_tree(stack):
    _, model, torch_names = stack
    h = build_hierarchy(model.graph)
    data = json.loads(json.dumps(h.to_dict()))
    assert data["source"] in ("metadata", "names")
    top = {t["name"]: t for t in data["tree"]}
    assert set(top) == {"embed", "layers.0", "layers.1", "layers.2", "head"}
    layer = top["layers.1"]
    assert set(layer) == {"name", "nodes", "params", "children"}
    assert layer["nodes"] == h.group("layers.1").nodes
    names = [c["name"] for c in layer["children"]]
    assert names == ["norm1", "attn", "norm2", "mlp"]
    assert sum(c["nodes"] for c in layer["children"]) <= layer["nodes"]
    assert top["embed"]["params"] == torch_names["params"]["embed"] == 8 * 16 + 16


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "expected", "weighted"),
    [
        (
            TORCH_TRANSFORMER_CODE,
            {"self_attn", "linear1", "linear2", "norm1", "norm2"},
            {"linear1", "linear2", "norm1", "norm2"},
        ),
        (
            TORCH_CNN_CODE,
            {"stem", "block", "classifier"}
            | {f"{s}.{i}" for s in ("stem", "block") for i in range(4)},
            {"stem.0", "block.0", "classifier"},
        ),
        (TORCH_LSTM_CODE, {"lstm", "head"}, {"head"}),
    ],
    ids=["transformer", "cnn", "lstm"],
)
def test_zoo_exports_follow_the_module_tree(tmp_path_factory, code, expected, weighted):
    """The model zoo's dynamo exports (the fixtures' own code), with torch's module names.
    ``weighted``: modules whose ONNX nodes read exactly their torch parameters (elsewhere the
    exporter adds shape constants or splits and folds weights)."""
    path, torch_names = _export(tmp_path_factory, "zoo", code)
    model = open_model(path, infer=False)
    h = build_hierarchy(model.graph)
    assert h.source == "metadata"
    _assert_consistent(h, len(model.graph.nodes))
    assert _keys(h) <= set(torch_names["modules"])
    assert expected <= _keys(h)
    for key in weighted:
        assert h.group(key).params == torch_names["params"][key], key


# ------------------------------------------------------------ what a view asks of a hierarchy


def test_expand_collapse_and_the_way_to_a_node(stack):
    _, model, _ = stack
    h = build_hierarchy(model.graph)
    top = h.groups[0].children
    rep, boxes = h.collapse(h.expanded_to_depth(0))
    assert boxes == top
    for i, r in enumerate(rep.tolist()):
        path = h.path_to(i)
        assert r == (path[0] if path else -1)
    # Opening one layer shows its four children as boxes, the rest stays closed.
    layer = h.group("layers.1")
    rep, boxes = h.collapse({layer.id})
    assert set(boxes) == set(top) - {layer.id} | set(layer.children)
    assert boxes == sorted(boxes)  # in group order
    # Expanding everything draws every node itself; collapsing again gives the first drawing.
    rep_all, boxes_all = h.collapse(h.expanded_to_depth(h.max_depth))
    assert boxes_all == [] and (rep_all == -1).all()
    again, boxes_again = h.collapse(h.expanded_to_depth(0))
    assert boxes_again == top and np.array_equal(again, h.collapse(set())[0])
    # A closed group hides its open subgroups.
    rep_hidden, boxes_hidden = h.collapse({h.group("layers.1.attn").id})
    assert layer.id in boxes_hidden
    q = h.group("layers.1.attn.q")
    node = int(h.nodes_of(q.id)[0])
    assert rep_hidden[node] == layer.id
    # The way to a node in layers.1.attn.q, outermost first, opens it.
    way = h.path_to(node)
    assert [h.groups[g].key for g in way] == ["layers.1", "layers.1.attn", "layers.1.attn.q"]
    assert h.collapse(set(way))[0][node] == -1
    assert h.group_of(node) == q.id


def test_depth_for_fits_the_items(stack):
    _, model, _ = stack
    h = build_hierarchy(model.graph)

    def items(depth: int) -> int:
        rep, boxes = h.collapse(h.expanded_to_depth(depth))
        return len(boxes) + int((rep == -1).sum())

    for budget in (1, 5, 12, 30, 60, 10_000):
        d = h.depth_for(budget)
        if items(0) > budget:
            assert d == 0  # nothing fits: the top level all the same
            continue
        assert items(d) <= budget
        if d < h.max_depth:
            assert items(d + 1) > budget


def test_boundary_is_the_residual_stream(stack):
    _, model, _ = stack
    g = model.graph
    h = build_hierarchy(g)
    inside = {i: h.groups[h.path_to(i)[0]].key if h.path_to(i) else "" for i in range(len(g.nodes))}
    ins, outs = h.boundary(h.group("layers.1").id, g)
    # What layers.1 reads from outside: tensors made in layers.0 (or the root), never weights.
    assert ins and all(g.values[t].initializer is None for t in ins)
    assert {inside[g.values[t].producer] for t in ins if g.values[t].producer is not None} <= {
        "layers.0",
        "",
    }
    assert any(inside.get(g.values[t].producer) == "layers.0" for t in ins)
    # What it hands on is read in layers.2.
    assert outs and all(any(inside[c] == "layers.2" for c in g.values[t].consumers) for t in outs)
    ins_all, outs_all = h.boundary(0, g)
    assert ins_all == g.inputs and outs_all == g.outputs


def test_findings_tally_on_groups(stack):
    _, model, _ = stack
    g = model.graph
    h = build_hierarchy(g)
    q = [int(i) for i in h.nodes_of(h.group("layers.1.attn.q").id)]
    mlp = [int(i) for i in h.nodes_of(h.group("layers.1.mlp").id)]
    tensor = g.nodes[mlp[-1]].outputs[0]
    findings = [
        Finding(Severity.ERROR, "unsupported-op", "x", node_index=q[0]),
        Finding(Severity.ERROR, "unsupported-op", "x", node_index=q[1]),
        Finding(Severity.WARNING, "dtype-mismatch", "x", node_index=mlp[0]),
        Finding(Severity.INFO, "shape-mismatch", "x", tensor=tensor),  # on a tensor only
        Finding(Severity.ERROR, "invalid-model", "model-level"),  # on no node
        Finding(Severity.ERROR, "unsupported-op", "x", node_index=0, path=("other", "body")),
    ]
    tally = h.tally_findings(findings, g)
    layer = tally[h.group("layers.1").id]
    assert (layer.severity, layer.count, layer.total, layer.text) == (
        Severity.ERROR,
        2,
        4,
        "2 errors",
    )
    mlp_tally = tally[h.group("layers.1.mlp").id]
    assert (mlp_tally.severity, mlp_tally.count, mlp_tally.total) == (Severity.WARNING, 1, 2)
    assert mlp_tally.text == "1 warning"
    assert h.group("layers.0").id not in tally


# ------------------------------------------------------------- models built with onnx.helper


def _save(tmp_path: Path, graph: onnx.GraphProto) -> Model:
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return open_model(path, infer=False)


def test_name_scopes_metadata_unusual_text(tmp_path):
    """The fast split and the literal parse agree; text that is no module path means no group."""
    nodes = []
    values = [
        "['', 'enc', 'enc.layers.0', 'add']",
        '["", "enc", "enc.layers.0", "add_1"]',  # double quotes: parsed as a literal
        "['', 'enc', 'mul']",
        "['_empty_nn_module_stack_from_metadata_hook', 'sym_size_int_1']",
        "not a list",
        "['', \"it's\", 'neg']",
    ]
    prev = "x"
    for i, text in enumerate(values):
        n = helper.make_node("Neg", [prev], [f"t{i}"], name=f"n{i}")
        n.metadata_props.add(key=NAME_SCOPES_KEY, value=text)
        nodes.append(n)
        prev = f"t{i}"
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [2])],
    )
    h = build_hierarchy(_save(tmp_path, graph).graph)
    assert h.source == "metadata"
    keys = [h.groups[h.group_of(i)].key for i in range(len(values))]
    assert keys == ["enc.layers.0", "enc.layers.0", "enc", "", "", "it's"]
    assert h.group("enc.layers.0").name == "layers.0"
    # Invalid UTF-8 (the protobuf hands back bytes; same length, so the file stays whole).
    path = tmp_path / "m.onnx"
    path.write_bytes(path.read_bytes().replace(b"'enc', 'mul'", b"'enc', '\xff\xfe\xfd'"))
    h = build_hierarchy(open_model(path, infer=False).graph)
    assert h.groups[h.group_of(2)].key == "enc"


def test_a_scope_of_spaces_gets_a_title_one_can_see(tmp_path):
    """A module named " " (TorchScript ``/ /Relu``, dynamo ``' '``) is shown quoted, not as a
    blank box title."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="/ /Relu"),
        helper.make_node("Neg", ["a"], ["b"], name="/ /inner/Neg"),
        helper.make_node("Neg", ["b"], ["y"], name="/enc/  /Neg"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    h = build_hierarchy(_save(tmp_path, graph).graph)
    assert h.group(" ").name == "' '"
    assert h.group(" .inner").name == "inner"
    assert h.group("enc.  ").name == "'  '"


def test_torchscript_names_and_a_finding_inside_a_subgraph(tmp_path):
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["ty"], name="then_relu")],
        "then",
        [],
        [helper.make_tensor_value_info("ty", TensorProto.FLOAT, [2])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["ey"], name="else_neg")],
        "else",
        [],
        [helper.make_tensor_value_info("ey", TensorProto.FLOAT, [2])],
    )
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], name="/enc/blocks.0/ReduceSum", keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["c"], name="/enc/blocks.0/Greater"),
        helper.make_node(
            "If", ["c"], ["y0"], name="/enc/blocks.1/If", then_branch=then_g, else_branch=else_g
        ),
        helper.make_node("Relu", ["y0"], ["y1"], name="/dec/layers/layers.0/Relu"),
        helper.make_node("Neg", ["y1"], ["y"], name="Neg_7"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )
    g = _save(tmp_path, graph).graph
    h = build_hierarchy(g)
    assert h.source == "names"
    assert _keys(h) == {"enc", "enc.blocks.0", "enc.blocks.1", "dec", "dec.layers", "dec.layers.0"}
    assert h.group("dec.layers.0").name == "layers.0"  # a called container's child
    assert h.group_of(4) == 0
    assert h.group("enc.blocks.0").params == 1  # the scalar initializer it reads
    finding = Finding(
        Severity.ERROR,
        "unsupported-op",
        "x",
        node_index=0,
        path=("/enc/blocks.1/If", "then_branch"),
    )
    tally = h.tally_findings([finding], g)
    assert set(tally) == {h.group("enc").id, h.group("enc.blocks.1").id}
    _assert_consistent(h, len(g.nodes))


def test_scopes_deeper_than_the_cap_join_the_deepest_group(tmp_path):
    deep = "/" + "/".join(f"m{i}" for i in range(5000)) + "/Relu"
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name=deep)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    h = build_hierarchy(_save(tmp_path, graph).graph)
    assert h.max_depth == MAX_DEPTH and len(h.path_to(0)) == MAX_DEPTH
    json.dumps(h.to_dict())


def _layer_chain(copies: int, with_constants: bool) -> onnx.GraphProto:
    """Transpose, then ``copies`` × (MatMul, Add, Relu), then Softmax; no names. Weights are
    initializers, or Constant nodes all placed first (as some exporters do)."""
    nodes, inits = [], []
    consts = []
    prev = "x"
    nodes.append(helper.make_node("Transpose", [prev], ["t"], perm=[1, 0]))
    prev = "t"
    for i in range(copies):
        w = np.full((4, 4), i, np.float32)
        if with_constants:
            consts.append(
                helper.make_node("Constant", [], [f"w{i}"], value=numpy_helper.from_array(w))
            )
        else:
            inits.append(numpy_helper.from_array(w, f"w{i}"))
        inits.append(numpy_helper.from_array(np.ones(4, np.float32), f"b{i}"))
        nodes += [
            helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
            helper.make_node("Relu", [f"a{i}"], [f"r{i}"]),
        ]
        prev = f"r{i}"
    nodes.append(helper.make_node("Softmax", [prev], ["y"]))
    return helper.make_graph(
        consts + nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4])],
        inits,
    )


@pytest.mark.parametrize("with_constants", [False, True])
def test_repeats_make_one_block_group(tmp_path, with_constants):
    g = _save(tmp_path, _layer_chain(5, with_constants)).graph
    h = build_hierarchy(g)
    assert h.source == "repeats"
    _assert_consistent(h, len(g.nodes))
    (outer,) = h.groups[0].children
    block = h.groups[outer]
    assert block.name == "block ×5"
    assert [h.groups[c].name for c in block.children] == [f"block {i}" for i in range(1, 6)]
    per_copy = 4 if with_constants else 3  # each Constant weight joins the block that reads it
    assert [h.groups[c].nodes for c in block.children] == [per_copy] * 5
    assert [h.groups[c].params for c in block.children] == [4 if with_constants else 20] * 5
    for c in block.children:
        ops = [g.nodes[i].op_type for i in h.nodes_of(c).tolist()]
        assert [o for o in ops if o != "Constant"] == ["MatMul", "Add", "Relu"]
    assert h.tree()[0]["name"] == "block ×5"


def test_no_repeats_no_groups(tmp_path):
    g = _save(tmp_path, _layer_chain(1, False)).graph
    h = build_hierarchy(g)
    assert (h.source, h.tree(), len(h.groups)) == ("none", [], 1)
    rep, boxes = h.collapse(h.expanded_to_depth(0))
    assert boxes == [] and (rep == -1).all() and h.depth_for(1) == 0


@pytest.mark.parametrize("path", shipped_model_params(), ids=shipped_model_id)
def test_shipped_models(path):
    """The onnx wheel's models: no names, so repeats or none; every block's copies run the same
    ops along the data path; never a crash."""
    model = open_model(path, infer=False)
    main = build_hierarchy(model.graph)
    for g in model.graph.iter_graphs():
        h = main if g is model.graph else build_hierarchy(g)
        assert h.source in ("repeats", "none")
        _assert_consistent(h, len(g.nodes))
        json.dumps(h.to_dict())
        on_path = _reached_from_inputs(g)
        for outer in h.groups[0].children:
            copies = [
                [g.nodes[i].op_type for i in h.nodes_of(c).tolist() if on_path[i]]
                for c in h.groups[outer].children
            ]
            assert len(copies) >= 2 and all(c == copies[0] for c in copies)
    if shipped_model_id(path) == "light/light_resnet50":
        counts = [main.groups[c].name for c in main.groups[0].children]
        assert "block ×4" in counts and "block ×6" in counts  # ResNet-50's stages 2 and 3


# ------------------------------------------------------------------------------ 100k nodes


def _scoped_chain(nodes: int, per_layer: int) -> onnx.ModelProto:
    """A chain of ``nodes`` Add nodes with dynamo-style name scopes, ``per_layer`` per layer."""
    graph = helper.make_graph(
        [],
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info(f"t{nodes - 1}", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")],
    )
    prev = "x"
    for i in range(nodes):  # graph.node.add: helper.make_node takes seconds at this size
        layer = i // per_layer
        n = graph.node.add(op_type="Add", input=[prev, "one"], output=[f"t{i}"], name=f"n{i}")
        scopes = f"['', 'model', 'model.layers.{layer}', 'model.layers.{layer}.mlp', 'add_{i}']"
        n.metadata_props.add(key=NAME_SCOPES_KEY, value=scopes)
        prev = f"t{i}"
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_100k_nodes_well_under_a_second(tmp_path):
    path = tmp_path / "chain.onnx"
    onnx.save(_scoped_chain(100_000, 60), path)
    g = open_model(path, infer=False).graph
    start = time.process_time()  # CPU time: the machine's other work does not count
    h = build_hierarchy(g)
    cpu = time.process_time() - start
    assert cpu < 1.0, f"{cpu:.2f} s"
    assert h.group("model").nodes == 100_000
    assert h.group("model.layers.1666").nodes == 100_000 - 1666 * 60
    assert h.group("model.layers.7.mlp").params == 1


@pytest.mark.benchmark
def test_100k_benchmark_model():
    """The 100k-node Llama export of tests/benchmarks: its metadata hierarchy in under 1 s."""
    from tests.benchmarks.bench_models import get_model

    g = open_model(get_model("100k"), infer=False).graph
    start = time.process_time()
    h = build_hierarchy(g)
    cpu = time.process_time() - start
    print(f"\n100k hierarchy: {len(g.nodes)} nodes, {len(h.groups)} groups, {cpu:.3f} s CPU")
    assert cpu < 1.0
    assert h.source == "metadata"
    layers = h.group("model.model")
    assert len([c for c in layers.children if h.groups[c].name.startswith("layers.")]) == 1666


# ------------------------------------------------------------------------------------ CLI


def test_info_groups(stack, capsys):
    exporter, model, _ = stack
    assert main(["info", str(model.path), "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert groups == build_hierarchy(model.graph).to_dict()
    assert main(["info", str(model.path)]) == 0
    out = capsys.readouterr().out
    source = "metadata" if exporter == "dynamo" else "names"
    assert f"groups (from {source}):" in out
    # alike layers share one line
    assert "layers.1 … layers.2  ×2" in out or "layers.0 … layers.2  ×3" in out
