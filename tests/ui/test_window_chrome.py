"""The window gives the graph the room, and its smaller aids: docks with nothing to show start
closed and the Problems count sits in the status bar; the minimap can be hidden and hides itself
while the graph fits; Export Image writes the view or the whole graph; Help lists the shortcuts;
a first launch says what to try, once."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDockWidget, QTableWidget

from inspector import resource_path
from inspector.core.findings import Severity
from inspector.ui.main_window import MainWindow
from inspector.ui.settings import Settings
from inspector.ui.window_chrome import FIRST_RUN_HINT
from tests.ui.test_findings_ui import unsupported_everywhere
from tests.ui.window_driving import open_and_wait

SAMPLE = resource_path("sample.onnx")


def _dock(window: MainWindow, title: str) -> QDockWidget:
    return next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == title)


def test_first_run_leaves_the_canvas_the_room_and_counts_problems(qtbot, window, tmp_path):
    for title in ("Search", "Problems", "Inference"):
        assert not _dock(window, title).isVisible(), f"{title} starts open with nothing to show"
    assert _dock(window, "Properties").isVisible()
    view = open_and_wait(qtbot, window, unsupported_everywhere(tmp_path), checked=True)
    canvas = view.view.viewport().size()
    assert canvas.width() >= 0.6 * window.width() and canvas.height() >= 0.7 * window.height()

    qtbot.waitUntil(lambda: "error" in window.problem_count.text())
    assert window.problem_count.isVisible()
    window.problem_count.click()
    assert _dock(window, "Problems").isVisible()

    window.show_first_run_hint()
    assert window.messages.text == FIRST_RUN_HINT
    window.messages.hide()  # dismissed
    window.show_first_run_hint()  # only once, ever: the settings remember it
    assert window.messages.text == ""


def test_problem_count_names_notes_the_problems_dock_lists(qtbot, window):
    # IR version 3 with opset 9: one info finding (ir-version-too-old), nothing worse
    model = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    view = open_and_wait(qtbot, window, model, checked=True)
    assert [f.severity for f in view.document.findings] == [Severity.INFO]
    qtbot.waitUntil(lambda: window.problem_count.text() == "no problems, 1 note")


def test_minimap_hides_while_the_graph_fits_and_on_request(qtbot, window):
    view = open_and_wait(qtbot, window, SAMPLE)
    graph = view.view
    graph.zoom_to_box(0)  # zoomed in: part of the graph is off screen
    qtbot.waitUntil(graph.minimap.isVisible)
    graph.fit_to_window()
    assert not graph.minimap.isVisible()  # the whole graph is on screen: nothing to overview
    graph.zoom_to_box(0)
    assert graph.minimap.isVisible()

    window.minimap_action.toggle()
    assert not graph.minimap.isVisible() and window.settings.show_minimap is False
    graph.zoom_by(2.0)
    assert not graph.minimap.isVisible()
    window.minimap_action.toggle()
    assert graph.minimap.isVisible()


def test_export_image_writes_the_view_and_the_whole_graph(qtbot, window, tmp_path):
    view = open_and_wait(qtbot, window, SAMPLE)
    graph = view.view
    graph.zoom_to_box(0)
    shown = window.export_image(tmp_path / "view.png", whole=False)
    image = QImage(str(shown))
    viewport = graph.viewport().size()
    assert (
        abs(image.width() - viewport.width()) <= 2 and abs(image.height() - viewport.height()) <= 2
    )

    whole = window.export_image(tmp_path / "whole.svg", whole=True)
    text = whole.read_text()
    assert text.startswith("<?xml") and "Conv" in text  # the op names are drawn as text
    png = QImage(str(window.export_image(tmp_path / "whole", whole=True)))  # suffix added
    scene = view.scene.sceneRect()
    assert png.height() / png.width() == pytest.approx(scene.height() / scene.width(), rel=0.02)

    assert window.export_image(tmp_path / "no-such-folder" / "x.png", whole=True) is None
    assert "Could not save the image" in window.messages.text


def test_help_lists_every_shortcut_from_the_menus(qtbot, window):
    rows = dict((command, keys) for keys, command in window.shortcut_rows())
    assert rows["File > Open"] == "Ctrl+O"
    assert rows["View > Show Minimap"] == "Ctrl+M"
    assert rows["View > Export Image"] == "Ctrl+Shift+S"
    assert rows["File > Export from PyTorch"] == "Ctrl+E"
    assert "Graph > Zoom at the pointer" in rows
    assert rows["Search box > Move through the results"] == "↑ / ↓"
    menus = {a.text().replace("&", "") for a in window.menuBar().actions()}
    menu_keys = [k for k, command in window.shortcut_rows() if command.split(" > ")[0] in menus]
    assert len(menu_keys) > 10
    assert len(menu_keys) == len(set(menu_keys)), "two menu commands share a shortcut"
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    table = dialog.findChild(QTableWidget)
    assert dialog.isVisible() and table.rowCount() == len(window.shortcut_rows())
    assert {table.item(r, 1).text() for r in range(table.rowCount())} >= {"File > Open"}


def test_a_saved_layout_is_kept(qtbot, tmp_path):
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    _dock(first, "Search").show()
    first.close()
    settings.save_window_state(first.saveGeometry(), first.saveState())
    again = MainWindow(settings)
    qtbot.addWidget(again)
    again.show()
    assert _dock(again, "Search").isVisible()  # the user's own layout wins over first-run rules


def test_the_readme_lists_the_same_shortcuts(window):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Keyboard shortcuts", 1)[1].split("\n#", 1)[0]
    listed = [
        tuple(cell.strip() for cell in line.strip("|").split("|"))
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| keys")
    ]
    assert listed == window.shortcut_rows()
