"""Pages 5 and 6 of the export wizard: the validation checklist and findings, and the finish.

The validation page shows :attr:`ExportResult.checklist` as ticks and crosses, each finding with
its code, message, the user's source line with its neighbours, next steps and a button per fix
the wizard can apply itself (:mod:`inspector.core.export.adjust`), and the raw log behind "Show
log". A fix exports again with the changed settings and validates (the export page runs it);
the page then shows each check before → after. The finish page opens the file in the Inspector
(the wizard's ``model_exported`` signal) and saves a script that repeats the export.

Known limitations: a fix changes the settings of the export it starts, not the pages' fields;
going Back to the pages and exporting again starts from their settings.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from inspector.core.export import ExportResult
from inspector.core.export.adjust import (
    NOT_RUN,
    CheckChange,
    ExportFix,
    compare_checklists,
    offered_fixes,
    translations_fix,
)
from inspector.core.findings import Severity
from inspector.ui.theme import is_dark, ok_colour, severity_colour
from inspector.ui.wizard.findings_view import FindingsView
from inspector.ui.wizard.support import FieldMessage

if TYPE_CHECKING:
    from inspector.ui.wizard.wizard import ExportWizard

#: checklist status → its mark
STATUS_MARKS = {"passed": "✓", "warning": "!", "failed": "✗", "skipped": "–"}


def _status_colour(status: str) -> str:
    """A checklist status's colour in the theme shown now (the theme's one table)."""
    if status == "passed":
        return ok_colour()
    if status in ("warning", "failed"):
        return severity_colour(Severity.WARNING if status == "warning" else Severity.ERROR)
    return "#757575" if not is_dark() else "#9e9e9e"


BEFORE_AFTER = 3  # the checklist's column shown after a fix


class ValidationPage(QWizardPage):
    """What the export produced, everything found wrong with it, and the fixes the wizard can
    apply itself; after a fix, each check before → after."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Validation")
        self.setSubTitle("The checks run on the exported file, and what to do about findings.")
        self.headline = QLabel(self)
        self.headline.setWordWrap(True)
        # never squeezed below its wrapped lines: the findings view below gives up the room
        self.headline.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.comparison = QLabel(self)  # what a fix changed; hidden without one
        self.comparison.setWordWrap(True)
        self.comparison.hide()
        self.checklist = QTreeWidget(self)
        self.checklist.setHeaderLabels(["", "check", "detail", "before → after"])
        self.checklist.setColumnHidden(BEFORE_AFTER, True)
        self.checklist.header().moveSection(BEFORE_AFTER, 2)  # shown before the detail
        self.checklist.setRootIsDecorated(False)
        for column in (0, 1, BEFORE_AFTER):
            self.checklist.header().setSectionResizeMode(
                column, QHeaderView.ResizeMode.ResizeToContents
            )
        self.checklist.setToolTip(
            "onnx checker, runtime support and edges, dynamic dims, opset, and parity with "
            "PyTorch at each size with the tolerances used"
        )
        self.findings = FindingsView(self)
        self.findings.setToolTip(
            "Each finding with its code, where in your code, next steps, and the fixes the "
            "wizard can apply"
        )
        self.show_log = QPushButton("Show log", self)
        self.show_log.setCheckable(True)
        self.show_log.setToolTip("The export process's whole output, with the exporter's messages")
        self.log = QPlainTextEdit(self)
        self.log.setReadOnly(True)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.hide()
        # Ops with no ONNX translation: their stubs saved to a file, then passed back.
        self.save_stubs = QPushButton("Save translations…", self)
        self.save_stubs.setToolTip(
            "Write the ONNX translations offered for the ops the exporter has none for (working "
            "ones where known, stubs to fill in for the rest) to a .py file"
        )
        self.retry_stubs = QPushButton("Retry with the translations", self)
        self.retry_stubs.setToolTip(
            "Export again with the saved file passed as custom_translation_table (fill in its "
            "TODO functions first)"
        )
        self.stubs_path = ""  # where they were saved
        self.fixes: list[ExportFix] = []  # those offered for the result shown
        self._retrying = False

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.comparison)
        layout.addWidget(self.checklist, 2)
        layout.addWidget(self.findings, 3)
        stubs_row = QHBoxLayout()
        stubs_row.addWidget(self.save_stubs)
        stubs_row.addWidget(self.retry_stubs)
        stubs_row.addStretch(1)
        layout.addLayout(stubs_row)
        layout.addWidget(self.show_log)
        layout.addWidget(self.log, 3)
        self.show_log.toggled.connect(self._toggle_log)
        self.findings.fix_chosen.connect(self.apply_fix)
        self.save_stubs.clicked.connect(self._ask_stubs_path)
        self.retry_stubs.clicked.connect(lambda: self.apply_fix("translations"))

    def initializePage(self) -> None:
        self._retrying = False
        result = cast("ExportWizard", self.wizard()).result
        if result is not None:
            self.show_result(result)

    def isComplete(self) -> bool:
        return not self._retrying

    # -- fixes -----------------------------------------------------------------------------------

    def apply_fix(self, key: str) -> None:
        """Export again with the fix ``key`` (one of :attr:`fixes`) and validate; the page shows
        the new result beside the last one when it ends."""
        wizard = cast("ExportWizard", self.wizard())
        fix = next((f for f in self.fixes if f.key == key), None)
        if fix is None or wizard.export_page.is_running():
            return
        self._retrying = True
        self.findings.set_fixes_enabled(False)
        self.headline.setText(
            f"{fix.label}: exporting again and validating… (Back shows the live log)"
        )
        self.completeChanged.emit()
        wizard.export_page.apply_fix(fix)

    def _ask_stubs_path(self) -> None:
        wizard = cast("ExportWizard", self.wizard())
        config = wizard.export_page.config
        folder = Path(config.source).parent if config is not None else Path.home()
        path, _ = QFileDialog.getSaveFileName(
            self, "Save translations", str(folder / "translations.py"), "Python (*.py)"
        )
        if path:
            self.save_stubs_to(path)

    def save_stubs_to(self, path: str) -> bool:
        """Write the shown result's translations to ``path`` and offer the retry with them."""
        wizard = cast("ExportWizard", self.wizard())
        result, config = wizard.result, wizard.export_page.config
        if result is None or not result.stubs or config is None:
            return False
        target = Path(path)
        if target.suffix != ".py":
            self.headline.setText(f"Not saved: {target.name} must end in .py to be passed back.")
            return False
        try:
            target.write_text(result.stubs, encoding="utf-8")
        except OSError as e:
            self.headline.setText(f"Could not save the translations to {target}: {e.strerror}.")
            return False
        self.stubs_path = str(target)
        self.fixes = [f for f in self.fixes if f.key != "translations"]
        self.fixes.append(translations_fix(config, self.stubs_path))
        self.retry_stubs.setEnabled(True)
        todo = "NotImplementedError" in result.stubs
        self.headline.setToolTip(str(target))
        self.headline.setText(
            f"Saved the translations to {target.name} (in {target.parent.name}/). "
            + (
                "Fill in the functions marked TODO, then retry with them."
                if todo
                else "Every op in it has a working translation: retry with them."
            )
        )
        return True

    def export_ended(self) -> None:
        """An export ended (or was cancelled): show where it left things if this page is up."""
        wizard = cast("ExportWizard | None", self.wizard())
        if wizard is None or wizard.currentPage() is not self:
            return
        self._retrying = False
        self.completeChanged.emit()
        result = wizard.result or wizard.export_page.before
        if result is not None:
            self.show_result(result)

    # -- showing a result --------------------------------------------------------------------------

    def show_result(self, result: ExportResult) -> None:
        """Fill the page from ``result`` (beside the export before it, after a fix)."""
        wizard = cast("ExportWizard | None", self.wizard())
        page = wizard.export_page if wizard is not None else None
        before, fix = (page.before, page.fix) if page is not None else (None, None)
        self.headline.setText(headline(result))
        self.headline.setToolTip("")
        self.checklist.clear()
        self.checklist.setColumnHidden(BEFORE_AFTER, before is None)
        if before is not None and fix is not None:
            self.comparison.setText(comparison_text(fix, before, result))
            changes = compare_checklists(before.checklist, result.checklist)
            for change in changes:
                status = change.after if change.after != NOT_RUN else "skipped"
                self._add_row(status, change.name, change.detail, _before_after(change))
        else:
            for row in result.checklist:
                self._add_row(row.get("status", ""), row.get("name", ""), row.get("detail", ""))
        self.comparison.setVisible(before is not None)
        # No file, no checks: the findings get the room (the headline says nothing was written).
        self.checklist.setVisible(self.checklist.topLevelItemCount() > 0)
        config = page.config if page is not None else None
        offered = (
            offered_fixes(result.findings, config, result.input_names, result.opset)
            if config is not None
            else [[] for _ in result.findings]
        )
        self.fixes = [fix for per_finding in offered for fix in per_finding]
        self.findings.show_findings(result, offered)
        self.save_stubs.setVisible(bool(result.stubs))
        self.retry_stubs.setVisible(bool(result.stubs) and config is not None)
        self.retry_stubs.setEnabled(bool(self.stubs_path))
        if result.stubs and config is not None and self.stubs_path:
            self.fixes.append(translations_fix(config, self.stubs_path))
        self.log.setPlainText(result.log)

    def _add_row(self, status: str, name: str, detail: str, before_after: str = "") -> None:
        mark, color = STATUS_MARKS.get(status, "?"), _status_colour(status)
        item = QTreeWidgetItem([mark, name, detail, before_after])
        item.setForeground(0, QBrush(QColor(color)))
        item.setToolTip(0, status)
        item.setToolTip(2, detail)
        self.checklist.addTopLevelItem(item)

    def checklist_rows(self) -> list[tuple[str, str, str]]:
        """(status mark, check, detail) per row, as shown."""
        return [
            tuple(self.checklist.topLevelItem(i).text(c) for c in range(3))  # type: ignore[misc]
            for i in range(self.checklist.topLevelItemCount())
        ]

    def comparison_rows(self) -> list[tuple[str, str]]:
        """(check, "before → after") per row, as shown after a fix; empty without one."""
        if self.checklist.isColumnHidden(BEFORE_AFTER):
            return []
        return [
            (self.checklist.topLevelItem(i).text(1), self.checklist.topLevelItem(i).text(3))
            for i in range(self.checklist.topLevelItemCount())
        ]

    def _toggle_log(self, on: bool) -> None:
        self.log.setVisible(on)
        self.show_log.setText("Hide log" if on else "Show log")


