"""The inference panel and the export wizard inside the window: run results reach the graph and
the Problems panel; an exported model opens in a tab."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from inspector.ui.wizard import ExportWizard
from tests.ui.window_driving import open_and_wait

RUN_TIMEOUT_MS = 120_000


def test_profile_heat_lands_on_the_graph(qtbot, window, torch_cnn):
    view = open_and_wait(qtbot, window, torch_cnn, checked=True)
    window.inference.options.profile.setChecked(True)
    with qtbot.waitSignal(window.inference.heat_changed, timeout=RUN_TIMEOUT_MS) as blocker:
        window.inference.run()
    heat = blocker.args[0]
    assert heat
    expected = {view.box_of_node(i) for i in heat}
    assert set(view.scene.heat_ids.tolist()) == expected
    assert view.scene.heat_values.max() == pytest.approx(1.0)


def test_a_failed_run_is_shown_on_its_node_and_in_problems(qtbot, window, tmp_path):
    g = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Frobnicate", ["r"], ["y"], name="frob", domain="com.example"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    path = tmp_path / "fails.onnx"
    onnx.save(
        helper.make_model(
            g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
        ),
        path,
    )
    view = open_and_wait(qtbot, window, path, checked=True)
    with qtbot.waitSignal(window.inference.run_finished, timeout=RUN_TIMEOUT_MS):
        window.inference.run()
    run = view.document.run_findings
    assert run and run[0].code == "session-failed"
    rows = window.problems.shown_findings()
    assert any(f.code == "session-failed" for f in rows)
    assert any(f.code == "unsupported-op" for f in rows)  # the static check's, still there
    if run[0].node_index is not None:
        box = view.box_of_node(run[0].node_index)
        assert view.scene.box_overlay[box][0] == "error"


def test_export_wizard_opens_from_the_window_and_its_model_opens(qtbot, window, tmp_path):
    wizard = window.export_from_pytorch()
    assert isinstance(wizard, ExportWizard) and wizard.isVisible()
    exported = tmp_path / "exported.onnx"
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    onnx.save(helper.make_model(g), exported)
    wizard.model_exported.emit(str(exported))  # what Finish sends after a real export
    qtbot.waitUntil(lambda: window.tabs.count() == 1, timeout=30000)
    assert window.tabs.tabText(0) == "exported.onnx"
    wizard.close()
