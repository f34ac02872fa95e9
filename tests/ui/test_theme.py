"""View > Theme: dark and light work on any desktop, not only where a platform theme answers
(offscreen, like a bare X11 session, has none)."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from inspector import resource_path
from inspector.ui.theme import is_dark
from tests.ui.window_driving import open_and_wait


def _window_lightness() -> int:
    return QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness()


def test_dark_and_light_change_the_window_and_the_graph(qtbot, window) -> None:
    view = open_and_wait(qtbot, window, resource_path("sample.onnx"))
    try:
        window.set_theme("dark")
        qtbot.waitUntil(lambda: view.scene.palette.background.lightness() < 128)
        assert is_dark() and _window_lightness() < 128
        assert window.settings.theme == "dark"
        assert [a.isChecked() for a in window.theme_actions] == [False, False, True]

        window.set_theme("light")
        qtbot.waitUntil(lambda: view.scene.palette.background.lightness() > 128)
        assert not is_dark() and _window_lightness() > 128
    finally:
        window.set_theme("system")  # the application palette outlives the window
