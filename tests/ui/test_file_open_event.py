"""macOS hands files opened from Finder to the application as QFileOpenEvents: they open tabs."""

from __future__ import annotations

import onnx
import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QUrl
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from inspector.ui.app import FileOpenFilter
from inspector.ui.main_window import MainWindow
from inspector.ui.settings import Settings
from tests.bad_models import small_model


@pytest.fixture
def window(qtbot, tmp_path):
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    app = QApplication.instance()
    watcher = FileOpenFilter(w, app)
    app.installEventFilter(watcher)  # what run_app does
    yield w
    app.removeEventFilter(watcher)
    watcher.deleteLater()
    w.runner.cancel_all()
    assert w.runner.wait_idle(30000)


def test_file_open_event_opens_the_file(qtbot, window, tmp_path):
    model = tmp_path / "from finder.onnx"
    onnx.save(small_model(), model)
    QCoreApplication.postEvent(QApplication.instance(), QFileOpenEvent(str(model)))
    qtbot.waitUntil(lambda: window.tabs.count() == 1 and not window.session.loading, timeout=30000)
    assert window.tabs.tabText(0) == "from finder.onnx"


def test_file_open_event_for_a_remote_url_is_ignored(qtbot, window, tmp_path):
    model = tmp_path / "local.onnx"
    onnx.save(small_model(), model)
    app = QApplication.instance()
    QCoreApplication.postEvent(app, QFileOpenEvent(QUrl("https://example.com/m.onnx")))
    QCoreApplication.postEvent(app, QFileOpenEvent(str(model)))  # delivered after the URL
    qtbot.waitUntil(lambda: window.tabs.count() >= 1 and not window.session.loading, timeout=30000)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["local.onnx"]
    assert window.messages.text == ""
