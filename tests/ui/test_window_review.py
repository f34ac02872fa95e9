"""The window tried as a demanding new user would (issue 14's review): the message bar and the
severity colours readable in the dark theme, Export Image's file names and comparison tabs, the
minimap (deep graphs, small views, a place picked on it), Help, the first-run hint, and the
group keys and search."""

from __future__ import annotations

import onnx
import pytest
import shiboken6
from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QLineEdit,
    QMessageBox,
    QTableView,
)

from inspector import resource_path
from inspector.ui.graph_view.minimap import MAX_SHARE
from inspector.ui.main_window import MainWindow
from inspector.ui.message_bar import _COLOURS, Level
from inspector.ui.panels.inference_results import OUTPUT_COLUMNS
from inspector.ui.settings import Settings
from inspector.ui.theme import apply_theme, ok_colour
from tests.core.test_collapse import _group_boxes, layered_model
from tests.model_zoo import shipped_data_dir
from tests.ui.test_compare import chain_model, compare, save
from tests.ui.test_findings_ui import unsupported_everywhere
from tests.ui.window_driving import open_and_wait

SAMPLE = resource_path("sample.onnx")


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


def _answer_export_dialogs(qtbot, window, button: str, pick_svg: bool, name: str | None) -> None:
    """Run View > Export Image…: press ``button`` in its first question, then in the file dialog
    pick the SVG type (with the keyboard, as a user does) and save as ``name`` (None: Cancel)."""

    def file_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QFileDialog)
        if pick_svg:
            combo = dialog.findChild(QComboBox, "fileTypeCombo")
            qtbot.keyClick(combo, Qt.Key.Key_Down)  # the user's choice: PNG → SVG
            assert "svg" in dialog.selectedNameFilter()
        if name is None:
            dialog.reject()
        else:
            dialog.selectFile(name)
            dialog.accept()

    def question() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        chosen = next(b for b in box.buttons() if b.text() == button)
        if button != "Cancel":
            QTimer.singleShot(0, file_dialog)
        chosen.click()

    QTimer.singleShot(0, question)
    window.export_image_action.trigger()


def test_export_image_writes_the_type_chosen_and_only_png_or_svg(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, SAMPLE)
    window.settings.last_dir = str(tmp_path)

    # SVG chosen in the dialog and a bare name typed: an SVG, named so
    _answer_export_dialogs(qtbot, window, "Whole Graph", True, str(tmp_path / "graph"))
    assert (tmp_path / "graph.svg").read_text().startswith("<?xml")
    assert not (tmp_path / "graph.png").exists()

    # Cancel in either dialog writes nothing
    _answer_export_dialogs(qtbot, window, "Cancel", False, None)
    _answer_export_dialogs(qtbot, window, "Current View", False, None)
    assert sorted(p.name for p in tmp_path.glob("*.*g")) == ["graph.svg"]

    # a name the Inspector cannot write as asked: said, and no other file written in its place
    (tmp_path / "shot.png").write_bytes(b"the user's own file")
    _answer_export_dialogs(qtbot, window, "Current View", False, str(tmp_path / "shot.jpg"))
    assert "PNG or SVG" in window.messages.text and "shot.jpg" in window.messages.text
    assert (tmp_path / "shot.png").read_bytes() == b"the user's own file"
    assert not (tmp_path / "shot.jpg").exists()
    assert window.export_image(tmp_path / "e.tar.gz", whole=True) is None
    assert not (tmp_path / "e.tar.png").exists()

    # a folder that is missing, or a file where the folder should be: said, in one line
    assert window.export_image(tmp_path / "missing" / "x.png", whole=False) is None
    assert "does not exist" in window.messages.text and "\n" not in window.messages.text
    assert window.export_image(tmp_path / "shot.png" / "x.svg", whole=True) is None
    assert "Could not save the image" in window.messages.text


