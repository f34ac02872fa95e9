"""The export wizard, driven like a user: every page on a clean model and on a failing one,
Cancel during an export, pages that refuse bad input, and the export script.

Exports run for real, in child processes started by the core (about 4 s each); the test
process itself never imports torch. Dialogs are answered by :class:`AnsweringPrompts`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import onnx
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QAbstractButton, QWizard

from inspector.core.export import InputSpec
from inspector.ui.settings import Settings
from inspector.ui.tasks import TaskRunner
from inspector.ui.wizard import ExportWizard
from inspector.ui.wizard.inputs_page import DYNAMIC, NAME, SHAPE
from inspector.ui.wizard.support import Prompts
from tests.model_zoo import torch_available

CASES = Path(__file__).resolve().parent.parent / "export_cases"
CLEAN, FAILING = CASES / "clean.py", CASES / "failing.py"
EXPORT_TIMEOUT_MS = 90_000

needs_torch = pytest.mark.skipif(not torch_available(), reason="torch is not installed")


class AnsweringPrompts(Prompts):
    """Answers the wizard's dialogs without showing them, and records the questions."""

    def __init__(self) -> None:
        self.save_path = ""
        self.overwrite = True
        self.asked: list[Path] = []

    def open_file(self, parent, title, start, filters) -> str:
        return ""

    def save_file(self, parent, title, start, filters) -> str:
        return self.save_path

    def confirm_overwrite(self, parent, path: Path) -> bool:
        self.asked.append(path)
        return self.overwrite


def child_pids() -> set[int]:
    """Live child processes of this test process (Linux /proc; empty elsewhere)."""
    me, out = os.getpid(), set()
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            out.add(int(entry.parent.name))
    return out


@pytest.fixture
def wizard(qtbot, tmp_path) -> Iterator[ExportWizard]:
    runner = TaskRunner()
    before = child_pids()
    ini = QSettings(str(tmp_path / "wizard-settings.ini"), QSettings.Format.IniFormat)
    w = ExportWizard(runner, settings=Settings(ini))
    w.prompts = AnsweringPrompts()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.reject()  # stops an export that still runs
    assert runner.wait_idle(30_000), "a wizard task was still running"
    assert child_pids() <= before, "the wizard left an export process running"


