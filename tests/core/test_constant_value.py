"""A Constant node's value read from its attribute (``attributes.constant_value``), in each of the
spec's eight forms, and the two checks that read Reshape targets through it: the edges check and
the batch rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from inspector.core.attributes import constant_value
from inspector.core.checks import edges
from inspector.core.checks.batch_flow import analyse_batch
from inspector.core.graph import open_model

F = TensorProto.FLOAT


def constant(**value: object) -> onnx.NodeProto:
    return helper.make_node("Constant", [], ["c"], name="c", **value)


@pytest.mark.parametrize(
    ("value", "dtype", "shape", "expected"),
    [
        ({"value_int": 7}, TensorProto.INT64, (), np.array(7, np.int64)),
        ({"value_ints": [1, -1, 3]}, TensorProto.INT64, (3,), np.array([1, -1, 3], np.int64)),
        ({"value_float": 0.5}, F, (), np.array(0.5, np.float32)),
        ({"value_floats": [0.5, 2.0]}, F, (2,), np.array([0.5, 2.0], np.float32)),
        ({"value_string": "a"}, TensorProto.STRING, (), np.array("a", dtype=object)),
        (
            {"value_strings": ["a", "bc"]},
            TensorProto.STRING,
            (2,),
            np.array(["a", "bc"], dtype=object),
        ),
        (
            {"value": numpy_helper.from_array(np.arange(6, dtype=np.int32).reshape(2, 3))},
            TensorProto.INT32,
            (2, 3),
            np.arange(6, dtype=np.int32).reshape(2, 3),
        ),
        ({"value": numpy_helper.from_array(np.float32(3.0))}, F, (), np.array(3.0, np.float32)),
    ],
)
def test_each_form_gives_dtype_shape_and_values(value, dtype, shape, expected) -> None:
    c = constant_value(constant(**value))
    assert c is not None
    assert (c.dtype, c.shape, c.elements) == (dtype, shape, int(np.prod(shape)))
    got = c.array(1024)
    assert got is not None and got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tolist() == expected.tolist()
    # the same values as a tensor (what the edges check hands onnx's inference as data)
    tensor = c.tensor()
    assert tensor is not None and tensor.data_type == dtype
    assert numpy_helper.to_array(tensor).tolist() == expected.tolist()


def test_a_large_value_is_counted_but_not_read() -> None:
    c = constant_value(constant(value_ints=list(range(5))))
    assert c is not None and c.elements == 5
    assert c.array(4) is None and c.array(5) is not None


def test_sparse_external_and_stripped_values_are_described_but_not_read() -> None:
    values = numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "values")
    indices = numpy_helper.from_array(np.array([0, 5], np.int64), "indices")
    sparse = constant_value(constant(sparse_value=helper.make_sparse_tensor(values, indices, [8])))
    assert sparse is not None and (sparse.dtype, sparse.shape, sparse.elements) == (F, (8,), 8)
    assert sparse.array(1024) is None and sparse.tensor() is None

    external = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    set_external_data(external, "weights.bin")  # as onnx.save writes a large tensor out
    external.ClearField("raw_data")
    far = constant_value(constant(value=external))
    assert far is not None and far.shape == (4,) and far.array(1024) is None

    # 8 bytes for 4 int64s: weights whose data a tool cut short
    stripped = TensorProto(name="w", data_type=TensorProto.INT64, dims=[4], raw_data=b"\0" * 8)
    short = constant_value(constant(value=stripped))
    assert short is not None and short.elements == 4 and short.array(1024) is None


def test_only_a_constant_with_a_well_typed_value_has_one() -> None:
    assert constant_value(helper.make_node("Relu", ["x"], ["y"])) is None
    assert (
        constant_value(helper.make_node("Constant", [], ["c"], domain="custom", value_int=1))
        is None
    )
    assert constant_value(helper.make_node("Constant", [], ["c"], domain="ai.onnx", value_int=1))
    assert constant_value(constant()) is None  # no value at all
    wrong = constant(value=1)  # an INT attribute named as the TENSOR one
    assert wrong.attribute[0].type == onnx.AttributeProto.INT
    assert constant_value(wrong) is None


def _reshape(tmp_path: Path, target: onnx.NodeProto, name: str) -> Path:
    """x [1, 3, 4] → Reshape to the Constant ``target`` → Relu → y."""
    g = helper.make_graph(
        [
            target,
            helper.make_node("Reshape", ["x", "c"], ["flat"], name="flatten_to_1"),
            helper.make_node("Relu", ["flat"], ["y"], name="relu"),
        ],
        name,
        [helper.make_tensor_value_info("x", F, [1, 3, 4])],
        [helper.make_tensor_value_info("y", F, None)],
    )
    path = tmp_path / f"{name}.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _ints(values: list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64))


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ({"value_ints": [5, -1]}, {"value_ints": [1, -1]}),
        ({"value": _ints([5, -1])}, {"value": _ints([1, -1])}),
    ],
)
def test_the_edges_check_reads_a_reshape_target_from_a_constant(tmp_path, bad, good) -> None:
    # 12 elements do not divide by 5: a mismatch only a check that read the target finds
    wrong = open_model(_reshape(tmp_path, constant(**bad), "bad"))
    found = [(f.code, f.node) for f in edges.check(wrong) if f.code == "shape-mismatch"]
    assert found == [("shape-mismatch", "flatten_to_1")]
    fine = open_model(_reshape(tmp_path, constant(**good), "good"))
    assert [f for f in edges.check(fine) if f.code == "shape-mismatch"] == []


@pytest.mark.parametrize("form", [{"value_ints": [1, -1]}, {"value": _ints([1, -1])}])
def test_the_batch_rules_read_a_reshape_target_from_a_constant(tmp_path, form) -> None:
    flow = analyse_batch(open_model(_reshape(tmp_path, constant(**form), "baked")))
    assert "baked into its target shape [1, -1]" in flow.not_batch["x"]
