"""The window tried as a demanding new user would (issue 14's review): the message bar readable in
the dark theme, Export Image's file names, and the group keys."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from inspector.ui.main_window import MainWindow
from inspector.ui.message_bar import _COLOURS, Level
from inspector.ui.settings import Settings
from inspector.ui.theme import apply_theme


def _contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1: the same, 21: black on white)."""

    def lum(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_first_run_hint_is_readable_in_the_dark_theme(qtbot, tmp_path):
    # as the application starts: the theme first, then the window and its first-run hint
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.theme = "dark"
    apply_theme(QApplication.instance(), settings.theme)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    try:
        window.show()
        window.show_first_run_hint()
        bar = window.messages
        qtbot.waitUntil(bar.isVisible)
        background, text = (QColor(c) for c in _COLOURS[Level.INFO])
        # the window as drawn, in the bar's left margin where there is no text (the bar's own
        # grab() paints its style sheet's background even when the window does not)
        at = bar.mapTo(window, bar.rect().topLeft())
        drawn = window.grab().toImage().pixelColor(at.x() + 2, at.y() + bar.height() // 2)
        # the bar's own light background, not the dark window's, under its dark text
        assert drawn.name() == background.name()
        assert _contrast(drawn, text) > 7
    finally:
        apply_theme(
            QApplication.instance(), "system"
        )  # the application palette outlives the window
        window.runner.cancel_all()
        assert window.runner.wait_idle(60000)
