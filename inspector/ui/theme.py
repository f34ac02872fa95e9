"""Light and dark themes: follow the OS by default, or a choice remembered in the settings.

A choice of light or dark sets the Fusion style's palette itself: asking Qt for a colour scheme
(``QStyleHints.setColorScheme``) only works where a platform theme answers (GNOME, KDE, macOS,
Windows); on a bare X11 or Wayland desktop it changed nothing, and View > Theme > Dark stayed light.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from inspector.core.findings import Severity

THEMES = ("system", "light", "dark")

#: Text colours of the finding severities (the status bar's count, the Problems rows, the panels'
#: pages), per theme: each reads at a contrast of 4.5 or more on that theme's window and base
#: colours. One red could not: #d32f2f was 2.6 on the dark window.
_SEVERITY_TEXT = {
    False: {Severity.ERROR: "#cf222e", Severity.WARNING: "#9a6700", Severity.INFO: "#1976d2"},
    True: {Severity.ERROR: "#f7786e", Severity.WARNING: "#e0b341", Severity.INFO: "#6ea8ff"},
}
#: The text colour of a success (outputs that match what was expected), per theme, as readable.
_OK_TEXT = {False: "#1a7f37", True: "#57ab5a"}

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


def severity_colour(severity: Severity | str, dark: bool | None = None) -> str:
    """The text colour of ``severity`` in the theme shown now (or in the dark or light one)."""
    return _SEVERITY_TEXT[is_dark() if dark is None else dark][Severity(severity)]


def ok_colour(dark: bool | None = None) -> str:
    """The text colour of a success in the theme shown now (or in the dark or light one)."""
    return _OK_TEXT[is_dark() if dark is None else dark]
