"""The window fixture the window-level tests share: its own settings file, nothing left running."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QSettings

from inspector.ui.main_window import MainWindow
from inspector.ui.settings import Settings


@pytest.fixture
def window(qtbot, tmp_path):
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    w.runner.cancel_all()
    assert w.runner.wait_idle(60000)
    # The tabs' models are frozen out of garbage collection while open (the app's process ends
    # with its window); a test's window is not the process: give them back to the collector.
    gc.unfreeze()