def click_next(qtbot, w: ExportWizard) -> None:
    button = w.button(QWizard.WizardButton.NextButton)
    assert button.isEnabled(), f"Next is disabled on page {w.currentId()}"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def click_option(qtbot, button: QAbstractButton) -> None:
    """Click a radio button or check box on its indicator (a stretched one does not react to
    clicks on the empty space right of its label)."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(6, button.height() // 2))


def fill_source(qtbot, w: ExportWizard, source: Path, factory: str) -> None:
    page = w.source_page
    page.source.clear()
    qtbot.keyClicks(page.source, str(source))
    page.factory.clear()
    qtbot.keyClicks(page.factory, factory)


def fill_output(qtbot, w: ExportWizard, path: Path) -> None:
    w.options_page.output.clear()
    qtbot.keyClicks(w.options_page.output, str(path))


def export(qtbot, w: ExportWizard) -> None:
    """From the options page: Next starts the export; wait for its result."""
    with qtbot.waitSignal(w.export_finished, timeout=EXPORT_TIMEOUT_MS):
        click_next(qtbot, w)
    assert w.currentId() == ExportWizard.EXPORT


@needs_torch
def test_clean_model_through_every_page(qtbot, wizard: ExportWizard, tmp_path: Path) -> None:
    w = wizard
    fill_source(qtbot, w, CLEAN, "mlp")
    assert w.source_page.isComplete()
    click_next(qtbot, w)

    # clean.mlp returns no example inputs: the page says so and switches to the table
    page = w.inputs_page
    qtbot.waitUntil(lambda: page.probe is not None, timeout=EXPORT_TIMEOUT_MS)
    assert "MLP (676 parameters) and no example inputs" in page.source_info.text()
    assert page.use_table.isChecked()
    # build one in the table, batch dynamic.
    click_option(qtbot, page.use_table)
    assert page.use_table.isChecked()
    page.clear_rows()
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    page.table.item(0, NAME).setText("x")
    page.table.item(0, SHAPE).setText("2, 16")
    page.table.item(0, DYNAMIC).setText("0:batch")
    assert page.isComplete() and not page.table_message.isVisible()
    click_next(qtbot, w)

    out = tmp_path / "mlp.onnx"
    fill_output(qtbot, w, out)
    assert w.options_page.opset.count() > 1  # the exporter's opsets, read without torch
    export(qtbot, w)
    log = w.export_page.log.toPlainText()
    assert "[inspector] loading" in log  # the live log reached the page
    assert w.result is not None and w.result.ok and not w.result.has_errors

    click_next(qtbot, w)
    rows = w.validation_page.checklist_rows()
    names = [name for _, name, _ in rows]
    assert {"onnx checker", "parity batch=1", "parity batch=3", "parity batch=7"} <= set(names)
    assert all(mark == "✓" for mark, _, _ in rows), rows
    assert any("rtol" in detail and "atol" in detail for _, _, detail in rows)  # tolerances
    assert "all" in w.validation_page.headline.text()
    assert not w.validation_page.log.isVisible()
    qtbot.mouseClick(w.validation_page.show_log, Qt.MouseButton.LeftButton)
    assert w.validation_page.log.isVisible()
    assert "[inspector]" in w.validation_page.log.toPlainText()

    click_next(qtbot, w)
    assert w.currentId() == ExportWizard.FINISH
    script = tmp_path / "export_mlp.py"
    w.prompts.save_path = str(script)
    with qtbot.waitSignal(w.script_saved) as saved:
        qtbot.mouseClick(w.finish_page.save_script_button, Qt.MouseButton.LeftButton)
    assert saved.args == [str(script)]
    text = script.read_text()
    compile(text, str(script), "exec")
    assert "def mlp" not in text and ".mlp()" in text and "batch" in text

    finish = w.button(QWizard.WizardButton.FinishButton)
    assert finish.isEnabled() and finish.text() == "Open in Inspector"
    with qtbot.waitSignal(w.model_exported) as opened:
        qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    path = Path(opened.args[0])
    assert path == out.resolve() and path.is_file()
    onnx.checker.check_model(onnx.load(str(path)))
    assert "torch" not in sys.modules, "the GUI process must not import torch"


@needs_torch
def test_failing_model_explains_the_root_cause(qtbot, wizard: ExportWizard, tmp_path) -> None:
    w = wizard
    fill_source(qtbot, w, FAILING, "data_if")
    click_next(qtbot, w)
    assert w.inputs_page.use_factory_inputs.isChecked()  # data_if returns its inputs
    # what the factory returns, loaded in a child process and shown before the export
    qtbot.waitUntil(lambda: w.inputs_page.probe is not None, timeout=EXPORT_TIMEOUT_MS)
    assert w.inputs_page.source_info.text() == (
        "It gives DataIf (72 parameters) and example inputs x: float32 [2, 8]."
    )
    assert w.inputs_page.cell_text(0, NAME) == "x" and w.inputs_page.cell_text(0, SHAPE) == "2, 8"
    click_next(qtbot, w)
    fill_output(qtbot, w, tmp_path / "data_if.onnx")
    export(qtbot, w)
    assert w.result is not None and not w.result.ok
    assert "failed" in w.export_page.status.text()
    assert w.export_page.progress.text() == "failed"  # not "100%  done"
    assert "\x1b" not in w.export_page.log.toPlainText()  # the exporter's colours are stripped

    click_next(qtbot, w)
    page = w.validation_page
    text = page.findings.toPlainText()
    assert "data-dependent-control-flow" in text
    assert "torch.cond" in text  # the next steps
    assert f"{FAILING}:7" in text  # the user's line with the `if` on a tensor value
    assert "nothing was written" in page.headline.text()
    qtbot.mouseClick(page.show_log, Qt.MouseButton.LeftButton)
    assert "Traceback" in page.log.toPlainText()  # the raw exporter error, one click away

    click_next(qtbot, w)
    assert not w.button(QWizard.WizardButton.FinishButton).isEnabled()
    assert "Nothing was exported" in w.finish_page.summary.text()

    again = ExportWizard(w.runner, settings=w.settings)  # the next time it opens
    qtbot.addWidget(again)
    page = again.source_page
    assert (page.source.text(), page.factory.text()) == (str(FAILING), "data_if")
    assert page.source_kind() == "python"


SLOW_MODEL = """
import time

import torch


def slow():
    time.sleep(600)  # stands in for a model that takes long to build
    return torch.nn.Linear(2, 2)
