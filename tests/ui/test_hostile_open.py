"""Hostile files in the window: the same one-line message as the CLI, and the window stays
usable (before, a named pipe blocked the loading thread for good)."""

from __future__ import annotations

import os

import onnx
from PySide6.QtCore import Qt

from inspector.core.loader import ModelLoadError, load_model_file
from tests.bad_models import small_model
from tests.hostile.base import model, node
from tests.hostile.file_cases import ext_tensor
from tests.ui.window_driving import open_and_wait


def _refused_with_cli_message(qtbot, window, path) -> None:
    try:
        load_model_file(path)
    except ModelLoadError as e:
        expected = str(e)  # what `onnx-inspector info` prints after "onnx-inspector: "
    else:
        raise AssertionError(f"{path} was not refused")
    window.open_files([str(path)])
    qtbot.waitUntil(lambda: expected in window.messages.text, timeout=30000)
    assert "Traceback" not in window.messages.text
    assert window.runner.wait_idle(30000)  # nothing left blocked in the background


def test_fifo_and_escaping_external_data_are_refused_and_the_window_stays_usable(
    qtbot, window, tmp_path
):
    good = tmp_path / "good.onnx"
    onnx.save(small_model(), good)
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    _refused_with_cli_message(qtbot, window, fifo)
    folder = tmp_path / "m"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(bytes(8))
    escaping = folder / "<b>escape&amp;.onnx"  # a name that looks like markup, shown as text
    const = node("Constant", [], ["k"], value=ext_tensor("k", "../secret.bin"))
    escaping.write_bytes(model([const, node("Add", ["x", "k"], ["y"])]).SerializeToString())
    _refused_with_cli_message(qtbot, window, escaping)
    assert window.messages.label.textFormat() == Qt.TextFormat.PlainText  # "<b>" shown as is
    assert window.tabs.count() == 0
    view = open_and_wait(qtbot, window, good)  # and the window still opens models
    assert window.tabs.count() == 1 and view.document.model.node_count == 2
