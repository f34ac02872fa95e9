"""BatchNormalization and InstanceNormalization: one parameter value per channel of the data.

Before opset 14, onnx infers BatchNormalization from the data alone (BatchNormalization-9 only
copies X's shape) and ONNX Runtime fails only when it runs the node, so a Conv cut to fewer output
channels in a PaddleOCR export (opset 11) showed up on the next node that had a rule, a depthwise
Conv three nodes later. Found by tests/core/test_wheel_models.py's channel-truncated Conv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.core.checks import edges
from inspector.core.findings import Severity
from inspector.core.graph import open_model

F = TensorProto.FLOAT


def _model(
    tmp_path: Path, nodes: list, inits: dict[str, list[int]], x: list, opset: int = 11
) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, x)],
        [helper.make_tensor_value_info("y", F, None)],
        [numpy_helper.from_array(np.ones(s, np.float32), n) for n, s in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path


def _errors(path: Path) -> list[tuple[str, int | None, str | None]]:
    found = edges.check(open_model(path, infer=False))
    return [(f.code, f.node_index, f.tensor) for f in found if f.severity is Severity.ERROR]


def _ort_refuses(path: Path, x: list[int]) -> bool:
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        session.run(None, {"x": np.ones(x, np.float32)})
    except Exception:
        return True
    return False


def _bn(data: str = "c", **sizes: int) -> tuple[onnx.NodeProto, dict[str, list[int]]]:
    names = ["scale", "bias", "mean", "var"]
    node = helper.make_node("BatchNormalization", [data, *names], ["y"], name="bn")
    return node, {n: [sizes.get(n, 8)] for n in names}


@pytest.mark.parametrize("opset", [11, 15])  # BatchNormalization-9 and -15
def test_data_with_a_channel_less_than_the_parameters_is_blamed_on_the_norm(tmp_path, opset):
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="conv")
    bn, params = _bn()
    path = _model(tmp_path, [conv, bn], {"w": [7, 3, 3, 3], **params}, ["n", 3, 8, 8], opset)
    assert _ort_refuses(path, [1, 3, 8, 8])
    assert _errors(path) == [("shape-mismatch", 1, "c")]


def test_one_parameter_of_the_wrong_length_is_the_one_blamed(tmp_path):
    bn, params = _bn(data="x", bias=9)
    path = _model(tmp_path, [bn], params, [2, 8, 4, 4])
    assert _ort_refuses(path, [2, 8, 4, 4])
    assert _errors(path) == [("shape-mismatch", 0, "bias")]


def test_instance_norm_scale(tmp_path):
    node = helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"], name="in")
    path = _model(tmp_path, [node], {"scale": [5], "bias": [4]}, [1, 4, 6])
    assert _ort_refuses(path, [1, 4, 6])
    assert _errors(path) == [("shape-mismatch", 0, "scale")]


@pytest.mark.parametrize("x", [[1, 8, 4, 4], ["n", 8, "h", "w"], [1, "c", 4, 4]])
def test_matching_or_unknown_channels_pass(tmp_path, x):
    bn, params = _bn(data="x")
    path = _model(tmp_path, [bn], params, x)
    assert _errors(path) == []
