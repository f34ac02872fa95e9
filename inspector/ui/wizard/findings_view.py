"""The export's findings on the wizard's validation page, each with its fixes as buttons.

Each finding is a paragraph (severity, code, message, next steps); where it names a line of the
user's code, that line is shown with its neighbours; below it, one button per fix the wizard
can apply itself (:func:`inspector.core.export.adjust.offered_fixes`). A click emits
:attr:`FindingsView.fix_chosen` with the fix's key; the page runs it.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from inspector.core.export import ExportResult
from inspector.core.export.adjust import ExportFix
from inspector.core.findings import Severity
from inspector.ui.theme import severity_colour

CONTEXT_LINES = 2  # lines shown above and below the user's line
_HIGHLIGHT = "#fff3c4"


class FindingsView(QScrollArea):
    """Findings as paragraphs with fix buttons; :meth:`toPlainText` gives what it shows."""

    #: A fix button was clicked: the fix's key (:attr:`ExportFix.key`).
    fix_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.buttons: dict[str, QPushButton] = {}  # fix key → its button
        self._html: list[str] = []
        self._body = QWidget()
        self._layout = QVBoxLayout(self._body)
        self.setWidget(self._body)

    def show_findings(self, result: ExportResult, fixes: list[list[ExportFix]]) -> None:
        """Show ``result``'s findings; ``fixes[i]`` are the fixes offered for finding ``i``."""
        self._body = QWidget()
        self._layout = QVBoxLayout(self._body)
        self.buttons, self._html = {}, []
        if not result.findings:
            self._paragraph("<p>No findings: nothing to fix.</p>")
        for f, where, offered in zip(result.findings, result.source_lines, fixes, strict=True):
            color = severity_colour(f.severity)
            text = (
                f'<p><span style="color:{color}"><b>{Severity(f.severity).value}</b></span> '
                f"<code>{html.escape(f.code)}</code>: {html.escape(f.message)}"
            )
            if where:
                text += f"<br><b>In your code:</b> <code>{html.escape(where)}</code>"
                text += context_html(where)
            if f.hint:
                text += f"<br><b>Next steps:</b> {html.escape(f.hint)}"
            self._paragraph(text + "</p>")
            if offered:
                row = QHBoxLayout()
                for fix in offered:
                    button = QPushButton(fix.label, self._body)
                    button.setToolTip(
                        f"Export again with this change (for {fix.code}) and validate the new "
                        "file; your code is not edited"
                    )
                    button.clicked.connect(lambda _=False, key=fix.key: self.fix_chosen.emit(key))
                    self.buttons[fix.key] = button
                    row.addWidget(button)
                row.addStretch(1)
                self._layout.addLayout(row)
        self._layout.addStretch(1)
        self.setWidget(self._body)  # deletes the previous findings' widgets

    def set_fixes_enabled(self, on: bool) -> None:
        for button in self.buttons.values():
            button.setEnabled(on)

    def toPlainText(self) -> str:  # named like QTextEdit's, which it replaced
        """The findings as shown, without markup."""
        doc = QTextDocument()
        doc.setHtml("".join(self._html))
        return doc.toPlainText()

    def _paragraph(self, text: str) -> None:
        self._html.append(text)
        label = QLabel(text, self._body)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout.addWidget(label)


def context_html(where: str, around: int = CONTEXT_LINES) -> str:
    """The line ``where`` ("path:line") names, with ``around`` lines either side, numbered and
    the line itself highlighted; empty when the file cannot be read."""
    path, _, number = where.rpartition(":")
    if not number.isdigit():
        return ""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    line = int(number)
    if not 1 <= line <= len(lines):
        return ""
    first, last = max(1, line - around), min(len(lines), line + around)
    width = len(str(last))
    rows = []
    for n in range(first, last + 1):
        text = html.escape(f"{n:>{width}}  {lines[n - 1]}")
        rows.append(
            f'<span style="background-color:{_HIGHLIGHT}"><b>{text}</b></span>'
            if n == line
            else text
        )
    return '<pre style="margin-top:4px; margin-bottom:0">' + "\n".join(rows) + "</pre>"
