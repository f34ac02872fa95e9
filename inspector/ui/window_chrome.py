"""What gives the graph the room (and the canvas size a new tab opens for), and the window's
smaller aids: the Problems count in the status bar (the docks that have nothing to show start
closed), View > Show Minimap, View > Export Image…, Help > Keyboard Shortcuts, and the one line a
first launch shows on what to try.

A mixin of :class:`~inspector.ui.main_window.MainWindow`: it reads the window's session, settings,
tabs, message bar and panels, and keeps these aids out of the window's composition code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QMenu,
    QMessageBox,
    QTabBar,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.collapse import WINDOW_VIEWPORT
from inspector.core.findings import Severity
from inspector.core.text import printable
from inspector.scene.render import MAX_HEIGHT, image_path_problem, paint_to_file
from inspector.ui.document_view import DocumentView
from inspector.ui.graph_view.view import GraphView
from inspector.ui.message_bar import Level
from inspector.ui.theme import severity_colour

if TYPE_CHECKING:
    from inspector.ui.main_window import MainWindow

IMAGE_FILTER = "PNG image (*.png);;SVG drawing (*.svg)"
#: Widest image of the whole graph Export Image writes (a view is written at its own size).
WHOLE_GRAPH_WIDTH = 4000
#: Short enough to stay one line in the default window (the docks' room taken): it wrapped to two.
FIRST_RUN_HINT = (
    "Try: click a box for its properties · double-click a layer to open it · Ctrl+F finds · "
    "View > Inference runs the model · F1 lists the keys"
)


def _suffix_of(name_filter: str) -> str:
    """ ".svg" for the SVG entry of ``IMAGE_FILTER``, else ".png"."""
    return ".svg" if "*.svg" in name_filter else ".png"


class _ProblemCount(QToolButton):
    """The status bar's count of findings, in the colour of the worst, which follows the theme."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.severity: Severity | None = None

    def set_severity(self, severity: Severity | None) -> None:
        self.severity = severity
        sheet = f"color: {severity_colour(severity)};" if severity is not None else ""
        if sheet != self.styleSheet():  # a new style sheet changes the palette: no loop
            self.setStyleSheet(sheet)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # View > Theme: light or dark colours
            # after the theme is set: its style's palette comes first, the theme's own after
            QTimer.singleShot(0, self, lambda: self.set_severity(self.severity))


#: A graph view narrower or lower than this is not laid out yet: new tabs open for a new
#: window's canvas instead.
MIN_CANVAS = 200


