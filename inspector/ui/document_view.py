"""One tab: a breadcrumb over the graph view of one open model."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Signal
from PySide6.QtWidgets import QHBoxLayout, QMenu, QToolButton, QVBoxLayout, QWidget

from inspector.core.diagram import BoxKind
from inspector.core.findings import Finding
from inspector.scene.palette import palette_for
from inspector.scene.scene import GraphScene
from inspector.ui.graph_view.view import GraphView
from inspector.ui.session import Document, Selection, Session, breadcrumb
from inspector.ui.theme import is_dark


class DocumentView(QWidget):
    """Shows the current graph of one document and turns clicks into session calls."""

    scene_replaced = Signal()

    def __init__(
        self, session: Session, doc_id: int, show_edge_labels: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.doc_id = doc_id
        self._show_edge_labels = show_edge_labels
        self.crumbs = QWidget(self)
        self.crumbs.setLayout(QHBoxLayout())
        self.crumbs.layout().setContentsMargins(4, 2, 4, 2)
        self.view = GraphView(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.crumbs)
        layout.addWidget(self.view, 1)
        self.scene: GraphScene | None = None
        self.view.box_clicked.connect(self._box_clicked)
        self.view.edge_clicked.connect(self._edge_clicked)
        self.view.box_double_clicked.connect(self._box_double_clicked)
        self.view.background_clicked.connect(lambda: session.select(doc_id, None))
        session.graph_changed.connect(self._graph_changed)
        session.selection_changed.connect(self._selection_changed)
        session.findings_changed.connect(self._findings_changed)
        self.rebuild()

    @property
    def document(self) -> Document:
        return self.session.documents[self.doc_id]

    # --------------------------------------------------------------------------------- drawing

    def rebuild(self) -> None:
        """Make a scene for the document's current graph (after opening, navigating, theming)."""
        drawn = self.document.current
        if drawn is None:
            return
        self.scene = GraphScene(drawn.diagram, drawn.layout, palette_for(is_dark()))
        self.scene.set_show_edge_labels(self._show_edge_labels)
        self.view.setScene(self.scene)
        self.view.start_view()
        self._fill_breadcrumb()
        self.apply_findings()
        self.scene_replaced.emit()

    def set_show_edge_labels(self, on: bool) -> None:
        self._show_edge_labels = on
        if self.scene is not None:
            self.scene.set_show_edge_labels(on)

    def _fill_breadcrumb(self) -> None:
        lay = self.crumbs.layout()
        while lay.count():
            item = lay.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        parts = breadcrumb(self.document.graph_path)
        for depth, text in enumerate(parts):
            b = QToolButton(self.crumbs)
            b.setText(text)
            b.setAutoRaise(True)
            b.setEnabled(depth < len(parts) - 1)
            b.setToolTip("Back to this graph" if depth < len(parts) - 1 else "The graph shown")
            b.clicked.connect(lambda _=False, d=depth: self.session.go_to_level(self.doc_id, d))
            lay.addWidget(b)
        lay.addStretch(1)
        self.crumbs.setVisible(len(parts) > 1)

    # ------------------------------------------------------------------------------ navigation

    def box_of_node(self, node_index: int) -> int | None:
        drawn = self.document.current
        if drawn is None or not 0 <= node_index < len(drawn.diagram.node_box):
            return None
        return int(drawn.diagram.node_box[node_index])

    def reveal_node(self, node_index: int) -> None:
        box = self.box_of_node(node_index)
        if box is not None:
            self.view.zoom_to_box(box)

    def reveal_value(self, name: str) -> None:
        drawn = self.document.current
        if drawn is None:
            return
        edges = drawn.diagram.edges_of_value(name)
        if edges:
            self.view.center_on_box(int(drawn.diagram.edge_src[edges[0]]))

    def _box_clicked(self, box: int) -> None:
        diagram = self.document.current.diagram
        kind = BoxKind(int(diagram.kind[box]))
        ref = int(diagram.ref[box])
        graph = diagram.graph
        if kind is BoxKind.NODE:
            self.session.select(self.doc_id, Selection("node", ref))
        elif kind is BoxKind.INPUT:
            self.session.select(self.doc_id, Selection("value", graph.inputs[ref]))
        else:
            self.session.select(self.doc_id, Selection("value", graph.outputs[ref]))

    def _edge_clicked(self, edge: int) -> None:
        name = self.document.current.diagram.edge_value[edge]
        self.session.select(self.doc_id, Selection("value", name))

    def _box_double_clicked(self, box: int) -> None:
        doc = self.document
        diagram = doc.current.diagram
        if BoxKind(int(diagram.kind[box])) is not BoxKind.NODE:
            return
        node = diagram.graph.nodes[int(diagram.ref[box])]
        targets = [(name, sub.path) for name, sub in node.subgraphs]
        for f in doc.model.functions:
            if f.name == node.op_type and f.domain == node.domain:
                targets.append((f"function {f.name}", f.graph.path))
        if len(targets) == 1:
            self.session.enter_graph(self.doc_id, targets[0][1])
        elif targets:  # If has two branches: let the user pick
            menu = QMenu(self)
            for label, path in targets:
                menu.addAction(
                    f"Open {label}", lambda p=path: self.session.enter_graph(self.doc_id, p)
                )
            rect = self.view.mapFromScene(self.scene.box_rect(box)).boundingRect()
            menu.popup(self.view.mapToGlobal(rect.center() + QPoint(0, 8)))

    # ----------------------------------------------------------------------- session updates

    def apply_findings(self) -> None:
        """Outline and badge every box and edge a finding sits on in the graph shown; a node
        whose subgraph holds findings is marked too, so they can be found from the top."""
        doc = self.document
        if self.scene is None or doc.current is None:
            return
        diagram = doc.current.diagram
        here = doc.graph_path
        on_box: dict[int, list[Finding]] = {}
        on_edge: dict[int, list[Finding]] = {}
        label_to_node = {n.label: n.index for n in diagram.graph.nodes}
        # a function body's path is ("function", "domain:name"); its callers show its findings
        callers: dict[tuple[str, ...], list[int]] = {}
        for n in diagram.graph.nodes:
            key = ("function", f"{n.domain}:{n.op_type}" if n.domain else n.op_type)
            callers.setdefault(key, []).append(n.index)
        for f in doc.findings:
            path = tuple(f.path)
            if path == here:
                if f.tensor:
                    for e in diagram.edges_of_value(f.tensor):
                        on_edge.setdefault(e, []).append(f)
                if f.node_index is not None and 0 <= f.node_index < len(diagram.node_box):
                    on_box.setdefault(int(diagram.node_box[f.node_index]), []).append(f)
            elif path[:2] in callers and path[:2] != here:
                for index in callers[path[:2]]:  # the nodes calling the function
                    on_box.setdefault(int(diagram.node_box[index]), []).append(f)
            elif len(path) > len(here) and path[: len(here)] == here:
                index = label_to_node.get(path[len(here)])
                if index is not None:  # the If/Loop/Scan node whose subgraph holds it
                    on_box.setdefault(int(diagram.node_box[index]), []).append(f)
        self.scene.set_findings(on_box, on_edge)
        placement = doc.placement
        self.scene.set_placement(placement and placement.providers_of(here), main_graph=not here)

    def _findings_changed(self, doc_id: int) -> None:
        if doc_id == self.doc_id:
            self.apply_findings()

    def _graph_changed(self, doc_id: int) -> None:
        if doc_id == self.doc_id:
            self.rebuild()

    def _selection_changed(self, doc_id: int) -> None:
        if doc_id != self.doc_id or self.scene is None:
            return
        sel = self.document.selection
        diagram = self.document.current.diagram
        box = edge = None
        if sel is not None and sel.kind == "node":
            box = self.box_of_node(int(sel.ident))
        elif sel is not None and sel.kind == "value":
            edges = diagram.edges_of_value(str(sel.ident))
            edge = edges[0] if edges else None
            graph = diagram.graph
            if edge is None and sel.ident in graph.inputs:
                box = diagram.box_of_input(graph.inputs.index(sel.ident))
        self.scene.set_selection(box, edge)
