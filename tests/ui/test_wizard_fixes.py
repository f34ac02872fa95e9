"""The export wizard's own fixes, clicked like a user: each on a case it fixes
(tests/export_cases/fixable.py), exported again and validated in a child process, and the
validation page then shows each check before → after.

Each test runs two real exports (5 to 15 s each on a loaded machine); the default run keeps two
fixes (casting float64, the TorchScript exporter) and marks the others slow. The test process never imports torch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from inspector.core.export import ExportConfig, ExportResult
from inspector.core.export.adjust import offered_fixes
from inspector.core.findings import Finding, Severity
from inspector.ui.wizard import ExportWizard
from inspector.ui.wizard.findings_view import FindingsView
from inspector.ui.wizard.result_pages import ValidationPage
from tests.ui import test_wizard
from tests.ui.test_wizard import EXPORT_TIMEOUT_MS, click_next, export, needs_torch

FIXABLE = Path(__file__).resolve().parent.parent / "export_cases" / "fixable.py"

wizard = test_wizard.wizard  # the fixture: a shown wizard whose dialogs are answered


def validate(
    qtbot,
    w: ExportWizard,
    factory: str,
    out: Path,
    exporter: str = "dynamo",
    opset: int | None = None,
    dynamic: dict[str, str] | None = None,
) -> ValidationPage:
    """From the first page to the validation page of ``factory``'s export."""
    w.set_source(FIXABLE, factory)
    click_next(qtbot, w)
    if dynamic:
        w.set_inputs(None, dynamic)
    click_next(qtbot, w)
    w.set_output(out)
    w.options_page.set_exporter(exporter)
    w.options_page.set_opset(opset)
    assert (w.options_page.exporter_name(), w.options_page.opset_version()) == (exporter, opset)
    export(qtbot, w)
    click_next(qtbot, w)
    assert w.currentId() == ExportWizard.VALIDATION
    return w.validation_page


