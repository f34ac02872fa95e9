"""The CLI and the window draw the same random feeds for the same model and seed (issue 12,
acceptance 3), with no loaded input and with one input loaded from a ``.npy`` file.

Each model passes every input through to an output (``Identity``), besides using it as its role
needs (an index into an embedding table, a mask, a plain float), so the outputs of a real run
are exactly the feeds: the CLI's come from ``python -m inspector run --save-outputs``, the
window's from a run of the inference panel. Both runs go through ONNX Runtime's child process;
the test waits on the panel's signals.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PySide6.QtCore import QSettings

from inspector.ui.panels.inference import InferencePanel
from inspector.ui.session import Session
from inspector.ui.settings import Settings
from inspector.ui.tasks import TaskRunner

SEED = 7
RUN_TIMEOUT_MS = 60_000


def _passthrough_model(
    folder: Path, name: str, inputs: list[onnx.ValueInfoProto], nodes, initializers
) -> Path:
    """``inputs`` used by ``nodes``, and each also copied to an output ``<input>_out``."""
    copies = [helper.make_node("Identity", [i.name], [f"{i.name}_out"]) for i in inputs]
    outputs = [
        helper.make_tensor_value_info(
            f"{i.name}_out",
            i.type.tensor_type.elem_type,
            [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim],
        )
        for i in inputs
    ] + [helper.make_tensor_value_info(n.output[0], TensorProto.UNDEFINED, None) for n in nodes]
    graph = helper.make_graph([*nodes, *copies], name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model = onnx.shape_inference.infer_shapes(model)  # gives the used outputs their types
    del model.graph.value_info[:]
    onnx.checker.check_model(model, full_check=True)
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    return path


def text_model(folder: Path) -> Path:
    """Token ids (int64, indices into a 50-row table), a bool mask and float16 scores, all
    [1, seq] with one symbolic dim shared; a float32 image with fixed dims."""
    table = numpy_helper.from_array(np.arange(200, dtype=np.float32).reshape(50, 4), "table")
    seq = ["batch", "seq"]
    inputs = [
        helper.make_tensor_value_info("tokens", TensorProto.INT64, seq),
        helper.make_tensor_value_info("attention_mask", TensorProto.BOOL, seq),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT16, seq),
        helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 4, 4]),
    ]
    nodes = [helper.make_node("Gather", ["table", "tokens"], ["embedded"], name="embed")]
    return _passthrough_model(folder, "text", inputs, nodes, [table])


def mixed_model(folder: Path) -> Path:
    """A float64 input with a symbolic dim first, an int32 index input, a uint8 input."""
    table = numpy_helper.from_array(np.ones((10, 3), np.float32), "rows")
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["n", 5]),
        helper.make_tensor_value_info("idx", TensorProto.INT32, [4]),
        helper.make_tensor_value_info("flags", TensorProto.UINT8, [2, 3]),
    ]
    nodes = [helper.make_node("Gather", ["rows", "idx"], ["picked"], name="pick")]
    return _passthrough_model(folder, "mixed", inputs, nodes, [table])


# (model builder, the input loaded from a file, its array)
CASES = {
    "text": (text_model, "tokens", np.array([[3, 1, 4, 1, 5, 9, 2, 6] * 2], np.int64)),
    "mixed": (mixed_model, "idx", np.array([9, 0, 9, 0], np.int32)),
}


@pytest.fixture
def panel(qtbot, tmp_path: Path):
    runner = TaskRunner()
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    p = InferencePanel(Session(runner), settings)
    qtbot.addWidget(p)
    p.options.warmup.setValue(0)
    p.options.repeat.setValue(1)
    yield p
    runner.cancel_all()
    assert runner.wait_idle(10_000)


def cli_feeds(model: Path, tmp_path: Path, *args: str, seed: int = SEED) -> dict[str, np.ndarray]:
    """The feeds of ``run --seed SEED ARGS``: the outputs it saves, minus ``_out``."""
    out = tmp_path / "cli_outputs.npz"
    cmd = [sys.executable, "-m", "inspector", "run", str(model), "--seed", str(seed)]
    cmd += [*args, "--repeat", "1", "--save-outputs", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    with np.load(out) as saved:
        return {k.removesuffix("_out"): saved[k] for k in saved.files if k.endswith("_out")}


def window_feeds(qtbot, panel: InferencePanel, model: Path, load: Path | None = None):
    """The feeds of a run of the inference panel at seed SEED (after loading ``load``)."""
    session = panel.session
    before = set(session.documents)
    session.open_file(model)  # as the window opens it
    qtbot.waitUntil(lambda: set(session.documents) != before, timeout=60_000)
    panel.set_document(max(session.documents))
    panel.feeds.seed.setValue(SEED)
    if load is not None:
        with qtbot.waitSignal(panel.feeds.feeds_loaded, timeout=10_000):
            panel.feeds.load_feeds_from(load)
        assert panel.state.loaded.keys() == {load.stem} and panel.state.feed_findings == []
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        panel.run()
    assert finished.args[0] == "ok", panel.result.findings if panel.result else None
    assert panel.result is not None
    arrays = panel.result.arrays()
    return {k.removesuffix("_out"): v for k, v in arrays.items() if k.endswith("_out")}


def assert_same(cli: dict[str, np.ndarray], window: dict[str, np.ndarray]) -> None:
    assert set(cli) == set(window)
    for name in cli:
        assert cli[name].dtype == window[name].dtype, name
        np.testing.assert_array_equal(cli[name], window[name], err_msg=name)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_and_window_draw_the_same_random_feeds(qtbot, panel, tmp_path, case):
    build, _, _ = CASES[case]
    model = build(tmp_path)
    cli = cli_feeds(model, tmp_path)
    assert_same(cli, window_feeds(qtbot, panel, model))
    # Several dtypes, and the seed matters (a parity of constants would prove nothing).
    assert len({a.dtype for a in cli.values()}) == len(cli)
    assert not all(
        np.array_equal(a, cli_feeds(model, tmp_path, "--seed", "8")[k]) for k, a in cli.items()
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_and_window_agree_with_one_input_loaded_from_npy(qtbot, panel, tmp_path, case):
    build, name, array = CASES[case]
    model = build(tmp_path)
    npy = tmp_path / f"{name}.npy"  # named after its input: the window's Load… matches it so
    np.save(npy, array)
    cli = cli_feeds(model, tmp_path, "--input", f"{name}={npy}", "--random")
    np.testing.assert_array_equal(cli[name], array)
    assert_same(cli, window_feeds(qtbot, panel, model, npy))
    # The loaded input changes no other input's values.
    random = cli_feeds(model, tmp_path)
    assert all(np.array_equal(cli[k], random[k]) for k in cli if k != name)
