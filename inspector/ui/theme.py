"""Light and dark themes: follow the OS by default, or a choice remembered in the settings.

A choice of light or dark sets the Fusion style's palette itself: asking Qt for a colour scheme
(``QStyleHints.setColorScheme``) only works where a platform theme answers (GNOME, KDE, macOS,
Windows); on a bare X11 or Wayland desktop it changed nothing, and View > Theme > Dark stayed light.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")

# Fusion's dark colours (as Qt 6 draws them when a platform reports a dark scheme).
_DARK = {
    QPalette.ColorRole.Window: "#323232",
    QPalette.ColorRole.WindowText: "#f0f0f0",
    QPalette.ColorRole.Base: "#232323",
    QPalette.ColorRole.AlternateBase: "#2d2d2d",
    QPalette.ColorRole.ToolTipBase: "#3c3c3c",
    QPalette.ColorRole.ToolTipText: "#f0f0f0",
    QPalette.ColorRole.PlaceholderText: "#8c8c8c",
    QPalette.ColorRole.Text: "#f0f0f0",
    QPalette.ColorRole.Button: "#3c3c3c",
    QPalette.ColorRole.ButtonText: "#f0f0f0",
    QPalette.ColorRole.BrightText: "#ff6464",
    QPalette.ColorRole.Light: "#505050",
    QPalette.ColorRole.Midlight: "#464646",
    QPalette.ColorRole.Mid: "#2a2a2a",
    QPalette.ColorRole.Dark: "#1e1e1e",
    QPalette.ColorRole.Shadow: "#141414",
    QPalette.ColorRole.Highlight: "#3d7ed8",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6ea8ff",
    QPalette.ColorRole.LinkVisited: "#b08cff",
}
_DARK_DISABLED = {
    QPalette.ColorRole.WindowText: "#7f7f7f",
    QPalette.ColorRole.Text: "#7f7f7f",
    QPalette.ColorRole.ButtonText: "#7f7f7f",
    QPalette.ColorRole.Highlight: "#505050",
    QPalette.ColorRole.HighlightedText: "#9f9f9f",
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(role, QColor(colour))
    for role, colour in _DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(colour))
    return palette


def apply_theme(app: QApplication, choice: str) -> None:
    """Set the colour scheme; "system" follows the OS (and its later changes)."""
    app.setStyle("Fusion")  # the one style whose palette follows the colour scheme everywhere
    hints = QGuiApplication.styleHints()
    if choice == "dark":
        hints.setColorScheme(Qt.ColorScheme.Dark)  # tells native dialogs too, where it can
        app.setPalette(dark_palette())
        return
    if choice == "light":
        hints.setColorScheme(Qt.ColorScheme.Light)
    else:
        hints.unsetColorScheme()
    # The style's own palette: light, or the platform theme's when one answers.
    app.setPalette(app.style().standardPalette())


def is_dark() -> bool:
    """Whether the window is drawn dark now (by the OS's scheme or the user's choice)."""
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
