"""An inline, dismissable message above the tabs: errors never block the window with a dialog.

Every background failure that no caller handles ends here (the window installs
:meth:`MessageBar.show_failure` as the task runner's error handler), with its traceback one click
away behind "Details…".
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.findings import error_line
from inspector.ui.tasks import TaskError


class Level(Enum):
    """How a message looks: a failure, something to know before going on, or a success."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


# (background, text): set explicitly, so each stays readable under the light and the dark theme
_COLOURS = {
    Level.ERROR: ("#fdecea", "#611a15"),
    Level.WARNING: ("#fff4e5", "#663c00"),
    Level.INFO: ("#e8f5e9", "#1e4620"),
}


def failure_text(error: TaskError) -> str:
    """One line on a background failure nobody handled: the user's situation when it is one (no
    memory, the disk), else the Inspector's own bug, said as such and never blamed on a library."""
    what = error.what or "working in the background"
    e = error.exception
    if isinstance(e, MemoryError):
        return f"Not enough memory while {what}; close other tabs or programs and try again."
    if isinstance(e, OSError):
        return f"Could not finish {what}: {error_line(e)}"
    line, name = error_line(e), type(e).__name__
    said = line if line == name else f"{name}: {line}"
    return (
        f"ONNX Inspector hit an internal error while {what} ({said}); please report it with the "
        "details."
    )


class DetailsDialog(QDialog):
    """The full text behind a message (a traceback), selectable to copy into a report."""

    def __init__(self, title: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlainText(details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text, 1)
        lay.addWidget(buttons)
        self.resize(760, 420)


class MessageBar(QWidget):
    """An inline, dismissable message above the tabs, styled by its :class:`Level`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        # plain text: a message quotes file and tensor names, which may look like HTML
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton(self)
        self.details_button.setText("Details…")
        self.details_button.setToolTip("Show the full text (for a bug report)")
        self.details_button.clicked.connect(self.show_details)
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.details_button)
        lay.addWidget(close)
        # A QWidget subclass paints a style sheet's background only with this attribute; without
        # it the bar showed the window's colour, and under the dark theme its dark text vanished.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.level = Level.ERROR
        self.details = ""
        self.details_dialog: DetailsDialog | None = None
        self.hide()

    def show_message(self, text: str, level: Level = Level.ERROR, details: str = "") -> None:
        """Show ``text`` (replacing the message shown); ``details`` go behind "Details…"."""
        self.level = level
        self.details = details
        background, foreground = _COLOURS[level]
        self.setStyleSheet(
            f"MessageBar {{ background: {background}; }} QLabel {{ color: {foreground}; }}"
        )
        self.label.setText(text)
        self.details_button.setVisible(bool(details))
        self.show()

    def show_failure(self, error: TaskError) -> None:
        """The task runner's error handler: a failure no caller handled, traceback in details."""
        self.show_message(failure_text(error), Level.ERROR, error.details)

    def show_details(self) -> None:
        if self.details_dialog is not None:
            self.details_dialog.close()
            self.details_dialog.deleteLater()
        self.details_dialog = DetailsDialog("Details", self.details, self.window())
        self.details_dialog.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