def headline(result: ExportResult) -> str:
    """One sentence: failed, degraded (how many errors and failed checks), or the verdict."""
    errors = [f for f in result.findings if f.severity == Severity.ERROR]
    failed = [c for c in result.checklist if c.get("status") == "failed"]
    if not result.ok:
        return "The export failed: nothing was written. Why, and what to do:"
    if errors or failed:
        return (
            f"Exported to {result.onnx} (opset {result.opset}), but it is degraded: "
            f"{len(errors)} error finding(s), {len(failed)} failed check(s)."
        )
    if not result.checklist:
        return f"Exported to {result.onnx} (opset {result.opset}); not validated."
    counts = Counter(c.get("status", "") for c in result.checklist)
    verdict = (
        f"all {len(result.checklist)} checks passed"
        if counts["passed"] == len(result.checklist)
        else ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    )
    return f"Exported to {result.onnx} (opset {result.opset}); {verdict}."


def comparison_text(fix: ExportFix, before: ExportResult, after: ExportResult) -> str:
    """What a fix changed: the outcome, passed checks and error findings, before → after."""

    def outcome(r: ExportResult) -> str:
        return "exported" if r.ok else "export failed"

    def count(r: ExportResult, status: str) -> int:
        return sum(1 for c in r.checklist if c.get("status") == status)

    def errors(r: ExportResult) -> set[str]:
        return {f.code for f in r.findings if f.severity == Severity.ERROR}

    gone = sorted(errors(before) - errors(after))
    new = sorted(errors(after) - errors(before))
    text = (
        f"<b>{html.escape(fix.label, quote=False)}</b> — before → after: {outcome(before)} → "
        f"{outcome(after)}; checks passed {count(before, 'passed')} → {count(after, 'passed')}, "
        f"failed {count(before, 'failed')} → {count(after, 'failed')}; error findings "
        f"{sum(f.severity == Severity.ERROR for f in before.findings)} → "
        f"{sum(f.severity == Severity.ERROR for f in after.findings)}"
    )
    if gone:
        text += f" (gone: {html.escape(', '.join(gone))})"
    if new:
        text += f" (new: {html.escape(', '.join(new))})"
    return text + "."


