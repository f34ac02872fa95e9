"""Pages 5 and 6 of the export wizard: the validation checklist and findings, and the finish.

The validation page shows :attr:`ExportResult.checklist` as ticks and crosses, each finding with
its code, message, the user's source line and next steps, and the raw log behind "Show log". The
finish page opens the file in the Inspector (the wizard's ``model_exported`` signal) and saves a
script that repeats the export.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from inspector.core.export import ExportResult
from inspector.core.findings import Severity
from inspector.ui.panels.problems import SEVERITY_COLORS
from inspector.ui.wizard.support import FieldMessage

if TYPE_CHECKING:
    from inspector.ui.wizard.wizard import ExportWizard

#: checklist status → (mark, colour)
STATUS_MARKS = {
    "passed": ("✓", "#2e7d32"),
    "warning": ("!", SEVERITY_COLORS[Severity.WARNING]),
    "failed": ("✗", SEVERITY_COLORS[Severity.ERROR]),
    "skipped": ("–", "#757575"),
}


class ValidationPage(QWizardPage):
    """What the export produced and everything found wrong with it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Validation")
        self.setSubTitle("The checks run on the exported file, and what to do about findings.")
        self.headline = QLabel(self)
        self.headline.setWordWrap(True)
        self.checklist = QTreeWidget(self)
        self.checklist.setHeaderLabels(["", "check", "detail"])
        self.checklist.setRootIsDecorated(False)
        self.checklist.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.checklist.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.checklist.setToolTip(
            "onnx checker, runtime support and edges, dynamic dims, opset, and parity with "
            "PyTorch at each size with the tolerances used"
        )
        self.findings = QTextBrowser(self)
        self.findings.setOpenLinks(False)
        self.findings.setToolTip("Each finding with its code, where in your code, and next steps")
        self.show_log = QPushButton("Show log", self)
        self.show_log.setCheckable(True)
        self.show_log.setToolTip("The export process's whole output, with the exporter's messages")
        self.log = QPlainTextEdit(self)
        self.log.setReadOnly(True)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.checklist, 2)
        layout.addWidget(self.findings, 3)
        layout.addWidget(self.show_log)
        layout.addWidget(self.log, 3)
        self.show_log.toggled.connect(self._toggle_log)

    def initializePage(self) -> None:
        result = cast("ExportWizard", self.wizard()).result
        if result is not None:
            self.show_result(result)

    def show_result(self, result: ExportResult) -> None:
        """Fill the page from ``result``."""
        errors = [f for f in result.findings if f.severity == Severity.ERROR]
        failed = [c for c in result.checklist if c.get("status") == "failed"]
        if not result.ok:
            self.headline.setText("The export failed: nothing was written. Why, and what to do:")
        elif errors or failed:
            self.headline.setText(
                f"Exported to {result.onnx} (opset {result.opset}), but it is degraded: "
                f"{len(errors)} error finding(s), {len(failed)} failed check(s)."
            )
        else:
            counts = Counter(c.get("status", "") for c in result.checklist)
            verdict = (
                f"all {len(result.checklist)} checks passed"
                if counts["passed"] == len(result.checklist)
                else ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            )
            self.headline.setText(f"Exported to {result.onnx} (opset {result.opset}); {verdict}.")
        self.checklist.clear()
        for row in result.checklist:
            status = row.get("status", "")
            mark, color = STATUS_MARKS.get(status, ("?", "#757575"))
            item = QTreeWidgetItem([mark, row.get("name", ""), row.get("detail", "")])
            item.setForeground(0, QBrush(QColor(color)))
            item.setToolTip(0, status)
            item.setToolTip(2, row.get("detail", ""))
            self.checklist.addTopLevelItem(item)
        if not result.checklist:
            self.checklist.addTopLevelItem(
                QTreeWidgetItem(["–", "no checks", "the file was not written, so not validated"])
            )
        self.findings.setHtml(findings_html(result))
        self.log.setPlainText(result.log)

    def checklist_rows(self) -> list[tuple[str, str, str]]:
        """(status mark, check, detail) per row, as shown."""
        return [
            tuple(self.checklist.topLevelItem(i).text(c) for c in range(3))  # type: ignore[misc]
            for i in range(self.checklist.topLevelItemCount())
        ]

    def _toggle_log(self, on: bool) -> None:
        self.log.setVisible(on)
        self.show_log.setText("Hide log" if on else "Show log")


def findings_html(result: ExportResult) -> str:
    """Each finding as a paragraph: severity, code, message, source line, next steps."""
    if not result.findings:
        return "<p>No findings: nothing to fix.</p>"
    blocks = []
    for f, source in zip(result.findings, result.source_lines, strict=True):
        color = SEVERITY_COLORS[Severity(f.severity)]
        where = f"<br><b>In your code:</b> <code>{html.escape(source)}</code>" if source else ""
        hint = f"<br><b>Next steps:</b> {html.escape(f.hint)}" if f.hint else ""
        blocks.append(
            f'<p><span style="color:{color}"><b>{Severity(f.severity).value}</b></span> '
            f"<code>{html.escape(f.code)}</code>: {html.escape(f.message)}{where}{hint}</p>"
        )
    return "".join(blocks)


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
