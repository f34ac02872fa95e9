"""The main window: tabs, docks, menus and actions. It composes; the session and core do the work."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.core.checks import RuntimeTarget
from inspector.core.findings import Finding
from inspector.ui.compare import CompareActions, CompareView, Comparisons
from inspector.ui.document_view import DocumentView
from inspector.ui.message_bar import Level, MessageBar
from inspector.ui.model_files import MODEL_FILTER, ModelFileActions
from inspector.ui.panels.inference import InferencePanel
from inspector.ui.panels.matrix import MatrixDialog
from inspector.ui.panels.problems import ProblemsPanel
from inspector.ui.panels.properties import PropertiesPanel
from inspector.ui.panels.search import SearchPanel
from inspector.ui.session import Selection, Session
from inspector.ui.settings import Settings
from inspector.ui.target_picker import PlacementLabel, TargetPicker, runtime_facts
from inspector.ui.tasks import TaskRunner
from inspector.ui.theme import THEMES, apply_theme
from inspector.ui.window_chrome import WindowChrome


class MainWindow(CompareActions, ModelFileActions, WindowChrome, QMainWindow):
    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.runner = TaskRunner(self)
        self.matrix_dialog: MatrixDialog | None = None  # made on first use
        self.session = Session(self.runner, self)
        self.comparisons = Comparisons(self.runner, self)
        self.setWindowTitle("ONNX Inspector")
        self.setAcceptDrops(True)
        self.resize(1400, 900)

        self.messages = MessageBar(self)
        self.runner.install_error_handler(self.messages.show_failure)  # no failure goes unseen
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.tabCloseRequested.connect(self._close_tab)
        self.tabs.currentChanged.connect(self._current_tab_changed)
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.messages)
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        # The panels follow the session's signals; the window only tells them which tab is shown.
        self.properties = PropertiesPanel(self.session, self)
        self.search = SearchPanel(self.session, self)
        self.problems = ProblemsPanel(self.session, self)
        props = self._add_dock("Properties", self.properties, Qt.DockWidgetArea.RightDockWidgetArea)
        search = self._add_dock("Search", self.search, Qt.DockWidgetArea.LeftDockWidgetArea)
        problems = self._add_dock("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.inference = InferencePanel(self.session, self.settings, self)
        inference = self._add_dock(
            "Inference", self.inference, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.tabifyDockWidget(problems, inference)
        problems.raise_()
        self.resizeDocks([problems], [170], Qt.Orientation.Vertical)
        # first-run widths; a saved layout (restoreState below) replaces them
        self.resizeDocks([search, props], [230, 400], Qt.Orientation.Horizontal)

        self._build_status_bar()
        self._build_toolbar()
        self._build_menus()
        self._connect()
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        else:
            self._start_docks_closed(search, problems, inference)

    # -------------------------------------------------------------------------------- building

    def _add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel(self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop opening the model (Esc)")
        self.cancel_button.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_button.clicked.connect(self.session.cancel_loading)
        for w in (self.progress_label, self.progress, self.cancel_button):
            self.statusBar().addPermanentWidget(w)
            w.hide()
        self.placement_label = PlacementLabel(self.session, self)
        self.statusBar().addPermanentWidget(self.placement_label)
        self._build_problem_count()

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Runtime target")
        bar.setObjectName("toolbar_target")
        self.target_picker = TargetPicker(
            self.settings.target_provider,
            self.settings.target_opset,
            self,
            self.settings.target_fallbacks,
        )
        bar.addWidget(self.target_picker)
        self.session.set_target(self.target_picker.target())
        self.runner.submit(
            "runtime-facts",
            lambda _p, _c: runtime_facts(),
            lambda facts: self.target_picker.set_choices(*facts),
            what="reading ONNX Runtime's providers and opsets",
        )

    def _target_chosen(self, target: RuntimeTarget) -> None:
        self.settings.target_provider = target.provider
        self.settings.target_opset = target.opset
        self.settings.target_fallbacks = target.fallbacks
        self.session.set_target(target)

    def _action(
        self, text: str, slot, shortcut: QKeySequence | str | None = None, tip: str = ""
    ) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self.open_action = self._action(
            "&Open…",
            self.open_dialog,
            QKeySequence.StandardKey.Open,
            "Open one or more .onnx files",
        )
        m.addAction(self.open_action)
        m.addAction(
            self._action(
                "&Export from PyTorch…",
                self.export_from_pytorch,
                "Ctrl+E",
                "Export a PyTorch model to ONNX, step by step, and validate the result",
            )
        )
        self.add_compare_actions(m)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.reopen_action = QAction("Reopen Last Session's Files at Start", self, checkable=True)
        self.reopen_action.setChecked(self.settings.reopen_last_session)
        self.reopen_action.toggled.connect(
            lambda on: setattr(self.settings, "reopen_last_session", on)
        )
        m.addAction(self.reopen_action)
        m.addSeparator()
        m.addAction(
            self._action(
                "Save Converted to Target Opset &As…",
                self._save_converted_dialog,
                tip="Write the model converted to the toolbar's target opset to a new file",
            )
        )
        m.addAction(
            self._action(
                "Save with Dynamic &Batch As…",
                self._make_dynamic_dialog,
                tip="Write a copy whose fixed batch dim (dim 0 of the inputs) is the symbol 'batch'",
            )
        )
        m.addSeparator()
        m.addAction(
            self._action(
                "&Close Tab",
                lambda: self._close_tab(self.tabs.currentIndex()),
                "Ctrl+W",  # the platform's Close key is Ctrl+F4 on some Linux desktops
            )
        )
        m.addAction(self._action("&Quit", self.close, "Ctrl+Q"))

        v = self.menuBar().addMenu("&View")
        v.addAction(
            self._action(
                "Zoom &In",
                lambda: self._with_view(lambda w: w.zoom_by(1.25)),
                QKeySequence.StandardKey.ZoomIn,
            )
        )
        v.addAction(
            self._action(
                "Zoom &Out",
                lambda: self._with_view(lambda w: w.zoom_by(0.8)),
                QKeySequence.StandardKey.ZoomOut,
            )
        )
        v.addAction(
            self._action(
                "&Fit to Window", lambda: self._with_view(lambda w: w.fit_to_window()), "Ctrl+0"
            )
        )
        v.addAction(self._action("Zoom to &Selection", self._zoom_to_selection, "Ctrl+Shift+0"))
        for text, name, keys in (
            ("E&xpand All Groups", "expand_all", "Ctrl+Shift+E"),
            ("&Collapse All Groups", "collapse_all", "Ctrl+Shift+C"),
            ("Expand to &Depth…", "ask_depth", None),
        ):  # the layer hierarchy of the current tab (inspector.ui.document_view)
            v.addAction(self._action(text, partial(self._fold_groups, name), keys))
        v.addSeparator()
        self.edge_labels_action = QAction("Show Tensor &Types on Edges", self, checkable=True)
        self.edge_labels_action.setShortcut(QKeySequence("Ctrl+T"))
        self.edge_labels_action.setChecked(self.settings.show_edge_labels)
        self.edge_labels_action.toggled.connect(self._set_edge_labels)
        v.addAction(self.edge_labels_action)
        v.addAction(
            self._action(
                "&Find…",
                self._focus_search,
                QKeySequence.StandardKey.Find,
                "Search node names, op types and tensor names",
            )
        )
        self._add_view_aids(v)
        v.addAction(
            self._action(
                "Deployment &Matrix…",
                self.show_matrix,
                tip="Which execution providers run each op signature of the model",
            )
        )
        theme_menu = v.addMenu("&Theme")
        for choice in THEMES:
            a = QAction(choice.capitalize(), self, checkable=True)
            a.setChecked(self.settings.theme == choice)
            a.triggered.connect(lambda _=False, c=choice: self.set_theme(c))
            theme_menu.addAction(a)
        self.theme_actions = theme_menu.actions()
        v.addSeparator()
        for dock in self.findChildren(QDockWidget):
            v.addAction(dock.toggleViewAction())

        self.add_fix_menu(self.menuBar())
        h = self.menuBar().addMenu("&Help")
        self._add_help_aids(h)
        h.addAction(self._action("&About ONNX Inspector", self._about))

    def _connect(self) -> None:
        s = self.session
        s.load_started.connect(self._load_started)
        s.load_progressed.connect(self._load_progressed)
        s.load_failed.connect(self._load_failed)
        s.document_opened.connect(self._document_opened)
        s.graph_changed.connect(self._graph_changed)
        s.types_inferred.connect(self._types_inferred)
        s.background_failed.connect(
            lambda _id, text: self.messages.show_message(text, Level.WARNING)
        )
        self.properties.node_requested.connect(
            lambda i: self._select_and_reveal(Selection("node", i))
        )
        self.properties.value_requested.connect(
            lambda n: self._select_and_reveal(Selection("value", n))
        )
        self.properties.subgraph_requested.connect(
            lambda path: (
                self._current_doc_id() is not None
                and s.enter_graph(self._current_doc_id(), tuple(path))
            )
        )
        self.target_picker.target_chosen.connect(self._target_chosen)
        self.problems.finding_activated.connect(self._finding_activated)
        self.inference.node_highlighted.connect(self._run_highlighted)
        self.inference.heat_changed.connect(self._run_heat)
        self.search.result_activated.connect(self._search_activated)
        self.search.matches_changed.connect(self._search_matches)
        self.runner.busy_changed.connect(self._busy_changed)

    # ------------------------------------------------------------------------------- opening

    def open_files(self, paths: list[str]) -> None:
        canvas = self.graph_canvas()
        for p in paths:
            self.session.open_file(p, canvas)

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open ONNX models", self.settings.last_dir, MODEL_FILTER
        )
        if files:
            self.settings.last_dir = str(Path(files[0]).parent)
            self.open_files(files)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for i, path in enumerate(recent):
            a = self.recent_menu.addAction(f"&{i + 1 if i < 9 else 0} {Path(path).name}")
            a.setToolTip(path)
            a.setStatusTip(path)
            a.triggered.connect(lambda _=False, p=path: self.open_files([p]))
        if not recent:
            self.recent_menu.addAction("(no recent files)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Menu", self.settings.clear_recent)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _local_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = _local_files(event.mimeData())
        if not files:
            return
        event.acceptProposedAction()
        # Shift held: compare instead of open, so a plain drop keeps opening tabs
        if not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier and self.compare_dropped(files)
        ):
            self.open_files(files)

    def _load_started(self, path: str) -> None:
        self.progress_label.setText(f"Opening {Path(path).name}…")
        self.progress.setValue(0)
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.show()

    def _load_progressed(self, _path: str, fraction: float, message: str) -> None:
        self.progress.setValue(int(100 * fraction))
        self.progress_label.setText(message)

    def _load_failed(self, path: str, message: str) -> None:
        self.messages.show_message(f"Could not open {Path(path).name}: {message}")
        self.statusBar().showMessage(f"Could not open {Path(path).name}", 8000)
        self.settings.remove_recent(path) if not Path(path).exists() else None
        self._hide_progress_if_idle()

    def _document_opened(self, doc_id: int) -> None:
        doc = self.session.documents[doc_id]
        view = DocumentView(self.session, doc_id, self.settings.show_edge_labels, self.tabs)
        view.view.minimap.set_wanted(self.settings.show_minimap)
        index = self.tabs.addTab(view, doc.path.name)
        self.tabs.setTabToolTip(index, str(doc.path))
        self.tabs.setCurrentIndex(index)
        self.settings.add_recent(doc.path)
        self._remember_session()
        self._hide_progress_if_idle()
        self.statusBar().showMessage(f"{doc.path.name}: {doc.model.node_count:,} nodes", 5000)

    def _hide_progress_if_idle(self) -> None:
        if not self.session.loading:
            for w in (self.progress_label, self.progress, self.cancel_button):
                w.hide()

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        else:
            QApplication.restoreOverrideCursor()

    def _close_tab(self, index: int) -> None:
        view = self.tabs.widget(index)
        if isinstance(view, DocumentView):
            self.tabs.removeTab(index)
            self.session.close(view.doc_id)
            view.release()
            view.destroyed.connect(self._free_closed_soon)
            view.deleteLater()
            self._remember_session()
        elif isinstance(view, CompareView):
            self.tabs.removeTab(index)
            self.comparisons.close(view.comp_id)
            view.destroyed.connect(self._free_closed_soon)
            view.deleteLater()

    def _free_closed_soon(self) -> None:
        # A view is deleted from the event loop; what Python still held of it goes once it returns.
        QTimer.singleShot(0, self.session.free_closed)

    def _remember_session(self) -> None:
        self.settings.last_session = [str(d.path) for d in self.session.documents.values()]

    # -------------------------------------------------------------------------- view and panels

    def current_view(self) -> DocumentView | None:
        w = self.tabs.currentWidget()
        return w if isinstance(w, DocumentView) else None

    def _current_doc_id(self) -> int | None:
        view = self.current_view()
        return view.doc_id if view else None

    def _fold_groups(self, what: str) -> None:
        if (view := self.current_view()) is not None:
            getattr(view, what)()

    def _with_view(self, fn) -> None:
        view = self.current_view()
        if view is not None:
            fn(view.view)
        elif (compare := self.current_compare_view()) is not None:
            fn(compare.active_view())  # the other side follows

    def show_matrix(self) -> None:
        view = self.current_view()
        if self.matrix_dialog is None:
            self.matrix_dialog = MatrixDialog(self.runner, self)
        self.matrix_dialog.show_document(view.document if view else None, self.session.target)
        self.matrix_dialog.show()
        self.matrix_dialog.raise_()

    def _zoom_to_selection(self) -> None:
        view = self.current_view()
        if view is None:
            return
        sel = view.document.selection
        if sel is not None and sel.kind == "node":
            view.reveal_node(int(sel.ident))
        elif sel is not None:
            view.reveal_value(str(sel.ident))

    def _set_edge_labels(self, on: bool) -> None:
        self.settings.show_edge_labels = on
        for i in range(self.tabs.count()):
            w = self.tabs.widget(i)
            if isinstance(w, DocumentView):
                w.set_show_edge_labels(on)

    def set_theme(self, choice: str) -> None:
        self.settings.theme = choice
        for a in self.theme_actions:
            a.setChecked(a.text().lower() == choice)
        apply_theme(QApplication.instance(), choice)
        # The style hints change the palette asynchronously; redraw after it has.
        QTimer.singleShot(0, self._restyle)

    def _restyle(self) -> None:
        for i in range(self.tabs.count()):
            w = self.tabs.widget(i)
            if isinstance(w, DocumentView):  # the user's zoom and place stay
                w.rebuild(keep=w.view.mapToScene(w.view.viewport().rect().center()))
            elif isinstance(w, CompareView):
                w.rebuild()
        self.properties.set_document(self._current_doc_id())  # its page's colours are the theme's

    def _focus_search(self) -> None:
        dock = self.search.parentWidget()
        if isinstance(dock, QDockWidget):
            dock.show()
            dock.raise_()
        self.search.focus_search()

    def _search_activated(self, kind: str, ident: object) -> None:
        self._select_and_reveal(Selection(kind, ident))  # type: ignore[arg-type]

    def _search_matches(self, nodes: list[int]) -> None:
        view = self.current_view()
        if view is not None and view.scene is not None:
            boxes = {b for b in (view.box_of_node(n) for n in nodes) if b is not None}
            view.scene.set_highlight(boxes)

    def _select_and_reveal(self, selection: Selection) -> None:
        view = self.current_view()
        if view is None:
            return
        self.session.select(view.doc_id, selection)
        if selection.kind == "node":
            view.reveal_node(int(selection.ident))
        else:
            view.reveal_value(str(selection.ident))

    def _graph_changed(self, doc_id: int) -> None:
        view = self.current_view()
        if view is not None and view.doc_id == doc_id:
            pending, view.document.pending_finding = view.document.pending_finding, None
            if pending is not None and tuple(pending.path) == view.document.graph_path:
                self._select_finding(pending)

    def _types_inferred(self, doc_id: int) -> None:
        for i in range(self.tabs.count()):
            w = self.tabs.widget(i)
            if isinstance(w, DocumentView) and w.doc_id == doc_id and w.scene is not None:
                w.scene.labels_changed()

    def _current_tab_changed(self, _index: int) -> None:
        doc_id = self._current_doc_id()
        for panel in (
            self.inference,
            self.problems,
            self.properties,
            self.search,
            self.placement_label,
        ):
            panel.set_document(doc_id)

    def _run_highlighted(self, node_index: int) -> None:
        """The inference panel found a node (the first NaN/Inf, or the one an error names)."""
        view = self.current_view()
        box = view.box_of_node(node_index) if view is not None else None
        if box is not None and view.scene is not None:
            view.scene.set_highlight({box})
            view.view.zoom_to_box(box)

    def _run_heat(self, seconds: dict | None) -> None:
        """Profile times per node → a 0..1 heat per box of the graph shown."""
        view = self.current_view()
        if view is None or view.scene is None:
            return
        if not seconds or view.document.graph_path != ():
            view.scene.set_box_heat(None)  # profiles map onto the main graph only
            return
        top = max(seconds.values()) or 1.0
        boxes = {view.box_of_node(i): t / top for i, t in seconds.items()}
        view.scene.set_box_heat({b: h for b, h in boxes.items() if b is not None})

    def _finding_activated(self, row: int) -> None:
        view = self.current_view()
        if view is None or row >= len(view.document.findings):
            return
        f = view.document.findings[row]
        doc = view.document
        path = tuple(f.path)
        if path != doc.graph_path and doc.model.find_graph(path) is not None:
            self.session.enter_graph(doc.doc_id, path)  # selection follows once it is shown
            doc.pending_finding = f
            return
        self._select_finding(f)

    def _select_finding(self, f: Finding) -> None:
        if f.node_index is not None:
            self._select_and_reveal(Selection("node", f.node_index))
        elif f.tensor:
            self._select_and_reveal(Selection("value", f.tensor))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self._remember_session()
        self.runner.cancel_all()
        self.runner.wait_idle(5000)
        super().closeEvent(event)


def _local_files(mime: QMimeData) -> list[str]:
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
