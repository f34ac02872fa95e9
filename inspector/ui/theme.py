"""Light and dark themes: follow the OS by default, or a choice remembered in the settings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def apply_theme(app: QApplication, choice: str) -> None:
    """Set the colour scheme; "system" follows the OS (and its later changes)."""
    app.setStyle("Fusion")  # the one style whose palette follows the colour scheme everywhere
    hints = QGuiApplication.styleHints()
    if choice == "light":
        hints.setColorScheme(Qt.ColorScheme.Light)
    elif choice == "dark":
        hints.setColorScheme(Qt.ColorScheme.Dark)
    else:
        hints.unsetColorScheme()


def is_dark() -> bool:
    """Whether the window is drawn dark now (by the OS's scheme or the user's choice)."""
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