def test_a_tensor_found_by_search_opens_the_groups_on_its_way(qtbot, window, tmp_path):
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    view = open_and_wait(qtbot, window, path)
    assert "layers.1–59 ×59" in _group_boxes(view.document.current.diagram)
    assert not view.document.current.diagram.edges_of_value("q30")  # inside the closed fold
    window.search.set_query("q30")  # layer 30's attention MatMul output
    qtbot.keyClick(window.search.findChild(QLineEdit), Qt.Key.Key_Return)
    assert view.document.selection is not None and view.document.selection.ident == "q30"
    qtbot.waitUntil(lambda: bool(view.document.current.diagram.edges_of_value("q30")))
    assert view.scene.selected_edge in view.document.current.diagram.edges_of_value("q30")


def test_left_closes_the_group_right_just_opened(qtbot, window, tmp_path):
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    view = open_and_wait(qtbot, window, path)
    before = view.document.current.diagram
    attn = _group_boxes(before)["attn"]
    view.view.zoom_to_box(attn)
    centre = view.view.mapFromScene(view.scene.box_rect(attn).center())
    qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert view.scene.selected_box == attn
    qtbot.keyClick(view.view, Qt.Key.Key_Right)
    assert "attn" not in _group_boxes(view.document.current.diagram)  # opened
    qtbot.keyClick(view.view, Qt.Key.Key_Left)  # as in a tree: ← closes what → opened
    assert _group_boxes(view.document.current.diagram) == _group_boxes(before)


def _deep_chain_expanded(qtbot, window, tmp_path):
    """A 60-layer chain open in the window with every group expanded (a deep, narrow graph)."""
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    view = open_and_wait(qtbot, window, path)
    view.expand_all()
    qtbot.waitUntil(lambda: view.document.current.diagram.box_count > 200, timeout=60_000)
    return view


