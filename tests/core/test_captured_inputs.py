"""Values a subgraph reads from its parent scope are found (through nested subgraphs, minus the
names a subgraph shadows) and drawn as edges into the control-flow node.

Models: an If built with onnx.helper whose branches read a graph input, a node output and (from
a Loop nested in a branch) another input; a Loop whose body shadows outer names; and the onnx
wheel's own If, Loop, Scan and SequenceMap node-test models, including the function-expanded
ones whose Loop and If bodies read their parent's values.
"""

from __future__ import annotations

import importlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from inspector.core.diagram import BoxKind, build_diagram
from inspector.core.graph import Graph, open_model
from inspector.core.scopes import captured_inputs, captured_reads

F32 = TensorProto.FLOAT
vi = helper.make_tensor_value_info


def _open(m: onnx.ModelProto, tmp_path, name: str = "m"):
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(m.SerializeToString())
    return open_model(path)


def if_reading_outer_values() -> onnx.ModelProto:
    """``If(c)``: then adds input ``a`` to ``r`` (Relu's output); else multiplies ``r`` by itself
    and runs a Loop (on the main graph's ``c_true``) whose body adds input ``b`` to the else
    branch's own ``e0``."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["b", "e0"], ["acc"], name="body_add"),
        ],
        "body",
        [vi("iter", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, [])],
        [vi("cond_out", TensorProto.BOOL, []), vi("acc", F32, [2])],
    )
    then_g = helper.make_graph(
        [helper.make_node("Add", ["a", "r"], ["t"], name="then_add")],
        "then",
        [],
        [vi("t", F32, [2])],
    )
    else_g = helper.make_graph(
        [
            helper.make_node("Mul", ["r", "r"], ["e0"], name="else_mul"),
            helper.make_node("Loop", ["", "c_true"], ["e"], name="loop", body=body),
        ],
        "else",
        [],
        [vi("e", F32, [None, 2])],
    )
    nodes = [
        helper.make_node("Relu", ["a"], ["r"], name="relu"),
        helper.make_node("Constant", [], ["c_true"], value_int=1),
        helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [vi("a", F32, [2]), vi("b", F32, [2]), vi("c", TensorProto.BOOL, [])],
        [vi("y", F32, None)],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def loop_shadowing_outer_names() -> onnx.ModelProto:
    """A Loop whose body has an input, an initializer and a node output named like outer values
    (``a``, ``w``, ``r``) and reads them, and reads ``z`` from outside."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Neg", ["a"], ["r"]),
            helper.make_node("Sum", ["a", "w", "r", "z"], ["acc"]),
        ],
        "body",
        [vi("iter", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("a", F32, [2])],
        [vi("cond_out", TensorProto.BOOL, []), vi("a_out", F32, [2]), vi("acc", F32, [2])],
        [helper.make_tensor("w", F32, [2], [1.0, 2.0])],
    )
    body.node.append(helper.make_node("Identity", ["acc"], ["a_out"]))
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Relu", ["x"], ["w"]),
        helper.make_node("Relu", ["x"], ["z"]),
        helper.make_node("Loop", ["n", "", "x"], ["out", "scan"], name="loop", body=body),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [vi("x", F32, [2]), vi("n", TensorProto.INT64, [])],
        [vi("out", F32, [2])],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _edges_into(diagram, box: int) -> dict[str, int]:
    """Tensor name → source box of every edge ending at ``box``."""
    return {
        diagram.edge_value[e]: int(diagram.edge_src[e])
        for e in range(diagram.edge_count)
        if int(diagram.edge_dst[e]) == box
    }


def test_if_branches_read_an_input_a_node_output_and_through_a_nested_loop(tmp_path):
    model = _open(if_reading_outer_values(), tmp_path)
    g = model.graph
    branch = next(n for n in g.nodes if n.name == "branch")
    # e0 is the else branch's own value; c_true and b are read by the Loop nested in it
    captured = captured_inputs(branch)
    assert sorted(captured) == ["a", "b", "c_true", "r"]
    assert captured_reads(g) == {name: [branch.index] for name in captured}
    # inside the else branch, the Loop captures b (from two scopes out) and e0 (from the branch)
    else_g = branch.subgraph_by_attribute["else_branch"]
    loop = next(n for n in else_g.nodes if n.name == "loop")
    assert captured_inputs(loop) == ["b", "e0"]

    diagram = build_diagram(model, g)
    into_if = _edges_into(diagram, int(diagram.node_box[branch.index]))
    relu = next(n for n in g.nodes if n.name == "relu")
    assert into_if == {
        "c": diagram.box_of_input(g.inputs.index("c")),
        "a": diagram.box_of_input(g.inputs.index("a")),
        "b": diagram.box_of_input(g.inputs.index("b")),
        "r": int(diagram.node_box[relu.index]),
        "c_true": int(diagram.node_box[1]),  # the Constant
    }
    # no graph input is drawn unconnected any more (b is read only by the nested Loop)
    for i in range(len(g.inputs)):
        assert diagram.box_of_input(i) in diagram.edge_src.tolist(), g.inputs[i]
    # the else branch's own drawing: e0 is drawn into its Loop; b and c_true come from the
    # main graph, where the If's edges show them
    inner = build_diagram(model, else_g)
    mul = next(n for n in else_g.nodes if n.name == "else_mul")
    assert _edges_into(inner, int(inner.node_box[loop.index])) == {
        "e0": int(inner.node_box[mul.index])
    }


