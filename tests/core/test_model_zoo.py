"""The model zoo itself: every fixture model is valid ONNX and loads in ONNX Runtime."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest

from tests.model_zoo import (
    SHIPPED_MODEL_FOLDERS,
    SHIPPED_SAMPLE,
    shipped_model_id,
    shipped_model_params,
    shipped_models,
    shipped_reference_outputs,
    shipped_test_data,
)

ZOO_FIXTURES = [
    "torch_cnn",
    "torch_transformer",
    "torch_lstm",
    "torch_if_loop",
    "helper_if_loop_function",
]

# Op types each model must contain: proof that the fixture builds what its name promises.
EXPECTED_OPS = {
    "torch_cnn": {"Conv", "BatchNormalization", "Relu", "MaxPool", "Gemm"},
    "torch_transformer": {"MatMul", "Softmax", "LayerNormalization"},
    "torch_lstm": {"LSTM"},
    "torch_if_loop": {"If", "Loop"},
    "helper_if_loop_function": {"If", "Loop", "ScaledAdd"},
}


@pytest.fixture(params=ZOO_FIXTURES)
def zoo_model(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, request.getfixturevalue(request.param)


def test_zoo_model_is_valid_onnx(zoo_model: tuple[str, Path]) -> None:
    name, path = zoo_model
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    ops = Counter(node.op_type for node in model.graph.node)
    assert EXPECTED_OPS[name] <= set(ops), f"{name} lacks {EXPECTED_OPS[name] - set(ops)}"
    # Small enough to build per session and keep in one file (no external data).
    assert path.stat().st_size < 2_000_000
    assert not list(path.parent.glob("*.data"))


def test_zoo_model_opens_in_onnxruntime(zoo_model: tuple[str, Path]) -> None:
    _, path = zoo_model
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()
    assert session.get_outputs()


def test_control_flow_models_have_subgraphs(torch_if_loop: Path, helper_if_loop_function: Path):
    for path in (torch_if_loop, helper_if_loop_function):
        graph = onnx.load(path).graph
        subgraphs = {
            attr.name
            for node in graph.node
            for attr in node.attribute
            if attr.type == onnx.AttributeProto.GRAPH
        }
        assert {"then_branch", "else_branch", "body"} <= subgraphs


def test_helper_model_calls_a_local_function(helper_if_loop_function: Path) -> None:
    model = onnx.load(helper_if_loop_function)
    functions = {(f.domain, f.name) for f in model.functions}
    calls = {(n.domain, n.op_type) for n in model.graph.node if n.domain}
    assert calls and calls <= functions


def test_cnn_has_dynamic_batch(torch_cnn: Path) -> None:
    first = onnx.load(torch_cnn).graph.input[0].type.tensor_type.shape.dim[0]
    assert first.dim_param == "batch"


def test_shipped_models_cover_every_folder() -> None:
    models = shipped_models()
    assert models == sorted(models)
    folders = {shipped_model_id(p).split("/")[0] for p in models}
    assert folders == set(SHIPPED_MODEL_FOLDERS)
    assert len(models) > 100
    assert all(p.is_file() for p in models)


def test_the_default_sample_is_shipped_and_the_rest_is_the_corpus() -> None:
    """Every sample model exists (a renamed one in a new onnx wheel would silently shrink the
    default run), the sample spans every folder, and every other model is marked corpus."""
    ids = [shipped_model_id(p) for p in shipped_models()]
    assert set(SHIPPED_SAMPLE) <= set(ids), set(SHIPPED_SAMPLE) - set(ids)
    assert {i.split("/")[0] for i in SHIPPED_SAMPLE} == set(SHIPPED_MODEL_FOLDERS)
    params = shipped_model_params()
    assert [p.values[0] for p in params] == shipped_models()
    default = [shipped_model_id(p.values[0]) for p in params if not p.marks]
    assert sorted(default) == sorted(SHIPPED_SAMPLE)
    marked = [p for p in params if p.marks]
    assert all([m.name for m in p.marks] == ["corpus"] for p in marked)
    assert len(marked) == len(ids) - len(SHIPPED_SAMPLE)


def test_shipped_test_data_and_reference_outputs() -> None:
    models = shipped_models()
    light = [p for p in models if p.parent.name == "light"]
    cases = [p for p in models if p.name == "model.onnx"]
    assert all(shipped_reference_outputs(p) for p in light)
    assert all(not shipped_test_data(p) for p in light)
    with_data = [p for p in cases if shipped_test_data(p)]
    assert with_data
    assert list(shipped_test_data(with_data[0])[0].glob("input_*.pb"))
