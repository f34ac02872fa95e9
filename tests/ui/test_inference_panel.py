"""The inference panel on real models: loaded test data, random index inputs, the dtype cast, Cancel
of a hung run, the NaN locator, the profile heat, saving outputs, and the graph's heat overlay.

Models open through a session, as in the window; every run goes through its task runner and a real
ONNX Runtime child process; tests wait on the panel's and the session's signals, never sleep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from inspector.core.diagram import build_diagram, layout_diagram
from inspector.core.graph import open_model
from inspector.core.inference.inputs import build_feeds, input_specs
from inspector.scene import GraphScene
from inspector.scene.items import HEAT_COLOR
from inspector.ui.panels.inference import InferencePanel
from inspector.ui.panels.inference_results import OUTPUT_COLUMNS
from inspector.ui.session import Session
from inspector.ui.settings import Settings
from inspector.ui.tasks import TaskRunner
from tests.inference_models import (
    dims_model,
    endless_loop_model,
    inference_children,
    nan_mid_graph_model,
)
from tests.model_zoo import shipped_data_dir
from tests.ui.test_graph_view import count_color, helper_model, show

RUN_TIMEOUT_MS = 30_000
CONV = shipped_data_dir() / "pytorch-converted" / "test_Conv2d"
EMBEDDING = shipped_data_dir() / "pytorch-converted" / "test_Embedding"


@pytest.fixture
def panel(qtbot, tmp_path: Path):
    runner = TaskRunner()
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    p = InferencePanel(Session(runner), settings)
    qtbot.addWidget(p)
    p.options.warmup.setValue(0)
    p.options.repeat.setValue(2)
    yield p
    runner.cancel_all()
    assert runner.wait_idle(10_000)  # no worker (and so no child process) left behind


def _open(qtbot, panel: InferencePanel, path: Path) -> None:
    """Open ``path`` in the panel's session and show it in the panel."""
    session = panel.session
    before = set(session.documents)
    session.open_file(path)
    qtbot.waitUntil(lambda: set(session.documents) != before, timeout=60_000)
    panel.set_document(max(session.documents))


def _run(qtbot, panel: InferencePanel) -> str:
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        panel.run()
    return blocker.args[0]


def _load(qtbot, panel: InferencePanel, path: Path) -> None:
    with qtbot.waitSignal(panel.feeds.feeds_loaded, timeout=10_000):
        panel.feeds.load_feeds_from(path)


def test_test_data_set_runs_matches_expected_and_saves(qtbot, panel, tmp_path):
    _open(qtbot, panel, CONV / "model.onnx")
    _load(qtbot, panel, CONV / "test_data_set_0")
    assert panel.feeds.source_boxes[0].currentText() == "file"
    assert panel.state.expected is not None and "1 expected" in panel.feeds.expected_label.text()

    assert _run(qtbot, panel) == "ok"
    assert panel.result is not None and panel.result.match is not None and panel.result.match.ok
    summary = panel.results.summary.text()
    assert "matches expected" in summary and "rtol 0.001" in summary
    verdict = panel.results.table.item(0, OUTPUT_COLUMNS.index("expected"))
    assert verdict is not None and verdict.text() == "allclose"
    assert "median" in panel.results.latency.text()
    assert panel.results.histogram.counts is not None

    out = tmp_path / "outputs.npz"
    with qtbot.waitSignal(panel.outputs_saved, timeout=10_000):
        panel.save_outputs_to(out)
    with np.load(out) as saved:
        arrays = panel.result.arrays()
        assert set(saved.files) == set(arrays)
        for name, value in arrays.items():
            np.testing.assert_array_equal(saved[name], value)


def test_random_inputs_on_an_embedding_index_input_run(qtbot, panel):
    _open(qtbot, panel, EMBEDDING / "model.onnx")
    assert panel.feeds.specs[0].role == "index"
    assert _run(qtbot, panel) == "ok"
    assert panel.result is not None and panel.result.ok
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_negative_zero_and_shared_symbolic_dims_run_from_the_panel(qtbot, panel, tmp_path):
    _open(qtbot, panel, dims_model(tmp_path))
    # One box per symbol, whatever the number of inputs sharing it; -1 and 0 dims have none.
    feeds = panel.feeds
    assert {name: box.value() for name, box in feeds.dim_boxes.items()} == {
        "n": 1,
        "features": 16,
        "seq_len": 16,
    }
    shapes = {feeds.specs[row].name: feeds.inputs.item(row, 2).text() for row in range(6)}
    assert shapes["image"].endswith("→ [1, 3, 224, 224]")
    assert shapes["p"].endswith("→ [1, 16]") and shapes["empty"].endswith("→ [0, 4]")
    feeds.dim_boxes["features"].setValue(5)
    assert feeds.inputs.item(1, 2).text().endswith("→ [1, 5, 16]")
    assert feeds.inputs.item(2, 2).text().endswith("→ [1, 5, 16]")
    assert _run(qtbot, panel) == "ok"
    assert panel.result is not None and panel.result.ok
    # The panel's feeds are the CLI's for the same seed and dims (one builder).
    assert panel.document is not None
    cli = build_feeds(input_specs(panel.document.model), feeds.seed.value(), {"features": 5})
    plan = panel.feed_plan()
    ours = build_feeds(feeds.specs, plan.seed, plan.dims, plan.given, plan.constants)
    assert all(np.array_equal(ours[k], cli[k]) for k in cli)