"""


@needs_torch
def test_cancel_stops_the_child_and_the_wizard_stays_usable(
    qtbot, wizard: ExportWizard, tmp_path: Path
) -> None:
    w = wizard
    before = child_pids()
    slow = tmp_path / "slow.py"
    slow.write_text(SLOW_MODEL)
    fill_source(qtbot, w, slow, "slow")
    click_next(qtbot, w)
    w.set_inputs([InputSpec("x", "float32", [2, 2])])
    click_next(qtbot, w)
    fill_output(qtbot, w, tmp_path / "slow.onnx")
    click_next(qtbot, w)
    page = w.export_page
    qtbot.waitUntil(lambda: "[inspector] loading" in page.log.toPlainText(), timeout=30_000)
    assert child_pids() - before, "the export should run in a child process"
    assert not w.button(QWizard.WizardButton.NextButton).isEnabled()
    qtbot.waitUntil(lambda: page.elapsed.text().endswith(" s"))

    with qtbot.waitSignal(w.export_cancelled, timeout=10_000):
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    assert child_pids() <= before, "Cancel must kill the export process"
    assert "cancelled" in page.status.text() and page.restart_button.isEnabled()
    assert not page.cancel_button.isEnabled() and w.result is None

    # Still usable: back to the source, pick a clean model, export it.
    back = w.button(QWizard.WizardButton.BackButton)
    for _ in range(3):
        qtbot.mouseClick(back, Qt.MouseButton.LeftButton)
    assert w.currentId() == ExportWizard.SOURCE
    fill_source(qtbot, w, CLEAN, "two_inputs")
    click_next(qtbot, w)
    click_option(qtbot, w.inputs_page.use_factory_inputs)
    w.inputs_page.clear_rows()
    click_next(qtbot, w)
    fill_output(qtbot, w, tmp_path / "two.onnx")
    export(qtbot, w)
    assert w.result is not None and w.result.ok
    assert "slow" not in page.log.toPlainText()  # no stale lines from the cancelled run


def test_pages_refuse_bad_input_with_a_message(qtbot, wizard: ExportWizard, tmp_path) -> None:
    w = wizard
    source = w.source_page
    next_button = w.button(QWizard.WizardButton.NextButton)
    qtbot.keyClicks(source.source, str(tmp_path / "missing.py"))
    assert not next_button.isEnabled()
    assert source.source_message.isVisible() and "no file" in source.source_message.text()

    source.source.clear()
    qtbot.keyClicks(source.source, str(CLEAN))
    assert not source.source_message.isVisible()
    assert not next_button.isEnabled()  # the factory name is still empty
    assert "Name the function" in source.factory_message.text()
    qtbot.keyClicks(source.factory, "nope")
    assert "defines no 'nope'" in source.factory_message.text() and "mlp" in (
        source.factory_message.text()
    )
    source.factory.clear()
    qtbot.keyClicks(source.factory, "mlp")
    assert not source.factory_message.isVisible()
    click_next(qtbot, w)

    inputs = w.inputs_page
    w.set_inputs([InputSpec("x", "float32", [2, 16])])
    inputs.table.item(0, SHAPE).setText("2, x")
    assert not next_button.isEnabled()
    assert "'x' in '2, x' is not a size" in inputs.table_message.text()
    inputs.table.item(0, SHAPE).setText("1, 16")
    inputs.table.item(0, DYNAMIC).setText("batch")
    assert "AXIS:NAME" in inputs.table_message.text() and not next_button.isEnabled()
    inputs.table.item(0, DYNAMIC).setText("0:batch")
    assert next_button.isEnabled()
    assert "example size 1" in inputs.table_message.text()  # a warning, not a block
    click_next(qtbot, w)

    options = w.options_page
    fill_output(qtbot, w, tmp_path / "out.txt")
    assert not next_button.isEnabled() and "must end in .onnx" in options.output_message.text()
    fill_output(qtbot, w, tmp_path / "nowhere" / "out.onnx")
    assert not next_button.isEnabled() and "does not exist" in options.output_message.text()
    options.parity_sizes.setText("1, three")
    fill_output(qtbot, w, tmp_path / "out.onnx")
    assert not next_button.isEnabled() and "not a list of sizes" in (
        options.validation_message.text()
    )
    options.parity_sizes.setText("1, 3")

    # An existing output is only replaced when the user says so.
    existing = tmp_path / "out.onnx"
    existing.write_bytes(b"keep me")
    w.prompts.overwrite = False
    click_next(qtbot, w)
    assert w.currentId() == ExportWizard.OPTIONS and w.prompts.asked == [existing]
    assert "exists" in options.output_message.text()
    assert existing.read_bytes() == b"keep me"


def test_missing_torch_says_how_to_install(qtbot, monkeypatch, wizard: ExportWizard) -> None:
    monkeypatch.setattr("inspector.ui.wizard.source_page.torch_installed", lambda: False)
    w = wizard
    w.set_source(CLEAN, "mlp")
    assert not w.button(QWizard.WizardButton.NextButton).isEnabled()
    assert "pip install 'onnx-inspector[export]'" in w.source_page.torch_message.text()


def test_settings_become_the_export_config(wizard: ExportWizard, tmp_path: Path) -> None:
    w = wizard
    w.set_source(CLEAN, "two_inputs")
    w.set_inputs(None, {"left": "0:batch", "right": "0:batch"})
    w.set_output(tmp_path / "two.onnx")
    w.options_page.set_exporter("torchscript")
    w.options_page.set_opset(17)
    w.options_page.constant_folding.setChecked(False)
    cfg = w.build_config()
    assert (cfg.source_kind, cfg.factory, cfg.inputs) == ("python", "two_inputs", [])
    assert [(d.input, d.dim, d.symbol) for d in cfg.dynamic] == [
        ("left", 0, "batch"),
        ("right", 0, "batch"),
    ]
    assert (cfg.exporter, cfg.opset, cfg.constant_folding) == ("torchscript", 17, False)
    assert cfg.problems() == []