def click_fix(qtbot, w: ExportWizard, label: str) -> tuple[ExportResult, ExportResult]:
    """Click the fix button labelled ``label``; (the result before, the result after)."""
    page = w.validation_page
    labels = [b.text() for b in page.findings.buttons.values()]
    button = next((b for b in page.findings.buttons.values() if b.text() == label), None)
    assert button is not None, f"no fix '{label}' among {labels}"
    before = w.result
    assert before is not None
    with qtbot.waitSignal(w.export_finished, timeout=EXPORT_TIMEOUT_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert not page.isComplete() and not button.isEnabled()  # while it runs
    after = w.result
    assert after is not None and after is not before
    assert w.currentId() == ExportWizard.VALIDATION and page.isComplete()
    assert page.comparison.isVisible() and label in page.comparison.text()
    return before, after


def before_after(page: ValidationPage) -> dict[str, str]:
    return dict(page.comparison_rows())


def assert_clean(after: ExportResult) -> None:
    assert after.ok and not after.has_errors, after.finding_dicts()
    failed = [c for c in after.checklist if c["status"] == "failed"]
    assert not failed, failed


@needs_torch
def test_cast_float64_inputs_to_float32(qtbot, wizard, tmp_path) -> None:
    w = wizard
    page = validate(qtbot, w, "float64_cnn", tmp_path / "cnn.onnx")
    assert "float64-input" in page.findings.toPlainText()
    assert page.comparison_rows() == [] and not page.comparison.isVisible()

    before, after = click_fix(qtbot, w, "Cast float64 inputs to float32 and retry")
    assert w.export_page.config is not None and w.export_page.config.cast_float64
    assert any(c["status"] == "failed" for c in before.checklist)
    assert_clean(after)
    assert "float64-input" not in {f.code for f in after.findings}
    rows = before_after(page)
    assert rows["ONNX Runtime session"] == "✗ failed → ✓ passed"
    assert rows["parity example inputs"] == "not run → ✓ passed"
    assert "gone: float64-input" in page.comparison.text()
    assert "[inspector] cast float64 to float32" in page.log.toPlainText()  # the child did it

    assert "torch" not in sys.modules, "the GUI process must not import torch"


@needs_torch
def test_retry_with_the_torchscript_exporter(qtbot, wizard, tmp_path) -> None:
    w = wizard
    page = validate(qtbot, w, "cdist", tmp_path / "cdist.onnx")
    assert not w.result.ok and "unsupported-aten-op" in page.findings.toPlainText()
    assert "nothing was written" in page.headline.text()

    before, after = click_fix(qtbot, w, "Retry with the TorchScript exporter")
    assert w.export_page.config.exporter == "torchscript"
    assert_clean(after)
    assert before.checklist == []
    rows = before_after(page)
    assert rows["onnx checker"] == "not run → ✓ passed"
    assert rows["parity new values"] == "not run → ✓ passed"
    assert "export failed → exported" in page.comparison.text()
    assert "Exported to" in page.headline.text()
    assert "torch" not in sys.modules


@needs_torch
@pytest.mark.slow
def test_declare_the_batch_dynamic(qtbot, wizard, tmp_path) -> None:
    w = wizard
    page = validate(qtbot, w, "head", tmp_path / "head.onnx")
    assert "fixed-batch-dim" in page.findings.toPlainText()
    _, after = click_fix(qtbot, w, "Declare batch dynamic")
    config = w.export_page.config
    assert config is not None
    assert [(d.input, d.dim, d.symbol) for d in config.dynamic] == [("x", 0, "batch")]
    assert_clean(after)
    assert "fixed-batch-dim" not in {f.code for f in after.findings}
    rows = before_after(page)
    assert rows["x[0] dynamic"] == "not run → ✓ passed"
    assert rows["parity batch=7"] == "not run → ✓ passed"


@needs_torch
@pytest.mark.slow
def test_retry_with_the_dynamo_exporter(qtbot, wizard, tmp_path) -> None:
    w = wizard
    validate(qtbot, w, "sinc", tmp_path / "sinc.onnx", exporter="torchscript")
    assert not w.result.ok
    _, after = click_fix(qtbot, w, "Retry with the dynamo exporter")
    assert w.export_page.config.exporter == "dynamo"
    assert_clean(after)
    assert before_after(w.validation_page)["ONNX Runtime session"] == "not run → ✓ passed"


@needs_torch
@pytest.mark.slow
def test_retry_with_a_newer_opset(qtbot, wizard, tmp_path) -> None:
    w = wizard
    page = validate(qtbot, w, "running_sum", tmp_path / "sum.onnx", "torchscript", 10)
    assert not w.result.ok and "cumsum" in page.findings.toPlainText()
    _, after = click_fix(qtbot, w, "Retry with opset 17")
    assert w.export_page.config.opset == 17 and after.opset == 17
    assert_clean(after)
    assert before_after(page)["opset"] == "not run → ✓ passed"


@needs_torch
@pytest.mark.slow
def test_float32_io_around_float16_weights(qtbot, wizard, tmp_path) -> None:
    w = wizard
    page = validate(qtbot, w, "half_weights", tmp_path / "half.onnx")
    assert "fp16-on-cpu" in page.findings.toPlainText()
    _, after = click_fix(qtbot, w, "Export with float32 inputs and outputs (keep float16 weights)")
    assert w.export_page.config.float32_io
    assert_clean(after)
    rows = before_after(page)
    assert rows["ONNX Runtime session"] == "✗ failed → ✓ passed"
    assert rows["parity example inputs"] == "not run → ✓ passed"


@needs_torch
@pytest.mark.slow
def test_make_a_specialized_dim_static(qtbot, wizard, tmp_path) -> None:
    w = wizard
    page = validate(qtbot, w, "batch_of_two", tmp_path / "two.onnx", dynamic={"x": "0:batch"})
    assert "dynamic-dim-specialized" in page.findings.toPlainText()
    _, after = click_fix(qtbot, w, "Make dim 0 of 'x' static")
    assert w.export_page.config.dynamic == [] and not w.export_page.config.dynamic_batch
    assert_clean(after)
    rows = before_after(page)
    assert rows["x[0] dynamic"] == "✗ failed → not run"
    assert rows["parity batch=3"] == "✗ failed → not run"


def test_a_finding_shows_its_line_with_neighbours_and_its_fixes(qtbot, tmp_path) -> None:
    source = tmp_path / "net.py"
    source.write_text("".join(f"line_{n} = {n}\n" for n in range(1, 11)))
    found = [
        Finding(Severity.ERROR, "data-dependent-control-flow", "branches on a value"),
        Finding(Severity.WARNING, "float64-input", "input 'x' is float64", tensor="x"),
    ]
    result = ExportResult(False, None, found, [f"{source}:5", None])
    cfg = ExportConfig(source=str(source), output=str(tmp_path / "net.onnx"), factory="make")
    view = FindingsView()
    qtbot.addWidget(view)
    view.show_findings(result, offered_fixes(found, cfg, ["x"], None))
    text = view.toPlainText()
    assert f"In your code: {source}:5" in text
    shown = [n for n in range(1, 11) if f"line_{n} = {n}" in text]
    assert shown == [3, 4, 5, 6, 7]  # the line and two either side
    assert [b.text() for b in view.buttons.values()] == [
        "Retry with the TorchScript exporter",
        "Cast float64 inputs to float32 and retry",
    ]
    with qtbot.waitSignal(view.fix_chosen) as chosen:
        qtbot.mouseClick(view.buttons["cast-float64"], Qt.MouseButton.LeftButton)
    assert chosen.args == ["cast-float64"]


@needs_torch
@pytest.mark.slow
def test_saved_translations_passed_back_make_the_export_pass(qtbot, wizard, tmp_path) -> None:
    w = wizard
    page = validate(qtbot, w, "cdist", tmp_path / "cdist.onnx")
    assert not w.result.ok and "_cdist_forward" in w.result.stubs
    assert page.save_stubs.isVisible() and not page.retry_stubs.isEnabled()
    assert not page.save_stubs_to(str(tmp_path / "translations.txt"))  # not passable back
    path = tmp_path / "translations.py"
    assert page.save_stubs_to(str(path))
    assert "custom_translation_table" in path.read_text(encoding="utf-8")
    assert "working translation" in page.headline.text() and page.retry_stubs.isEnabled()

    with qtbot.waitSignal(w.export_finished, timeout=EXPORT_TIMEOUT_MS):
        qtbot.mouseClick(page.retry_stubs, Qt.MouseButton.LeftButton)
    assert w.export_page.config.translations == str(path)
    assert_clean(w.result)
    assert before_after(page)["parity example inputs"] == "not run → ✓ passed"
    assert "torch" not in sys.modules, "the GUI process must not import torch"
