"""The structural diff (issue 16, acceptance 1 and the structural half of 5).

Real models only: the onnx wheel's, torch exports (made in a child process by
``tests.model_zoo``), and models built with onnx.helper (``tests.core.diff_cases``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.core.diff import ModelDiff, diff_models
from inspector.core.findings import Severity
from inspector.core.graph import Model, open_model
from inspector.core.tasks import Cancelled, CancelToken
from tests.bad_models import make_bad_files
from tests.core.diff_cases import (
    TORCH_BLOCK_CODE,
    chain_model,
    disguise,
    small_cnn,
    three_changes,
)
from tests.core.test_cli import run_cli
from tests.model_zoo import (
    TORCH_CNN_CODE,
    export_in_child,
    shipped_model_id,
    shipped_model_params,
    shipped_models,
)


def _open(proto: onnx.ModelProto, path: Path) -> Model:
    onnx.save(proto, path)
    return open_model(path)


def _shipped(stem: str) -> Path:
    return next(p for p in shipped_models() if shipped_model_id(p).endswith(stem))


def _assert_same(d: ModelDiff, a: Model) -> None:
    assert d.same, [f.message for f in d.findings]
    assert d.findings == ()
    assert d.pairs == tuple((i, i) for i in range(len(a.graph.nodes)))
    assert d.removed == d.added == d.changed == ()


# --- a model against itself -----------------------------------------------------------------


@pytest.mark.parametrize("path", shipped_model_params(), ids=shipped_model_id)
def test_shipped_model_against_itself_is_the_same(path):
    a = open_model(path)
    d = diff_models(a, open_model(path))
    _assert_same(d, a)
    assert d.matched_by_name + d.matched_by_structure == len(a.graph.nodes)
    # every node output and graph input/output is a tensor pair, each with itself
    assert all(x == y for x, y in d.tensor_pairs)
    assert {x for x, _ in d.tensor_pairs} >= set(a.graph.inputs) | set(a.graph.outputs)


@pytest.mark.parametrize("fixture", ["torch_cnn", "torch_transformer", "helper_if_loop_function"])
def test_export_against_itself_is_the_same(fixture, request):
    path = request.getfixturevalue(fixture)
    a = open_model(path)
    _assert_same(diff_models(a, open_model(path)), a)


@pytest.mark.parametrize("path", shipped_model_params(), ids=shipped_model_id)
def test_model_against_disguised_self_pairs_every_node_with_its_twin(path, tmp_path):
    """No name in common and another node order: only the structure pairs them, and rightly
    (all 149 shipped models with ``-m corpus``)."""
    b_proto, order = disguise(onnx.load(path))
    a, b = open_model(path), _open(b_proto, tmp_path / "b.onnx")
    d = diff_models(a, b)
    assert d.same, [f.message for f in d.findings][:5]
    assert dict(d.pairs) == dict(enumerate(order))
    assert d.matched_by_name == 0 and d.matched_by_structure == len(order)


# --- one attribute, one weight and one op type changed ----------------------------------------


def _source(name: str, request, tmp_path: Path) -> onnx.ModelProto:
    if name == "helper_cnn":
        return small_cnn()
    if name.startswith("light_"):
        return onnx.load(_shipped(name))
    return onnx.load(request.getfixturevalue(name))


@pytest.mark.parametrize("disguised", [False, True], ids=["names kept", "names and order changed"])
@pytest.mark.parametrize(
    "source",
    ["helper_cnn", "light_resnet50", "light_inception_v1", "torch_cnn", "torch_transformer"],
)
def test_three_changes_are_reported_on_their_nodes(source, disguised, request, tmp_path):
    original = _source(source, request, tmp_path)
    changed, where = three_changes(original)
    order = list(range(len(original.graph.node)))
    if disguised:
        changed, order = disguise(changed)
    a = _open(original, tmp_path / "a.onnx")
    b = _open(changed, tmp_path / "b.onnx")
    d = diff_models(a, b)

    assert not d.same and not d.removed and not d.added
    assert len(d.pairs) == len(order)
    lines = {c.a: c.lines for c in d.changed}
    assert {(c.a, c.b) for c in d.changed} == {
        (where.attribute, order[where.attribute]),
        (where.initializer, order[where.initializer]),
        (where.op_type, order[where.op_type]),
    }
    assert len(lines[where.attribute]) == 1
    assert lines[where.attribute][0].startswith(f"attribute {where.attribute_name}: ")
    name = where.initializer_name
    assert lines[where.initializer] == (f"initializer {name!r}: max |Δ| 0.5",)
    assert lines[where.op_type] == (f"op type {where.old_op} → {where.new_op}",)

    # one finding per changed node, carrying both sides' index; nothing else
    assert [(f.code, f.node_index, f.other_node_index) for f in d.findings] == [
        ("diff-changed", c.a, c.b) for c in d.changed
    ]
    assert all(f.severity is Severity.WARNING for f in d.findings)
    assert all(f.op_type == a.graph.nodes[f.node_index].op_type for f in d.findings)


# --- the other torch exporter ---------------------------------------------------------------

# One child exports the hand-written transformer block with the dynamo exporter (the driver's
# export) and, from the snippet, the block and the CNN with the TorchScript exporter: one torch
# start instead of three. The block is written out by hand (TORCH_BLOCK_CODE) because the
# TorchScript exporter cannot trace nn.TransformerEncoderLayer's attention, so the
# torch_transformer fixture has no TorchScript twin; the CNN's dynamo side is the torch_cnn
# fixture.
TORCHSCRIPT_TOO = """
import pathlib

