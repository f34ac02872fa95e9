"""A run belongs to its document: switching tabs keeps its inputs and results; closing the tab
cancels its run (the ONNX Runtime child is killed) while the other tab's result stays."""

from __future__ import annotations

from tests.inference_models import endless_loop_model, inference_children
from tests.model_zoo import shipped_data_dir
from tests.ui.window_driving import open_and_wait

RUN_TIMEOUT_MS = 60_000
CONV = shipped_data_dir() / "pytorch-converted" / "test_Conv2d"


def test_a_run_survives_tab_switches_and_closing_its_tab_cancels_it(qtbot, window, tmp_path):
    panel = window.inference
    panel.options.warmup.setValue(0)
    panel.options.repeat.setValue(1)
    conv = open_and_wait(qtbot, window, CONV / "model.onnx")
    with qtbot.waitSignal(panel.feeds.feeds_loaded, timeout=10_000):
        panel.feeds.load_feeds_from(CONV / "test_data_set_0")
    panel.feeds.seed.setValue(7)
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        panel.run()
    assert finished.args == ["ok"]
    result = panel.result
    assert result is not None and result.match is not None and result.match.ok
    shown = panel.results.summary.text()

    endless = open_and_wait(qtbot, window, endless_loop_model(tmp_path))
    assert panel.doc_id == endless.doc_id and panel.result is None
    assert panel.feeds.seed.value() == 0 and panel.feeds.expected_label.text() == ""
    panel.run()
    qtbot.waitUntil(lambda: bool(inference_children()), timeout=RUN_TIMEOUT_MS)

    window.tabs.setCurrentWidget(conv)  # the endless run goes on in its document
    assert panel.doc_id == conv.doc_id and panel.result is result
    assert panel.results.summary.text() == shown and panel.status.text().startswith("ok in")
    assert panel.feeds.seed.value() == 7 and "1 expected" in panel.feeds.expected_label.text()
    assert panel.feeds.source_boxes[0].currentText() == "file"
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert endless.document.run.running

    window.tabs.setCurrentWidget(endless)
    assert panel.cancel_button.isEnabled() and panel.status.text().startswith("Running…")

    window.tabs.tabCloseRequested.emit(window.tabs.indexOf(endless))
    qtbot.waitUntil(lambda: inference_children() == [], timeout=10_000)
    assert panel.doc_id == conv.doc_id and panel.result is result and result.match.ok
