"""Where a finding sits in one graph's drawing (inspector.core.finding_places): the badges of the
graph view and the tallies of collapsed groups follow this one rule, so a group shows a finding
exactly when one of the boxes inside it does."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from inspector.core.finding_places import finding_places
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Graph, open_model
from inspector.core.hierarchy import NAME_SCOPES_KEY, build_hierarchy


def _open(tmp_path: Path, model: onnx.ModelProto) -> Graph:
    onnx.checker.check_model(model)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return open_model(path, infer=False).graph


def _scoped(node: onnx.NodeProto, *scopes: str) -> onnx.NodeProto:
    """``node`` exported from the module path ``scopes`` (torch's name-scope metadata)."""
    node.metadata_props.add(key=NAME_SCOPES_KEY, value=repr(["", *scopes, node.name]))
    return node


def test_a_finding_in_the_subgraph_of_a_node_named_function_sits_on_that_node(tmp_path):
    # A subgraph's path starts with its node's label; a node may well be called "function"
    # (its subgraph's path is then ("function", "then_branch")), and no model-local function
    # has that path: the finding still sits on the If node, as it did before finding_places.
    branch = {
        side: helper.make_graph(
            [helper.make_node(op, ["x"], [f"{side}_y"], name=f"{side}_op")],
            side,
            [],
            [helper.make_tensor_value_info(f"{side}_y", TensorProto.FLOAT, [2])],
        )
        for side, op in (("then", "Relu"), ("else", "Neg"))
    }
    nodes = [
        _scoped(helper.make_node("Abs", ["x"], ["a"], name="abs"), "enc"),
        _scoped(helper.make_node("ReduceSum", ["a"], ["s"], name="sum", keepdims=0), "enc"),
        _scoped(helper.make_node("Greater", ["s", "zero"], ["c"], name="gt"), "enc"),
        _scoped(
            helper.make_node(
                "If",
                ["c"],
                ["y"],
                name="function",
                then_branch=branch["then"],
                else_branch=branch["else"],
            ),
            "dec",
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [helper.make_tensor(name="zero", data_type=TensorProto.FLOAT, dims=[], vals=[0.0])],
    )
    g = _open(tmp_path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    finding = Finding(
        Severity.ERROR, "unsupported-op", "x", node_index=0, path=("function", "then_branch")
    )
    places = finding_places([finding], g)
    assert [(p.finding, p.nodes) for p in places] == [(finding, (3,))]
    h = build_hierarchy(g)
    assert h.source == "metadata"
    assert set(h.tally_findings([finding], g)) == {h.group("dec").id}


def test_a_finding_in_a_function_counts_in_every_group_holding_a_call(tmp_path):
    # The view puts a function body's finding on every node calling the function; a group
    # holding any of those calls shows it when collapsed (not only the first caller's group).
    body = onnx.helper.make_function(
        "local",
        "f",
        ["i"],
        ["o"],
        [helper.make_node("Relu", ["i"], ["o"], name="f_relu")],
        [helper.make_opsetid("", 17)],
    )
    nodes = [
        _scoped(helper.make_node("f", ["x"], ["a"], name="call_a", domain="local"), "enc"),
        _scoped(helper.make_node("Neg", ["a"], ["b"], name="neg"), "enc"),
        _scoped(helper.make_node("f", ["b"], ["y"], name="call_b", domain="local"), "dec"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)],
        functions=[body],
    )
    g = _open(tmp_path, model)
    finding = Finding(
        Severity.WARNING, "unsupported-type", "x", node_index=0, path=("function", "local:f")
    )
    places = finding_places([finding], g)
    assert [p.nodes for p in places] == [(0, 2)]  # the badges: on both calls
    h = build_hierarchy(g)
    assert h.source == "metadata"
    tally = h.tally_findings([finding], g)
    assert set(tally) == {h.group("enc").id, h.group("dec").id}
    assert all(t.count == 1 and t.total == 1 for t in tally.values())