def _torchscript(code, name, **kwargs):
    scope = {"torch": torch, "nn": nn}
    exec(code, scope)
    with torch.no_grad():
        torch.onnx.export(
            scope["model"].eval(), scope["args"], str(pathlib.Path(out).with_name(name)),
            dynamo=False, input_names=scope["export_kwargs"]["input_names"],
            output_names=scope["export_kwargs"]["output_names"], **kwargs,
        )

_torchscript(TORCH_BLOCK_CODE, "block_ts.onnx")
_torchscript(TORCH_CNN_CODE, "cnn_ts.onnx", dynamic_axes={"image": {0: "batch"}})
"""


@pytest.fixture(scope="module")
def exporter_pairs(tmp_path_factory, torch_cnn) -> dict[str, tuple[Path, Path]]:
    """name → (dynamo export, TorchScript export) of the same network."""
    folder = tmp_path_factory.mktemp("exporters")
    code = (
        f"TORCH_BLOCK_CODE = {TORCH_BLOCK_CODE!r}\nTORCH_CNN_CODE = {TORCH_CNN_CODE!r}\n"
        + TORCHSCRIPT_TOO
        + TORCH_BLOCK_CODE
    )
    block_dynamo = export_in_child(code, folder / "block_dynamo.onnx")
    return {
        "cnn": (torch_cnn, folder / "cnn_ts.onnx"),
        "transformer block": (block_dynamo, folder / "block_ts.onnx"),
    }


def shared_op_coverage(d: ModelDiff, a: Model, b: Model) -> tuple[int, int]:
    """(matched, total) over the nodes, on both sides, of the op types both models have.

    The exporters emit different op sets for the same network (the TorchScript exporter folds
    BatchNormalization into Conv and computes shapes with Shape/Gather/Constant chains; the
    dynamo exporter keeps BatchNormalization when not optimizing and uses initializers and
    Split), so a node of an op type the other model lacks cannot have a twin; every other node
    should find its twin.
    """
    ops_a = {n.op_type for n in a.graph.nodes}
    ops_b = {n.op_type for n in b.graph.nodes}
    shared = ops_a & ops_b
    in_a = [n.index for n in a.graph.nodes if n.op_type in shared]
    in_b = [n.index for n in b.graph.nodes if n.op_type in shared]
    a_matched = {x for x, _ in d.pairs}
    b_matched = {y for _, y in d.pairs}
    matched = sum(i in a_matched for i in in_a) + sum(i in b_matched for i in in_b)
    return matched, len(in_a) + len(in_b)


@pytest.mark.parametrize("network", ["cnn", "transformer block"])
def test_other_exporter_matches_most_nodes(network, exporter_pairs, capsys):
    dynamo, torchscript = (open_model(p) for p in exporter_pairs[network])
    d = diff_models(dynamo, torchscript)
    matched, total = shared_op_coverage(d, dynamo, torchscript)
    smaller = min(len(dynamo.graph.nodes), len(torchscript.graph.nodes))
    with capsys.disabled():  # the figure the issue asks to report
        print(
            f"\n{network}: dynamo {len(dynamo.graph.nodes)} nodes, TorchScript "
            f"{len(torchscript.graph.nodes)}; {len(d.pairs)} pairs = "
            f"{len(d.pairs) / smaller:.0%} of the smaller; "
            f"{matched}/{total} = {matched / total:.0%} of the nodes of shared op types"
        )
    assert matched / total >= 0.9
    assert len(d.pairs) / smaller >= 0.9
    # the pairs are right: every pair has the same op type, or is an op the other side lacks
    ops_b = {n.op_type for n in torchscript.graph.nodes}
    for x, y in d.pairs:
        op_a, op_b = dynamo.graph.nodes[x].op_type, torchscript.graph.nodes[y].op_type
        assert op_a == op_b or op_a not in ops_b, (x, y, op_a, op_b)


# --- model-level changes and subgraphs ------------------------------------------------------


def test_model_level_changes_are_findings_without_a_node(tmp_path):
    original = small_cnn()
    changed = onnx.ModelProto()
    changed.CopyFrom(original)
    changed.ir_version = original.ir_version - 1
    del changed.opset_import[:]
    changed.opset_import.append(helper.make_opsetid("", 18))
    x = changed.graph.input[0]
    x.type.tensor_type.shape.dim[0].dim_value = 4  # the dynamic batch made fixed
    changed.graph.input.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1]))
    d = diff_models(_open(original, tmp_path / "a.onnx"), _open(changed, tmp_path / "b.onnx"))
    model_level = [f for f in d.findings if f.code == "diff-model-changed"]
    assert [f.message for f in model_level] == [
        f"IR version {original.ir_version} → {original.ir_version - 1}",
        "opset ai.onnx 17 → 18",
        "graph input 'x' shape [batch,3,8,8] → [4,3,8,8]",
        "graph input 'extra' added",
    ]
    assert all(f.node_index is None and f.other_node_index is None for f in model_level)
    assert [f.tensor for f in model_level] == [None, None, "x", "extra"]
    # no node changed: none of the small CNN's ops has a new schema at opset 18, and a fixed
    # batch inside the graph is not a node's change (its graph input is)
    assert d.changed == ()


def test_opset_in_force_is_a_change_line_where_the_schema_differs(tmp_path):
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["s"], keepdims=1),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
    )
    # ReduceMean's schema changed at 18 (axes became an input), Relu's last at 14
    a = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    b = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    d = diff_models(_open(a, tmp_path / "a.onnx"), _open(b, tmp_path / "b.onnx"))
    assert [c.lines for c in d.changed] == [("opset 17 → 18 (ReduceMean-13 → ReduceMean-18)",)]
    assert d.changed[0].a == d.changed[0].b == 0


def test_changed_if_branch_and_loop_body_are_lines_on_their_nodes(
    helper_if_loop_function, tmp_path
):
    original = onnx.load(helper_if_loop_function)
    changed = onnx.ModelProto()
    changed.CopyFrom(original)
    nodes = {n.name: n for n in changed.graph.node}
    then_branch = next(x for x in nodes["gate"].attribute if x.name == "then_branch").g
    then_branch.node[0].op_type = "Sigmoid"
    body = next(x for x in nodes["accumulate"].attribute if x.name == "body").g
    body.node.append(helper.make_node("Neg", ["acc_out"], ["negated"], name="body_neg"))
    body.output[1].name = "negated"
    a, b = open_model(helper_if_loop_function), _open(changed, tmp_path / "b.onnx")
    d = diff_models(a, b)
    lines = {a.graph.nodes[c.a].name: c.lines for c in d.changed}
    assert lines == {
        "gate": ("subgraph then_branch: 1 node(s) changed (then_relu: op type Relu → Sigmoid)",),
        "accumulate": ("subgraph body: 1 added (body_neg)",),
    }
    assert not d.added and not d.removed


def test_added_and_removed_nodes_carry_one_side_index(tmp_path):
    original = small_cnn()
    changed = onnx.ModelProto()
    changed.CopyFrom(original)
    g = changed.graph
    # Tanh removed (the Add reads the Relu directly); an Identity inserted before the Flatten
    tanh = next(i for i, n in enumerate(g.node) if n.op_type == "Tanh")
    next(n for n in g.node if n.op_type == "Add").input[1] = "r"
    del g.node[tanh]
    flat = next(i for i, n in enumerate(g.node) if n.op_type == "Flatten")
    g.node[flat].input[0] = "sum_again"
    g.node.insert(flat, helper.make_node("Identity", ["sum"], ["sum_again"], name="copy"))
    a, b = _open(original, tmp_path / "a.onnx"), _open(changed, tmp_path / "b.onnx")
    d = diff_models(a, b)
    assert (d.removed, d.added) == ((tanh,), (flat,))
    assert [(f.code, f.node_index, f.other_node_index) for f in d.findings] == [
        ("diff-removed", tanh, None),
        ("diff-added", None, flat),
    ]
    # the nodes around them read through them: no change of theirs is reported
    assert d.changed == ()


def test_rewired_input_is_a_change_and_swapped_commutative_operands_are_not(tmp_path):
    original = small_cnn()
    changed = onnx.ModelProto()
    changed.CopyFrom(original)
    add = next(n for n in changed.graph.node if n.op_type == "Add")
    add.input[:] = [add.input[1], add.input[0]]  # t + l is l + t
    gemm = next(n for n in changed.graph.node if n.op_type == "Gemm")
    gemm.input[1], gemm.input[2] = "fc_b", "fc_w"  # not the same
    bn = next(n for n in changed.graph.node if n.op_type == "BatchNormalization")
    bn.input[0] = "x"  # the BatchNormalization reads the graph input, skipping the Conv
    d = diff_models(_open(original, tmp_path / "a.onnx"), _open(changed, tmp_path / "b.onnx"))
    assert [d_.lines for d_ in d.changed] == [
        ("input 0 rewired: 'c' → 'x'", "input 0 shape [batch,4,8,8] → [batch,3,8,8]"),
        (
            "initializer 'fc_w' shape [10,256] → [10]",
            "initializer 'fc_b' shape [10] → [10,256]",
        ),
    ]


def test_initializer_values_nan_alike_and_dtype_changed(tmp_path):
    """NaN where both have it is no difference; a weight cast to float16 reports the rounding."""
    original = small_cnn()
    fc_b = next(t for t in original.graph.initializer if t.name == "fc_b")
    values = numpy_helper.to_array(fc_b).copy()
    values[0] = np.nan
    fc_b.CopyFrom(numpy_helper.from_array(values, "fc_b"))
    same = onnx.ModelProto()
    same.CopyFrom(original)
    a = _open(original, tmp_path / "a.onnx")
    assert diff_models(a, _open(same, tmp_path / "same.onnx")).same

    half = onnx.ModelProto()
    half.CopyFrom(original)
    fc_b = next(t for t in half.graph.initializer if t.name == "fc_b")
    fc_b.CopyFrom(numpy_helper.from_array(values.astype(np.float16), "fc_b"))
    d = diff_models(a, _open(half, tmp_path / "half.onnx"))
    rounding = np.nanmax(np.abs(values.astype(np.float16).astype(np.float64) - values))
    gemm = next(n.index for n in a.graph.nodes if n.op_type == "Gemm")
    assert [(c.a, c.lines) for c in d.changed] == [
        (gemm, (f"initializer 'fc_b' dtype float32 → float16: max |Δ| {rounding:.6g}",))
    ]


def test_cancel_stops_the_diff(tmp_path):
    a = _open(chain_model(400), tmp_path / "a.onnx")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        diff_models(a, a, cancel)


def test_ten_thousand_nodes_diff_in_well_under_a_second(tmp_path):
    """Names kept, and all names and the order changed. Timed in this process's CPU time, best
    of three: the machine is shared, and its wall-clock time there says more about the other
    processes than about the diff (CPU 0.12 s named and 0.17 s disguised while the wall clock
    said 0.4 s and 0.55 s with a load average of 9 on 2 cores)."""
    original = chain_model(10_000)
    disguised, order = disguise(original)
    a = _open(original, tmp_path / "a.onnx")
    for b in (a, _open(disguised, tmp_path / "b.onnx")):
        times = []
        for _ in range(3):
            start = time.process_time()
            d = diff_models(a, b)
            times.append(time.process_time() - start)
        assert d.same and len(d.pairs) == 10_000
        assert min(times) < 0.5, times
    assert dict(d.pairs) == dict(enumerate(order))


# --- the command line -----------------------------------------------------------------------


def test_cli_same_models_exit_0(tmp_path):
    path = tmp_path / "a.onnx"
    onnx.save(small_cnn(), path)
    r = run_cli("diff", str(path), str(path), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["same"] is True and data["matched"] == 8 and data["findings"] == []
    r = run_cli("diff", str(path), str(path))
    assert r.returncode == 0
    assert "the models are the same" in r.stdout


def test_cli_different_models_exit_1_with_findings(tmp_path):
    original = small_cnn()
    changed, where = three_changes(original)
    pa, pb = tmp_path / "a.onnx", tmp_path / "b.onnx"
    onnx.save(original, pa)
    onnx.save(changed, pb)
    r = run_cli("diff", str(pa), str(pb), "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["same"] is False and data["matched"] == 8
    assert {(f["code"], f["node_index"], f["other_node_index"]) for f in data["findings"]} == {
        ("diff-changed", i, i) for i in (where.attribute, where.initializer, where.op_type)
    }
    assert all(f["severity"] == "warning" for f in data["findings"])
    r = run_cli("diff", str(pa), str(pb))
    assert r.returncode == 1
    assert "op type Relu → Sigmoid" in r.stdout
    assert "8 of 8 nodes in A matched" in r.stdout


def test_cli_unreadable_model_exit_2_one_line(tmp_path):
    good = tmp_path / "good.onnx"
    onnx.save(small_cnn(), good)
    bad = make_bad_files(tmp_path / "bad")["truncated"]
    for args in ((str(good), str(bad)), (str(good),)):
        r = run_cli("diff", *args, "--json")
        assert r.returncode == 2
        assert r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr
