"""The graph model and `model_summary` agree with the onnx protobuf on every shipped model."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import shape_inference

from inspector.core.diagram import build_diagram
from inspector.core.graph import open_model
from inspector.core.summary import model_summary
from inspector.core.tensor_types import dtype_name, type_from_proto
from tests.model_zoo import count_ops, shipped_model_params, shipped_models

SHIPPED = shipped_models()


def _dims(vi: onnx.ValueInfoProto):
    t = type_from_proto(vi.type)
    return list(t.shape) if t and t.shape is not None else None


def test_corpus_is_complete():
    assert len(SHIPPED) >= 140  # light, pytorch-converted, pytorch-operator, simple


@pytest.mark.parametrize(
    "path", shipped_model_params(), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}"
)
def test_summary_agrees_with_protobuf(path):
    proto = onnx.load(path)
    s = model_summary(open_model(path))
    assert s["ir_version"] == proto.ir_version
    assert s["opset_imports"] == {o.domain: o.version for o in proto.opset_import}
    assert s["producer"] == {"name": proto.producer_name, "version": proto.producer_version}
    init_names = {t.name for t in proto.graph.initializer}
    real_inputs = [vi for vi in proto.graph.input if vi.name not in init_names]
    assert [i["name"] for i in s["inputs"]] == [vi.name for vi in real_inputs]
    assert [i["dtype"] for i in s["inputs"]] == [
        dtype_name(vi.type.tensor_type.elem_type) for vi in real_inputs
    ]
    assert [i["shape"] for i in s["inputs"]] == [_dims(vi) for vi in real_inputs]
    assert [o["name"] for o in s["outputs"]] == [vi.name for vi in proto.graph.output]
    assert [o["shape"] for o in s["outputs"]] == [_dims(vi) for vi in proto.graph.output]
    counts = count_ops(proto.graph)
    assert s["node_count"] == sum(counts.values())
    assert s["op_counts"] == dict(counts)
    assert s["initializer_bytes"] == sum(
        onnx.numpy_helper.to_array(t).nbytes for t in proto.graph.initializer
    )


@pytest.mark.parametrize("path", SHIPPED[::7], ids=lambda p: p.parent.name)
def test_inferred_types_match_onnx_shape_inference(path):
    model = open_model(path)
    inferred = shape_inference.infer_shapes(onnx.load(path))
    for vi in inferred.graph.value_info:
        v = model.graph.values[vi.name]
        assert v.inferred == type_from_proto(vi.type)


@pytest.mark.parametrize(
    "path", shipped_model_params(), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}"
)
def test_diagram_holds_every_node_and_edge(path):
    proto = onnx.load(path)
    model = open_model(path)
    d = build_diagram(model, model.graph)
    init_names = {t.name for t in proto.graph.initializer}
    real_inputs = [vi.name for vi in proto.graph.input if vi.name not in init_names]
    assert d.box_count == len(proto.graph.node) + len(real_inputs) + len(proto.graph.output)
    # one edge per (non-initializer tensor, distinct consumer) plus one per graph output
    producers = {o for n in proto.graph.node for o in n.output} | set(real_inputs)
    expected = sum(
        len({i for i, n in enumerate(proto.graph.node) if t in n.input}) for t in producers
    )
    expected += sum(1 for o in proto.graph.output if o.name in producers)
    assert d.edge_count == expected


def test_declared_types_keep_their_precedence_when_value_info_is_read_late(tmp_path):
    # value_info types are read on first use (graph._ValueInfos); which declaration wins must
    # not change: an input's or initializer's own type, then the first value_info, and a graph
    # output's declaration over a value_info
    f32 = onnx.TensorProto.FLOAT

    def vi(name, elem, shape):
        return onnx.helper.make_tensor_value_info(name, elem, shape)

    graph = onnx.helper.make_graph(
        [
            onnx.helper.make_node("Add", ["x", "w"], ["y"]),
            onnx.helper.make_node("Relu", ["y"], ["z"]),
        ],
        "g",
        [vi("x", f32, [1, 4])],
        [vi("z", f32, [1, "n"])],
        [onnx.numpy_helper.from_array(np.ones((1, 4), np.float32), "w")],
        value_info=[
            vi("x", onnx.TensorProto.INT64, [9]),
            vi("w", onnx.TensorProto.INT64, [9]),
            vi("y", f32, [1, "seq"]),
            vi("y", onnx.TensorProto.DOUBLE, [2]),  # a later duplicate never counts
            vi("z", onnx.TensorProto.INT64, [9]),
            vi("unused", onnx.TensorProto.BOOL, [3]),
        ],
    )
    path = tmp_path / "declared.onnx"
    onnx.save(onnx.helper.make_model(graph), path)
    values = open_model(path, infer=False).graph.values
    seen = {name: (str(values[name].declared), values[name].type_source) for name in values}
    assert seen == {
        "x": ("float32[1,4]", "graph input"),
        "w": ("float32[1,4]", "initializer"),
        "y": ("float32[1,seq]", "value_info"),
        "z": ("float32[1,n]", "graph output"),
        "unused": ("bool[3]", "value_info"),
    }
    assert str(values["y"].type) == "float32[1,seq]"


def test_a_value_info_entry_without_a_type_leaves_the_name_to_a_later_one(tmp_path):
    # Read all at once, the value_info entries of one name were taken in order until one
    # declared a type; read late, an untyped first entry must not hide a typed later one.
    graph = onnx.helper.make_graph(
        [
            onnx.helper.make_node("Relu", ["x"], ["y"]),
            onnx.helper.make_node("Neg", ["y"], ["z"]),
        ],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [onnx.helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [1, 4])],
        value_info=[
            onnx.helper.make_empty_tensor_value_info("y"),
            onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, "seq"]),
        ],
    )
    path = tmp_path / "untyped_first.onnx"
    onnx.save(onnx.helper.make_model(graph), path)
    y = open_model(path, infer=False).graph.values["y"]
    assert (str(y.declared), y.type_source) == ("float32[1,seq]", "value_info")