def test_names_a_subgraph_defines_shadow_the_outer_values(tmp_path):
    model = _open(loop_shadowing_outer_names(), tmp_path)
    loop = next(n for n in model.graph.nodes if n.name == "loop")
    assert captured_inputs(loop) == ["z"]
    diagram = build_diagram(model, model.graph)
    into = _edges_into(diagram, int(diagram.node_box[loop.index]))
    assert set(into) == {"n", "x", "z"}  # its two inputs, and the one outer read


def test_a_node_reading_a_value_and_capturing_it_gets_one_edge(tmp_path):
    then_g = helper.make_graph(
        [helper.make_node("Neg", ["a"], ["t"])], "then", [], [vi("t", F32, [2])]
    )
    else_g = helper.make_graph(
        [helper.make_node("Abs", ["a"], ["e"])], "else", [], [vi("e", F32, [2])]
    )
    node = helper.make_node("If", ["a_is_pos"], ["y"], then_branch=then_g, else_branch=else_g)
    g = helper.make_graph(
        [
            helper.make_node("ReduceMin", ["a"], ["m"], keepdims=0),
            helper.make_node("Cast", ["m"], ["a_is_pos"], to=TensorProto.BOOL),
            node,
        ],
        "g",
        [vi("a", F32, [2])],
        [vi("y", F32, [2])],
    )
    model = _open(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    diagram = build_diagram(model, model.graph)
    pairs = list(zip(diagram.edge_src.tolist(), diagram.edge_dst.tolist(), strict=True))
    assert len(pairs) == len(set(pairs))
    if_box = int(diagram.node_box[2])
    assert _edges_into(diagram, if_box) == {"a_is_pos": 1, "a": diagram.box_of_input(0)}


# ----------------------------------------------------------------------- the onnx wheel's models

WHEEL_MODULES = ("if_", "loop", "scan", "sequence_map", "rangeop", "affinegrid")


def _wheel_cases() -> list[tuple[str, onnx.ModelProto]]:
    """The node-test models of the onnx wheel with a subgraph. Importing one case module runs its
    exports into the package's case list (``collect_testcases`` imports all ~200 modules, ~17 s)."""
    package = importlib.import_module("onnx.backend.test.case.node")
    for name in WHEEL_MODULES:
        importlib.import_module(f"{package.__name__}.{name}")
    cases = [
        (c.name, c.model)
        for c in package._NodeTestCases
        if any(a.type == onnx.AttributeProto.GRAPH for n in c.model.graph.node for a in n.attribute)
    ]
    return sorted(dict(cases).items())


def _oracle(g: Graph) -> dict[int, set[str]]:
    """For valid (SSA) models: a node captures the names read anywhere inside its subgraphs that
    its own graph or an enclosing one defines (independent of the scope walk under test)."""
    scope = {v.name for v in g.values.values() if v.producer is not None or v.is_input}
    scope |= {v.name for v in g.values.values() if v.initializer is not None}
    out: dict[int, set[str]] = {}
    for node in g.nodes:
        reads = {
            x
            for _, sub in node.subgraphs
            for inner in sub.iter_graphs()
            for n in inner.nodes
            for x in n.inputs
            if x
        }
        inner_defs = {
            x
            for _, sub in node.subgraphs
            for inner in sub.iter_graphs()
            for x in [
                *inner.inputs,
                *(o for n in inner.nodes for o in n.outputs),
                *(v.name for v in inner.values.values() if v.initializer is not None),
            ]
        }
        found = reads - inner_defs
        if found:
            out[node.index] = found
    return out


def test_the_onnx_wheel_control_flow_models(tmp_path):
    cases = _wheel_cases()
    names = [name for name, _ in cases]
    assert {"test_if", "test_loop11", "test_scan9_sum"} <= set(names)
    capturing = 0
    for name, proto in cases:
        model = _open(proto, tmp_path, name)
        g = model.graph
        expected = _oracle(g)
        found = {n.index: set(captured_inputs(n)) for n in g.nodes if captured_inputs(n)}
        assert found == expected, name
        diagram = build_diagram(model, g)
        # a small shared value's copy box (diagram_shared) stands for its original's box
        copy_of = diagram.copy_of
        src_boxes = np.where(
            copy_of[diagram.edge_src] >= 0, copy_of[diagram.edge_src], diagram.edge_src
        )
        edges = set(
            zip(
                diagram.edge_value,
                src_boxes.tolist(),
                diagram.edge_dst.tolist(),
                strict=True,
            )
        )
        for index, names_read in found.items():
            for value in names_read:
                v = g.values[value]
                if v.initializer is not None:
                    continue  # weights are listed on the box, not drawn as edges
                src = (
                    int(diagram.node_box[v.producer])
                    if v.producer is not None
                    else diagram.box_of_input(g.inputs.index(value))
                )
                assert (value, src, int(diagram.node_box[index])) in edges, (name, value)
            capturing += 1
        # every real input is drawn connected
        for i in range(len(g.inputs)):
            assert diagram.kind[diagram.box_of_input(i)] == BoxKind.INPUT
            assert diagram.box_of_input(i) in diagram.edge_src.tolist(), (name, g.inputs[i])
    # the expanded Range, SequenceMap and AffineGrid models read their parents' values
    assert capturing >= 10


@pytest.mark.parametrize("name", ["test_if", "test_loop11"])
def test_self_contained_bodies_add_no_edges(tmp_path, name):
    proto = dict(_wheel_cases())[name]
    model = _open(proto, tmp_path, name)
    assert captured_reads(model.graph) == {}
    diagram = build_diagram(model, model.graph)
    consumers = sum(
        len(set(v.consumers)) for v in model.graph.values.values() if v.initializer is None
    )
    assert diagram.edge_count == consumers + len(model.graph.outputs)
