"""Loading: good files load lazily; every kind of bad file gets one clear message, nothing written."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from inspector.core.graph import open_model
from inspector.core.loader import ModelLoadError, load_model_file
from inspector.core.tasks import Cancelled, CancelToken
from tests.bad_models import external_model, make_bad_files, small_model

EXPECTED_PROBLEM = {
    "empty": "empty",
    "truncated": "truncated",
    "not_onnx_text": "not an ONNX model",
    "not_onnx_random": "not an ONNX model",
    "zip": "zip archive",
    "external_missing": "missing",
    "external_truncated": "too short",
    "external_outside": "outside the model's folder",
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return make_bad_files(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("kind", sorted(EXPECTED_PROBLEM))
def test_bad_input_has_one_clear_line(bad_files, kind):
    path = bad_files[kind]
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ModelLoadError) as info:
        open_model(path)
    text = str(info.value)
    assert EXPECTED_PROBLEM[kind] in text
    assert "\n" not in text
    assert info.value.hint  # says what to do
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # never written


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model_file(tmp_path / "nope.onnx")
    with pytest.raises(ModelLoadError, match="folder"):
        load_model_file(tmp_path)


def test_external_data_is_read_lazily_and_correctly(tmp_path):
    path = external_model(tmp_path)
    model = open_model(path)
    inits = {i.name: i for i in model.graph.initializers}
    assert set(inits) == {"W", "b"}
    assert all(i.external is not None for i in inits.values())
    full = onnx.load(path)  # onnx's own loader, with the external data
    for t in full.graph.initializer:
        np.testing.assert_array_equal(inits[t.name].array(), numpy_helper.to_array(t))
        assert inits[t.name].nbytes == numpy_helper.to_array(t).nbytes
    assert model.external_bytes == sum(i.nbytes for i in inits.values())


def test_cancel_stops_loading(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(small_model(), path)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        open_model(path, cancel=token)


def test_progress_is_reported_in_order(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(small_model(), path)
    seen: list[float] = []
    open_model(path, progress=lambda f, _m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)


def test_opening_reads_no_external_weights(tmp_path, monkeypatch):
    """A model with external data opens and is drawn without reading one weight byte."""
    import inspector.core.graph as graph_module
    from inspector.core.diagram import draw_graph

    path = external_model(tmp_path)
    reads: list[str] = []

    def counting_read(tensor, ref):
        reads.append(tensor.name)
        raise AssertionError("weights were read while opening")

    monkeypatch.setattr(graph_module, "read_external_tensor", counting_read)
    model = open_model(path)
    draw_graph(model, model.graph)
    assert reads == []
    with pytest.raises(AssertionError):
        model.graph.values["W"].initializer.array()  # reading happens only when asked
    assert reads == ["W"]