def test_a_place_picked_on_the_minimap_survives_a_resize(qtbot, window, tmp_path):
    view = _deep_chain_expanded(qtbot, window, tmp_path)
    graph = view.view
    graph.start_view()  # a tall graph starts readable at its top, as a big model opens
    minimap = graph.minimap
    assert minimap.isVisible()
    # the user goes three quarters down the graph by clicking there on the minimap
    qtbot.mouseClick(
        minimap,
        Qt.MouseButton.LeftButton,
        pos=QPoint(minimap.width() // 2, minimap.height() * 3 // 4),
    )
    picked = graph.visible_scene_rect().center()
    assert picked.y() > view.scene.sceneRect().center().y()
    height = graph.viewport().height()
    window.problem_count.click()  # the Problems dock opens: the canvas gets smaller
    qtbot.waitUntil(lambda: graph.viewport().height() < height)
    centre = graph.visible_scene_rect().center()
    assert abs(centre.y() - picked.y()) < 5, "jumped back to the top"


def test_switching_the_theme_keeps_the_zoom_and_place(qtbot, window):
    view = open_and_wait(qtbot, window, SAMPLE)
    graph = view.view
    graph.zoom_to_box(view.scene.diagram.box_count - 1)  # a close look at the graph's end
    zoom, centre = graph.zoom, graph.visible_scene_rect().center()
    try:
        window.set_theme("dark")
        qtbot.waitUntil(lambda: view.scene.palette.background.lightness() < 128)
        assert graph.zoom == pytest.approx(zoom)
        assert (graph.visible_scene_rect().center() - centre).manhattanLength() < 5
    finally:
        window.set_theme("system")  # the application palette outlives the window


def test_severity_colours_read_well_in_both_themes(qtbot, window, tmp_path):
    view = open_and_wait(qtbot, window, unsupported_everywhere(tmp_path), checked=True)
    qtbot.waitUntil(lambda: "error" in window.problem_count.text())
    rows = window.problems.findChild(QTableView).model()
    try:
        for theme in ("dark", "light"):
            window.set_theme(theme)
            qtbot.waitUntil(
                lambda t=theme: (view.scene.palette.background.lightness() < 128) == (t == "dark")
            )
            palette = QApplication.instance().palette()
            count = QColor(window.problem_count.styleSheet().removeprefix("color: ").rstrip(";"))
            assert _contrast(count, palette.color(QPalette.ColorRole.Window)) >= 4.5, theme
            severity = rows.data(rows.index(0, 0), Qt.ItemDataRole.ForegroundRole).color()
            assert _contrast(severity, palette.color(QPalette.ColorRole.Base)) >= 4.5, theme
    finally:
        window.set_theme("system")  # the application palette outlives the window


def test_export_image_saves_the_side_of_a_comparison_worked_in(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "before.onnx")
    b = save(chain_model(head_op="Sigmoid"), tmp_path / "after.onnx")
    view = compare(qtbot, window, a, b)
    view.view_b.setFocus()
    qtbot.waitUntil(view.view_b.hasFocus)
    out = window.export_image(tmp_path / "side.svg", whole=True)
    assert out is not None, window.messages.text  # was: "Open a model first"
    text = out.read_text()
    assert "<title>after</title>" in text and "Sigmoid" in text


def test_help_twice_shows_one_list_of_shortcuts(qtbot, window):
    first = window.show_shortcuts()
    assert window.show_shortcuts() is first  # raised again, not a second copy
    shown = [d for d in window.findChildren(QDialog) if d.isVisible()]
    assert shown == [first]
    first.close()  # deleted on close: the next F1 makes a new one
    qtbot.waitUntil(lambda: not shiboken6.isValid(first))
    again = window.show_shortcuts()
    assert again.isVisible()
    again.close()


def test_show_minimap_says_in_the_status_bar_why_none_may_show(qtbot, window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    menu.popup(window.mapToGlobal(window.rect().center()))
    qtbot.waitExposed(menu)
    menu.setActiveAction(window.minimap_action)  # the pointer on the item
    assert "fits" in window.statusBar().currentMessage()
    menu.close()


def test_a_deep_graphs_minimap_shows_its_boxes(qtbot, window, tmp_path):
    view = _deep_chain_expanded(qtbot, window, tmp_path)
    rect = view.scene.sceneRect()
    assert rect.height() > 20 * rect.width()  # a deep chain
    view.view.start_view()
    minimap = view.view.minimap
    assert minimap.isVisible()
    image = minimap.grab().toImage()
    background = view.scene.palette.background.rgb()
    drawn = sum(
        image.pixel(x, y) != background
        for x in range(1, image.width() - 1)
        for y in range(1, image.height() - 1)
    )
    # coloured bars across the strip, not a line of dots a few pixels wide
    assert drawn > 0.2 * (image.width() - 2) * (image.height() - 2)


def test_the_first_run_hint_is_one_line_in_the_default_window(qtbot, window):
    window.show_first_run_hint()
    label = window.messages.label
    qtbot.waitUntil(lambda: label.isVisible() and label.width() > 0)
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()


def test_a_runs_verdict_reads_well_in_the_dark_theme(qtbot, window):
    conv = shipped_data_dir() / "pytorch-converted" / "test_Conv2d"
    view = open_and_wait(qtbot, window, conv / "model.onnx")
    panel = window.inference
    panel.options.warmup.setValue(0)
    panel.options.repeat.setValue(1)
    with qtbot.waitSignal(panel.feeds.feeds_loaded, timeout=10_000):
        panel.feeds.load_feeds_from(conv / "test_data_set_0")
    window.set_theme("dark")
    try:
        qtbot.waitUntil(lambda: view.scene.palette.background.lightness() < 128)
        with qtbot.waitSignal(panel.run_finished, timeout=120_000):
            panel.run()
        base = QApplication.instance().palette().color(QPalette.ColorRole.Base)
        verdict = panel.results.table.item(0, OUTPUT_COLUMNS.index("expected"))
        assert verdict.text() == "allclose"
        assert _contrast(verdict.foreground().color(), base) >= 4.5
        assert f"color:{ok_colour(dark=True)}" in panel.results.summary.text()
    finally:
        window.set_theme("system")  # the application palette outlives the window


def test_the_minimap_leaves_a_small_view_to_the_graph(qtbot, window):
    view = open_and_wait(qtbot, window, SAMPLE)
    graph = view.view
    graph.zoom_to_box(0)
    qtbot.waitUntil(graph.minimap.isVisible)
    window.resize(560, 420)  # the view is now hardly taller than the minimap
    qtbot.waitUntil(lambda: graph.viewport().height() < graph.minimap.height() / MAX_SHARE)
    assert not graph.minimap.isVisible()
    window.resize(1400, 900)
    qtbot.waitUntil(graph.minimap.isVisible)
