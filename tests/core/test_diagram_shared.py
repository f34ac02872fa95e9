"""Small shared values drawn once per consumer (inspector.core.diagram_shared), and the ordering
on a DenseNet-like concat chain, on models built with onnx.helper."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from inspector.core.diagram import BoxKind, build_diagram, draw_graph
from inspector.core.diagram_shared import MIN_COMPUTED_CONSUMERS, MIN_SPREAD, plan_copies
from inspector.core.graph import Model, build_model
from inspector.core.loader import load_model_file
from tests.benchmarks.test_layout_bench import layout_quality


def model_of(tmp_path, nodes, inputs, outputs, name="m") -> Model:
    graph = helper.make_graph(nodes, name, inputs, outputs)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    path = tmp_path / f"{name}.onnx"
    onnx.save(proto, path)
    return build_model(load_model_file(path))


def chain(x: str, prefix: str, length: int) -> tuple[list[onnx.NodeProto], str]:
    """``length`` Relus in a row: puts distance between the nodes around it."""
    nodes = []
    for i in range(length):
        nodes.append(helper.make_node("Relu", [x], [f"{prefix}{i}"]))
        x = f"{prefix}{i}"
    return nodes, x


def tensor(name: str, shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_a_shared_scalar_constant_gets_a_box_at_each_of_three_far_apart_consumers(tmp_path):
    nodes = [helper.make_node("Constant", [], ["one"], value_float=1.0)]
    x = "x"
    consumers = []
    for k, op in enumerate(["Add", "Mul", "Sub"]):
        run, x = chain(x, f"r{k}_", 40)
        nodes += run
        consumers.append(len(nodes))
        nodes.append(helper.make_node(op, [x, "one"], [f"{op}_out"]))
        x = f"{op}_out"
    model = model_of(tmp_path, nodes, [tensor("x", [1, 8])], [tensor(x, [1, 8])])
    d = build_diagram(model, model.graph)

    n_plain = len(nodes) + 2  # nodes, one graph input, one graph output
    assert d.box_count == n_plain + 2  # the Constant's own box and two copies
    # every consumer reads "one" from its own box, each standing for the Constant (node 0)
    edges = d.edges_of_value("one")
    boxes = [int(d.edge_src[e]) for e in edges]
    assert sorted(int(d.edge_dst[e]) for e in edges) == consumers
    assert len(set(boxes)) == 3
    assert all(d.ref[b] == 0 and d.kind[b] == BoxKind.NODE for b in boxes)
    # the first consumer keeps the original box; the copies map back to it, and selecting any
    # of the three (the view selects the node ``ref`` names) shows the node's own box
    original = int(d.node_box[0])
    assert boxes[0] == original and d.copy_of[original] == -1
    for b in boxes[1:]:
        assert b >= n_plain and d.copy_of[b] == original
        assert d.node_box[d.ref[b]] == original
        assert d.lines[b][: len(d.lines[original])] == d.lines[original]
        assert d.lines[b][-1] == "copy · shared by 3"
    # drawn next to its consumer: no edge of the Constant spans more than one rank
    layout = draw_graph(model, model.graph).layout
    assert all(layout.rank[d.edge_dst[e]] - layout.rank[d.edge_src[e]] == 1 for e in edges)


def test_large_values_and_nearby_computed_values_are_drawn_once(tmp_path):
    big = helper.make_tensor("w", TensorProto.FLOAT, [64, 64], np.zeros(64 * 64, np.float32))
    nodes = [
        helper.make_node("Constant", [], ["big"], value=big),  # 4,096 elements
        helper.make_node("Relu", ["x"], ["small"]),  # computed, read by two nodes next to it
        helper.make_node("Add", ["small", "big"], ["a"]),
        helper.make_node("Mul", ["small", "big"], ["b"]),
        helper.make_node("Sum", ["a", "b"], ["y"]),
    ]
    model = model_of(tmp_path, nodes, [tensor("x", [64, 64])], [tensor("y", [64, 64])])
    d = build_diagram(model, model.graph)
    assert d.box_count == len(nodes) + 2
    assert (d.copy_of == -1).all()


def test_a_small_computed_value_read_far_apart_is_copied_like_a_mask(tmp_path):
    nodes = [helper.make_node("Sigmoid", ["m"], ["mask"])]  # the mask, computed once at the top
    x = "x"
    readers = []
    for k in range(MIN_COMPUTED_CONSUMERS):
        run, x = chain(x, f"r{k}_", MIN_SPREAD // 2)
        nodes += run
        readers.append(len(nodes))
        nodes.append(helper.make_node("Add", [x, "mask"], [f"masked{k}"]))
        x = f"masked{k}"
    inputs = [tensor("x", [1, 8]), tensor("m", [1, 8])]
    outputs = [tensor(x, [1, 8])]
    model = model_of(tmp_path, nodes, inputs, outputs)
    model.graph.values["mask"].declared = model.graph.values["x"].declared  # float32[1,8]
    d = build_diagram(model, model.graph)
    sources = {int(d.edge_src[e]) for e in d.edges_of_value("mask")}
    assert len(sources) == MIN_COMPUTED_CONSUMERS
    # a copy has no in-edges: the mask's own input is drawn into the original only
    assert {int(d.edge_dst[e]) for e in d.edges_of_value("m")} == {int(d.node_box[0])}


def test_a_small_activation_read_far_apart_by_three_nodes_stays_one_box(tmp_path):
    """A residual stream in a tiny export: as small as a mask, read far apart, but by few nodes."""
    nodes = [helper.make_node("Sigmoid", ["x"], ["h"])]
    x = "x"
    for k in range(3):
        run, x = chain(x, f"r{k}_", MIN_SPREAD)
        nodes += run
        nodes.append(helper.make_node("Add", [x, "h"], [f"res{k}"]))
        x = f"res{k}"
    model = model_of(tmp_path, nodes, [tensor("x", [1, 8])], [tensor(x, [1, 8])])
    model.graph.values["h"].declared = model.graph.values["x"].declared  # float32[1,8]
    d = build_diagram(model, model.graph)
    assert {int(d.edge_src[e]) for e in d.edges_of_value("h")} == {0}
    assert (d.copy_of == -1).all()


def test_plan_copies_numbers_copies_in_edge_order_and_shares_one_per_consumer():
    # box 0 is shared: it feeds 3 (twice, two outputs), 2 and 4; box 1 is not shared
    src = np.array([0, 0, 1, 0, 0])
    dst = np.array([3, 2, 2, 3, 4])
    shared = np.array([True, False, False, False, False])
    new_src, original = plan_copies(5, src, dst, shared)
    # consumer 2 (the lowest) keeps box 0; 3 gets copy 5 (first seen), 4 gets copy 6
    assert new_src.tolist() == [5, 0, 1, 5, 6]
    assert original.tolist() == [0, 0]


def test_densenet_like_concat_chain_is_drawn_without_crossings(tmp_path):
    """The shape of the onnx wheel's DenseNet-121: each layer normalises the concat of all
    features so far (BatchNormalization with four parameter Constants, a scale and a bias each
    through an Unsqueeze), applies Relu, and concatenates the result with its input, so every
    concat feeds the next layer and, past it, the next concat. The topological order alone
    crossed the skip edge with the parameters' edges once per layer."""
    nodes = []
    x = "x"

    def const(name: str) -> str:
        nodes.append(helper.make_node("Constant", [], [name], value_floats=[0.5]))
        return name

    for k in range(8):
        params = [const(f"{p}{k}") for p in ("s", "b", "m", "v")]
        nodes.append(helper.make_node("BatchNormalization", [x, *params], [f"bn{k}"]))
        for name in ("scale", "bias"):
            axes = const(f"{name}_axes{k}")
            nodes.append(
                helper.make_node("Unsqueeze", [const(f"{name}{k}"), axes], [f"u{name}{k}"])
            )
        nodes += [
            helper.make_node("Mul", [f"bn{k}", f"uscale{k}"], [f"mul{k}"]),
            helper.make_node("Add", [f"mul{k}", f"ubias{k}"], [f"add{k}"]),
            helper.make_node("Relu", [f"add{k}"], [f"new{k}"]),
            helper.make_node("Concat", [x, f"new{k}"], [f"cat{k}"], axis=1),
        ]
        x = f"cat{k}"
    model = model_of(tmp_path, nodes, [tensor("x", [1, 4])], [tensor(x, [1, 4 * 2**8])])
    drawn = draw_graph(model, model.graph)
    d, lay = drawn.diagram, drawn.layout
    assert (d.copy_of == -1).all()  # every Constant has one consumer
    crossings, _, _ = layout_quality(
        lay.x, lay.y, d.edge_src, d.edge_dst, lay.edge_points, lay.edge_offsets
    )
    assert crossings == 0
