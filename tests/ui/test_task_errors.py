"""Background failures reach the message bar (traceback behind "Details…"), nothing they put on
screen waits for ever, and the bar's style says whether a message is a failure or a success."""

from __future__ import annotations

import os

import onnx
from onnx import TensorProto, helper

from inspector.ui.message_bar import Level
from tests.bad_models import small_model
from tests.ui.window_driving import open_and_wait


def test_a_task_without_an_error_handler_shows_its_failure_and_traceback(qtbot, window):
    def broken(_progress, _cancel) -> None:
        raise KeyError("no such value")

    window.runner.submit("broken", broken, lambda _r: None, what="testing the message bar")
    qtbot.waitUntil(lambda: "internal error" in window.messages.text, timeout=10000)
    bar = window.messages
    assert bar.text == (
        "ONNX Inspector hit an internal error while testing the message bar (KeyError: "
        "'no such value'); please report it with the details."
    )
    assert bar.level is Level.ERROR
    assert "Traceback" not in bar.text
    assert bar.details.startswith("Traceback") and "in broken" in bar.details
    assert bar.details_button.isVisible()
    bar.details_button.click()
    dialog = bar.details_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.text.toPlainText() == bar.details
    dialog.close()


def test_failing_children_leave_no_checking_status_and_say_so(qtbot, window, tmp_path, monkeypatch):
    # A Python home that does not exist: every child (shape inference, then the checks) exits
    # with code 1 before running a line of ours.
    monkeypatch.setenv("PYTHONHOME", str(tmp_path / "no-python-here"))
    path = tmp_path / "m.onnx"
    onnx.save(small_model(), path)
    told: list[str] = []
    window.session.background_failed.connect(lambda _id, text: told.append(text))
    view = open_and_wait(qtbot, window, path, checked=True)
    assert "exit code 1" in view.document.model.inference_error
    assert told[0].startswith("Shape inference on m.onnx did not finish: shape inference failed")
    assert told[-1].startswith("Not every check ran on m.onnx: the checks crashed (exit code 1)")
    assert window.messages.text == told[-1] and window.messages.level is Level.WARNING
    status = window.problems.summary.text()
    assert status.startswith("checked for") and "checking" not in status
    assert [f.code for f in view.document.findings] == ["check-failed"]


def test_an_internal_error_in_shape_inference_is_reported_as_ours(
    qtbot, window, tmp_path, monkeypatch
):
    # A site customisation that prints a banner on stdout, where the children speak JSON: the
    # window's side of both protocols fails to parse it, which is the Inspector's own failure.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text('print("welcome to this machine")\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    path = tmp_path / "m.onnx"
    onnx.save(small_model(), path)
    view = open_and_wait(qtbot, window, path, checked=True)
    assert view.document.model.inference_error == "shape inference stopped (JSONDecodeError)"
    status = window.problems.summary.text()
    assert status.startswith("checked for") and "checking" not in status
    bar = window.messages
    assert bar.text.startswith(
        "ONNX Inspector hit an internal error while checking m.onnx (JSONDecodeError"
    )
    assert "please report it" in bar.text and "onnx" not in bar.text.replace("m.onnx", "")
    assert bar.level is Level.ERROR and "JSONDecodeError" in bar.details
    (failed,) = view.document.findings
    assert failed.code == "check-failed" and "internal error" in failed.message


def test_a_successful_save_is_not_styled_as_an_error(qtbot, window, tmp_path):
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node("Relu", ["a"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("a", f32, [8, 3])],
        [helper.make_tensor_value_info("y", f32, [8, 3])],
    )
    path = tmp_path / "fixed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    open_and_wait(qtbot, window, path, checked=True)
    window.make_dynamic_to(str(tmp_path / "dynamic.onnx"))
    qtbot.waitUntil(lambda: window.tabs.count() == 2, timeout=120000)
    assert "ran at batch 8 and 3" in window.messages.text
    assert window.messages.level is Level.INFO
    assert not window.messages.details_button.isVisible()
    assert "#fdecea" not in window.messages.styleSheet()  # not the error background