def test_float64_feed_is_found_and_the_cast_button_fixes_it(qtbot, panel, tmp_path):
    _open(qtbot, panel, CONV / "model.onnx")
    npz = tmp_path / "feeds.npz"
    np.savez(npz, **{"0": np.ones((2, 3, 7, 5), np.float64)})
    _load(qtbot, panel, npz)
    assert [f.code for f in panel.document.run_findings] == ["dtype-mismatch"]
    feeds = panel.feeds
    assert "float64" in feeds.feed_problems.text()
    assert feeds.cast_button.isVisibleTo(panel) and feeds.cast_button.text() == "Cast to float32"
    assert _run(qtbot, panel) == "invalid-feeds"  # never reaches ONNX Runtime

    feeds.cast_button.click()
    assert panel.state.feed_findings == [] and not feeds.cast_button.isVisibleTo(panel)
    assert panel.state.loaded["0"].dtype == np.float32
    assert _run(qtbot, panel) == "ok"


def test_cancel_kills_a_hung_run_and_the_panel_stays_responsive(qtbot, panel, tmp_path):
    _open(qtbot, panel, endless_loop_model(tmp_path))
    panel.run()
    state = panel.state
    assert state.running and panel.cancel_button.isEnabled() and not panel.run_button.isEnabled()
    # The session is running its endless Loop once the child reports the timed run ...
    qtbot.waitUntil(lambda: state.progress[1].startswith("timed run"), timeout=RUN_TIMEOUT_MS)
    # ... and the GUI thread is free meanwhile: the elapsed-time label keeps ticking.
    ticks = panel.status.text()
    qtbot.waitUntil(lambda: panel.status.text() != ticks, timeout=2_000)
    assert inference_children()

    with qtbot.waitSignal(panel.run_finished, timeout=1_000) as blocker:
        panel.cancel_button.click()
    assert blocker.args == ["cancelled"] and "Cancelled" in panel.status.text()
    assert not state.running and panel.run_button.isEnabled()
    run_key = f"run:{panel.doc_id}"
    qtbot.waitUntil(lambda: not panel.runner.is_running(run_key), timeout=10_000)
    assert panel.runner.wait_idle(10_000)
    assert inference_children() == []


def test_nan_locator_highlights_the_first_nan_node(qtbot, panel, tmp_path):
    _open(qtbot, panel, nan_mid_graph_model(tmp_path))
    panel.feeds.set_source("x", "constant")
    panel.feeds.inputs.item(0, 4).setText("2")  # Relu(2) = 2, Sqrt(-2) = NaN in every element
    panel.options.capture.setChecked(True)
    with qtbot.waitSignal(panel.node_highlighted, timeout=RUN_TIMEOUT_MS) as blocker:
        panel.run()
    assert blocker.args == [2]
    assert any(f.code == "first-non-finite" for f in panel.state.feed_findings + _findings(panel))
    captured = panel.state.captured_value("s")
    assert captured is not None and captured.stats is not None and captured.stats["nan"] == 4
    assert panel.state.captured_value("n") is not None
    assert panel.state.captured_value("nope") is None
    assert panel.results.capture_note.isVisibleTo(panel.results)


def _findings(panel: InferencePanel) -> list:
    return panel.result.findings if panel.result is not None else []


def test_profile_heat_has_a_time_for_every_node_that_ran(qtbot, panel, torch_cnn):
    _open(qtbot, panel, torch_cnn)
    panel.options.profile.setChecked(True)
    with qtbot.waitSignal(panel.heat_changed, timeout=RUN_TIMEOUT_MS) as blocker:
        panel.run()
    heat = blocker.args[0]
    assert panel.result is not None and panel.result.profile is not None
    assert panel.document is not None
    model = panel.document.model
    ran = {n.index for n in model.graph.nodes if n.name in panel.result.profile.kept}
    assert ran and ran <= set(heat) and all(heat[i] > 0 for i in ran)
    assert panel.profile_view.nodes.rowCount() == len(panel.result.profile.node_times)

    # Options are remembered for the next panel (the next start of the window).
    again = InferencePanel(panel.session, panel.settings)
    qtbot.addWidget(again)
    assert again.options.profile.isChecked() and again.options.repeat.value() == 2


def test_clearing_the_document_clears_heat_and_findings(qtbot, panel):
    _open(qtbot, panel, EMBEDDING / "model.onnx")
    with qtbot.waitSignal(panel.heat_changed, check_params_cb=lambda h: h is None, timeout=1_000):
        panel.set_document(None)
    assert not panel.run_button.isEnabled() and panel.feeds.inputs.rowCount() == 0
    assert panel.feeds.feed_problems.text() == "" and panel.result is None


def test_box_heat_is_painted_and_cleared(qtbot, tmp_path):
    model = open_model(helper_model(tmp_path / "small.onnx"))
    diagram = build_diagram(model, model.graph)
    view = show(qtbot, diagram, layout_diagram(diagram))
    scene = view.graph_scene()
    assert isinstance(scene, GraphScene)
    box = 0
    view.zoom_to_box(box)
    r = view.mapFromScene(scene.box_rect(box)).boundingRect().adjusted(-4, -4, 4, 4)

    def heat_pixels() -> int:
        view.viewport().repaint()
        image = view.viewport().grab().toImage()
        return count_color(image, HEAT_COLOR, r.left(), r.top(), r.right(), r.bottom())

    assert heat_pixels() == 0
    scene.set_box_heat({box: 1.0})
    full = heat_pixels()
    assert full > 20
    scene.set_box_heat({box: 0.2})
    assert 0 < heat_pixels() < full  # a shorter bar for a cooler node
    scene.set_box_heat(None)
    assert heat_pixels() == 0