def _before_after(change: CheckChange) -> str:
    def shown(status: str) -> str:
        mark = STATUS_MARKS.get(status, "")
        return f"{mark} {status}".strip()

    return f"{shown(change.before)} → {shown(change.after)}"


class FinishPage(QWizardPage):
    """Open the file in the Inspector (the Finish button) or save the export as a script."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Finish")
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.save_script_button = QPushButton("Save export script…", self)
        self.save_script_button.setToolTip(
            "A standalone Python script that repeats this export with these options"
        )
        self.script_message = FieldMessage(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.save_script_button)
        layout.addWidget(self.script_message)
        layout.addStretch(1)
        self.save_script_button.clicked.connect(self._save_script)

    def initializePage(self) -> None:
        result = cast("ExportWizard", self.wizard()).result
        self.script_message.clear_message()
        if result is not None and result.ok and result.onnx:
            size = Path(result.onnx).stat().st_size if Path(result.onnx).exists() else 0
            self.summary.setText(
                f"{result.onnx} ({size / 1e6:.2f} MB) is ready. Open in Inspector opens it in a "
                "tab and runs its checks."
            )
        else:
            self.summary.setText(
                "Nothing was exported: go Back to change the settings. The script still "
                "reproduces the failure outside the Inspector."
            )

    def isComplete(self) -> bool:
        wizard = cast("ExportWizard | None", self.wizard())
        return wizard is not None and wizard.result is not None and wizard.result.ok

    def _save_script(self) -> None:
        wizard = cast("ExportWizard", self.wizard())
        config = wizard.export_page.config
        if config is None:
            return
        start = str(Path(config.output).with_name(Path(config.output).stem + "_export.py"))
        path = wizard.prompts.save_file(self, "Save export script", start, "Python (*.py)")
        if not path:
            return
        try:
            written = wizard.save_script(path)
        except OSError as e:
            self.script_message.show_error(f"Could not write the script: {e.strerror or e}")
            return
        self.script_message.show_info(f"Saved {written}; run it with python to repeat the export.")