class WindowChrome:
    """Mixed into the main window (which provides ``settings``, ``session``, ``tabs``,
    ``messages``, ``problems``, ``statusBar()`` and ``current_view()``)."""

    # ----------------------------------------------------------------------------- docks

    def _start_docks_closed(self: MainWindow, *docks: QDockWidget) -> None:
        """On a first run (no saved layout) the docks that have nothing to show yet start closed:
        the canvas gets the window. The Problems count sits in the status bar and opens its dock."""
        for dock in docks:
            dock.hide()

    def _build_problem_count(self: MainWindow) -> None:
        self.problem_count = _ProblemCount(self)
        self.problem_count.setAutoRaise(True)
        self.problem_count.setToolTip("Show the Problems dock (the findings of every check)")
        self.problem_count.clicked.connect(self._show_problems)
        self.statusBar().addPermanentWidget(self.problem_count)
        self.session.findings_changed.connect(lambda _id: self._update_problem_count())
        self.tabs.currentChanged.connect(lambda _i: self._update_problem_count())
        self._update_problem_count()

    def _update_problem_count(self: MainWindow) -> None:
        view = self.current_view()
        if view is None:
            self.problem_count.hide()
            return
        doc = view.document
        if not doc.checked:
            text, worst = "checking…", None
        else:
            counts = {s: 0 for s in Severity}
            for f in doc.findings:
                counts[Severity(f.severity)] += 1
            errors, warnings = counts[Severity.ERROR], counts[Severity.WARNING]
            notes = counts[Severity.INFO]
            if errors or warnings:
                text = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
            elif notes:  # the Problems dock lists them: the count must not say there are none
                text = f"no problems, {notes} note{'s' * (notes != 1)}"
            else:
                text = "no problems"
            worst = Severity.ERROR if errors else (Severity.WARNING if warnings else None)
        self.problem_count.setText(text)
        self.problem_count.set_severity(worst)
        self.problem_count.show()

    def _show_problems(self: MainWindow) -> None:
        dock = self.problems.parentWidget()
        if isinstance(dock, QDockWidget):
            dock.show()
            dock.raise_()

    # ----------------------------------------------------------------------------- view menu

    def _add_view_aids(self: MainWindow, menu: QMenu) -> None:
        self.minimap_action = QAction("Show &Minimap", self, checkable=True)
        self.minimap_action.setShortcut(QKeySequence("Ctrl+M"))
        # A menu shows the status tip (in the status bar), not the tool tip: said there, a
        # checked Show Minimap with no minimap (the graph fits) does not look broken.
        tip = "The overview in the corner; hidden anyway while the whole graph fits the view"
        self.minimap_action.setToolTip(tip)
        self.minimap_action.setStatusTip(tip)
        self.minimap_action.setChecked(self.settings.show_minimap)
        self.minimap_action.toggled.connect(self._set_minimap)
        menu.addAction(self.minimap_action)
        self.export_image_action = self._action(
            "&Export Image…",
            self.export_image_dialog,
            "Ctrl+Shift+S",
            "Save the current view, or the whole graph, as a PNG or SVG image",
        )
        menu.addAction(self.export_image_action)

    def _set_minimap(self: MainWindow, on: bool) -> None:
        self.settings.show_minimap = on
        for view in self.tabs.findChildren(GraphView):  # tabs and both panes of comparisons
            view.minimap.set_wanted(on)

    def _image_source(self: MainWindow) -> tuple[GraphView, str] | None:
        """The graph view Export Image saves and its file's stem: the current tab's, or in a
        comparison the side the user works in."""
        if (view := self.current_view()) is not None:
            return view.view, view.document.path.stem
        if (compare := self.current_compare_view()) is not None:
            graph_view = compare.active_view()
            comp = compare.comparison
            side = comp.a if graph_view is compare.view_a else comp.b
            return graph_view, side.path.stem
        return None

    def export_image_dialog(self: MainWindow) -> None:
        source = self._image_source()
        if source is None:
            self.messages.show_message("Open a model first: there is no graph to save.", Level.INFO)
            return
        box = QMessageBox(self)
        box.setWindowTitle("Export Image")
        box.setText("Save what the view shows now, or the whole graph?")
        current = box.addButton("Current View", QMessageBox.ButtonRole.AcceptRole)
        whole = box.addButton("Whole Graph", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() not in (current, whole):
            return
        start = str(Path(self.settings.last_dir) / f"{source[1]}.png")
        dialog = QFileDialog(self, "Export Image", start, IMAGE_FILTER)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        # The dialog adds the chosen type's suffix to a bare name itself, so it asks before
        # replacing the file actually written ("graph" picked with SVG chosen is graph.svg).
        dialog.setDefaultSuffix("png")
        dialog.filterSelected.connect(lambda f: dialog.setDefaultSuffix(_suffix_of(f)[1:]))
        if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
            return
        self.export_image(
            dialog.selectedFiles()[0],
            whole=box.clickedButton() is whole,
            suffix=_suffix_of(dialog.selectedNameFilter()),
        )

    def export_image(
        self: MainWindow, path: str | Path, whole: bool, suffix: str = ".png"
    ) -> Path | None:
        """Write the current tab's view (``whole=False``: what is on screen, at screen size) or
        its whole graph (at most ``WHOLE_GRAPH_WIDTH`` px wide) to a PNG or SVG file, with the
        findings and highlights as drawn; in a comparison, the side worked in. A name without
        a suffix gets ``suffix``. Says what went wrong on the message bar, and then writes
        nothing."""
        if (image_source := self._image_source()) is None:
            return None
        graph_view, stem = image_source
        scene = graph_view.graph_scene()
        if scene is None:
            return None
        out = Path(path)
        if not out.suffix:
            out = out.with_name(out.name + suffix)
        problem = image_path_problem(out)
        if problem:
            self.messages.show_message(f"Could not save the image: {problem}", Level.WARNING)
            return None
        if whole:
            source = scene.sceneRect()
            scale = min(
                WHOLE_GRAPH_WIDTH / max(source.width(), 1.0),
                MAX_HEIGHT / max(source.height(), 1.0),
                max(graph_view.zoom, 1.0),
            )
        else:
            source = graph_view.visible_scene_rect()
            scale = graph_view.zoom
        try:
            paint_to_file(scene, source, out, scale, printable(stem))
        except OSError as e:
            self.messages.show_message(f"Could not save the image: {e}. Choose another folder.")
            return None
        self.settings.last_dir = str(out.parent)
        self.statusBar().showMessage(f"Wrote {out}", 8000)
        return out

    # ----------------------------------------------------------------------------- help

    def _add_help_aids(self: MainWindow, menu: QMenu) -> None:
        menu.addAction(
            self._action(
                "&Keyboard Shortcuts",
                self.show_shortcuts,
                QKeySequence.StandardKey.HelpContents,
                "Every menu command that has a key, and the keys of the graph view",
            )
        )

    def graph_canvas(self: MainWindow) -> tuple[float, float]:
        """The pixels a model's graph view gets in this window as it is now (a new tab opens its
        groups to the depth readable there): the shown tab's, else the tab area less its bar."""
        shown = self.tabs.currentWidget()
        if isinstance(shown, DocumentView):
            size = shown.view.viewport().size()
            w, h = size.width(), size.height()
            if shown.crumbs.isVisible():  # it shows a subgraph: a new tab starts without a bar
                h += shown.crumbs.height()
        else:
            self.centralWidget().layout().activate()  # a window just shown is laid out first
            bar = self.tabs.tabBar()
            if not bar.count():  # hidden, hinting no height, until the first tab: measure one
                bar = QTabBar(documentMode=True, tabsClosable=True)
                bar.addTab("model.onnx")
            w = self.tabs.width() - 2
            h = self.tabs.height() - bar.sizeHint().height() - 2
        if w < MIN_CANVAS or h < MIN_CANVAS:  # not laid out yet, or squeezed to nothing
            return WINDOW_VIEWPORT
        return float(w), float(h)

    def shortcut_rows(self: MainWindow) -> list[tuple[str, str]]:
        """(keys, command) for every menu action with a shortcut, read from the menus themselves
        (one source: a new shortcut shows up here), then the graph view's own keys."""
        rows: list[tuple[str, str]] = []

        def walk(menu: QMenu, where: str) -> None:
            for a in menu.actions():
                if a.menu() is not None:
                    walk(a.menu(), f"{where} > {a.menu().title().replace('&', '')}")
                elif not a.shortcut().isEmpty():
                    text = a.text().replace("&", "").rstrip("…")
                    keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                    rows.append((keys, f"{where} > {text}"))

        for top in self.menuBar().actions():
            if top.menu() is not None:
                walk(top.menu(), top.text().replace("&", ""))
        rows += [
            ("Drag, or mouse wheel", "Graph > Pan (Shift + wheel: sideways)"),
            ("Ctrl + wheel, or pinch", "Graph > Zoom at the pointer"),
            ("+ / − / 0", "Graph > Zoom in / out / fit (the graph has the focus)"),
            ("Double-click a node", "Graph > Enter its subgraph (If, Loop, Scan, functions)"),
            ("Double-click a group, or →", "Graph > Expand the group (→: the selected one)"),
            ("←", "Graph > Collapse the group around the selected box"),
            ("Esc", "Stop opening a model"),
            ("Enter", "Search box > Show the selected result (the first if none)"),
            ("↑ / ↓", "Search box > Move through the results"),
            ("Esc", "Search box > Clear it"),
            ("Shift + drop files", "Compare them (with the current tab) instead of opening"),
        ]
        return rows

    def show_shortcuts(self: MainWindow) -> QDialog:
        """Show the list (raising the one already open: F1 twice made two)."""
        shown = getattr(self, "shortcuts_dialog", None)
        if shown is not None and shiboken6.isValid(shown) and shown.isVisible():
            shown.raise_()
            shown.activateWindow()
            return shown
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard Shortcuts")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        rows = self.shortcut_rows()
        table = QTableWidget(len(rows), 2, dialog)
        table.setHorizontalHeaderLabels(["keys", "command"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (keys, command) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(keys))
            table.setItem(r, 1, QTableWidgetItem(command))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(buttons)
        dialog.resize(560, 520)
        dialog.show()
        self.shortcuts_dialog = dialog
        return dialog

    def show_first_run_hint(self: MainWindow) -> None:
        if not self.settings.first_run_done:
            self.messages.show_message(FIRST_RUN_HINT, Level.INFO)
            self.settings.first_run_done = True
