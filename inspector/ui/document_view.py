"""One tab: a breadcrumb over the graph view of one open model, whose layer groups open and
close (double-click or Right/Left on a group; the View menu's Expand All / Collapse All /
Expand to Depth)."""

from __future__ import annotations

import time
from collections.abc import Collection

from PySide6.QtCore import QPoint, QPointF, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.collapse import CollapsibleDrawing
from inspector.core.diagram import BoxKind, Diagram, layout_diagram
from inspector.core.finding_places import finding_places
from inspector.core.findings import Finding
from inspector.core.hierarchy import GroupTally
from inspector.core.tasks import CancelToken, ProgressFn
from inspector.scene.palette import palette_for
from inspector.scene.scene import GraphScene
from inspector.ui.graph_view.view import GraphView
from inspector.ui.session import Document, Selection, Session, breadcrumb
from inspector.ui.theme import is_dark

#: Drawings of more boxes than this are laid out off the GUI thread (~0.1 s and up).
SYNC_LAYOUT_BOXES = 1000


class DocumentView(QWidget):
    """Shows the current graph of one document and turns clicks into session calls."""

    scene_replaced = Signal()
    #: Groups were opened or closed and the new drawing is shown.
    groups_changed = Signal()

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
        self.view.fold_key_pressed.connect(self._fold_key)
        #: Milliseconds the last expand/collapse took: new diagram, layout, scene and a repaint.
        self.last_fold_ms = 0.0
        #: The groups open in a drawing still being made on a worker (a big one), or None.
        self._on_its_way: frozenset[int] | None = None
        #: What the view centres on when that drawing arrives (a later reveal moves it).
        self._arrival_focus: int | None = None
        self._shown_path = session.documents[doc_id].graph_path
        self.view.background_clicked.connect(lambda: session.select(doc_id, None))
        session.graph_changed.connect(self._graph_changed)
        session.selection_changed.connect(self._selection_changed)
        session.findings_changed.connect(self._findings_changed)
        self.rebuild()

    @property
    def document(self) -> Document:
        return self.session.documents[self.doc_id]

    # --------------------------------------------------------------------------------- drawing

    def rebuild(self, keep: QPointF | None = None) -> None:
        """Make a scene for the document's current graph (after opening, navigating, theming,
        or opening and closing groups). With ``keep`` (a scene point of the old drawing, the
        group just opened or closed), the zoom stays and the view centres on that point of the
        new drawing instead of starting over."""
        drawn = self.document.current
        if drawn is None:
            return
        zoom = self.view.zoom
        self.scene = GraphScene(drawn.diagram, drawn.layout, palette_for(is_dark()))
        self.scene.set_show_edge_labels(self._show_edge_labels)
        self.view.setScene(self.scene)
        if keep is None:
            self.view.start_view()
        else:
            self.view.set_zoom(zoom)
            self.view.centerOn(keep)
        self._fill_breadcrumb()
        self.apply_findings()
        self._selection_changed(self.doc_id)
        self.scene_replaced.emit()

    def release(self) -> None:
        """Let go of the drawing as the tab closes: its scene holds the diagram and, through it,
        the graph model, so the closed model goes as soon as nothing else holds it, without the
        full collection a frozen cycle needs (``Session.free_closed``)."""
        self.view.setScene(None)
        self.scene = None

    # ------------------------------------------------------------------------ groups

    @property
    def drawing(self) -> CollapsibleDrawing | None:
        """The current graph's drawing when its groups can open and close."""
        drawn = self.document.current
        return drawn if isinstance(drawn, CollapsibleDrawing) else None

    def set_expanded(self, expanded: Collection[int], focus: int | None = None) -> None:
        """Draw the current graph with exactly the groups ``expanded`` open, keeping the zoom
        and centring on the node or group ``focus`` (a tree id; -1 - i for node i). A drawing
        of more than ``SYNC_LAYOUT_BOXES`` boxes is laid out in the background."""
        drawing = self.drawing
        if drawing is None:
            return
        # the last request wins: a drawing still being made for an earlier one is not shown
        self.session.runner.cancel(f"groups:{self.doc_id}")
        self._on_its_way = None
        wanted = drawing.state_for(expanded)
        if wanted == drawing.expanded:
            return
        t0 = time.perf_counter()
        count = drawing.box_count_for(expanded)
        if count <= SYNC_LAYOUT_BOXES:
            state, diagram = drawing.diagram_for(expanded)
            new = CollapsibleDrawing(diagram, layout_diagram(diagram), drawing.folding, state)
            self._show_drawing(new, focus, t0)
            return
        path = self.document.graph_path
        # The full diagram's labels as the worker will copy them: shape inference replaces them
        # (Session._infer_later), and a drawing cut before that has labels without its types.
        labels = drawing.folding.full.edge_label
        self._on_its_way, self._arrival_focus = wanted, focus

        def work(progress: ProgressFn, cancel: CancelToken) -> CollapsibleDrawing:
            # making a big drawing's boxes and text takes seconds: all of it off the GUI thread
            state, diagram = drawing.diagram_for(expanded)
            layout = layout_diagram(diagram, progress, cancel)
            diagram.make_edge_labels()
            return CollapsibleDrawing(diagram, layout, drawing.folding, state)

        def done(new: CollapsibleDrawing) -> None:
            if self._on_its_way == wanted:
                self._on_its_way = None
            doc = self.session.documents.get(self.doc_id)
            if doc is not None and doc.graph_path == path and doc.current is drawing:
                full = drawing.folding.full
                if full.edge_label is not labels and new.diagram is not full:
                    new.diagram.refresh_edge_labels()  # inferred while it was being made
                self._show_drawing(new, self._arrival_focus, t0)

        self.session.runner.submit(
            f"groups:{self.doc_id}",
            work,
            done,
            what=f"laying out {count:,} boxes of {self.document.path.name}",
        )

    @property
    def wanted_expanded(self) -> frozenset[int]:
        """The groups open as the user has asked so far: those of a drawing still being made,
        else the drawing shown (a second group opened meanwhile adds to the first)."""
        drawing = self.drawing
        if self._on_its_way is not None:
            return self._on_its_way
        return drawing.expanded if drawing is not None else frozenset()

    def _show_drawing(self, new: CollapsibleDrawing, focus: int | None, t0: float) -> None:
        # The drawing is the document's view state, like the graph path: the view replaces it.
        self.document.drawn[self.document.graph_path] = new
        self.rebuild(keep=self._focus_point(new, focus))
        self.view.viewport().repaint()
        self.last_fold_ms = (time.perf_counter() - t0) * 1000
        self.groups_changed.emit()

    def _focus_point(self, drawing: CollapsibleDrawing, focus: int | None) -> QPointF:
        """Where ``focus`` (a tree id, or -1 - node index) is drawn in ``drawing``; the view's
        centre when there is none."""
        box = None
        if focus is not None and focus < 0:
            box = int(drawing.diagram.node_box[-1 - focus])
        elif focus is not None:
            box = self._box_of_tree_id(drawing, focus)
            if box is None:  # opened: centre on its first node
                nodes = drawing.folding.hierarchy.nodes_of(drawing.folding.members(focus)[0])
                box = int(drawing.diagram.node_box[nodes[0]]) if len(nodes) else None
        if box is None:
            return self.view.mapToScene(self.view.viewport().rect().center())
        return QPointF(float(drawing.layout.x[box]), float(drawing.layout.y[box]))

    @staticmethod
    def _box_of_tree_id(drawing: CollapsibleDrawing, tid: int) -> int | None:
        d = drawing.diagram
        hits = ((d.kind == BoxKind.GROUP) & (d.ref == tid)).nonzero()[0]
        return int(hits[0]) if len(hits) else None

    def expand_group(self, box: int) -> None:
        """Open the group drawn as ``box``."""
        drawing = self.drawing
        if drawing is None or BoxKind(int(drawing.diagram.kind[box])) is not BoxKind.GROUP:
            return
        tid = int(drawing.diagram.ref[box])
        self.set_expanded(self.wanted_expanded | {tid}, focus=tid)

    def collapse_around(self, box: int) -> None:
        """Close the open group holding ``box`` (a node, or a closed group inside it)."""
        drawing = self.drawing
        if drawing is None:
            return
        d, folding = drawing.diagram, drawing.folding
        kind = BoxKind(int(d.kind[box]))
        wanted = self.wanted_expanded
        if kind is BoxKind.NODE:
            tid = folding.innermost_open(int(d.ref[box]), wanted)
        elif kind is BoxKind.GROUP:
            tid = int(folding.parent[int(d.ref[box])])
        else:
            return
        if tid is None or tid <= 0:
            return
        self.set_expanded(wanted - {tid}, focus=tid)

    def expand_all(self) -> None:
        if self.drawing is not None:
            self.set_expanded(self.drawing.folding.everything)

    def collapse_all(self) -> None:
        if self.drawing is not None:
            self.set_expanded(frozenset())

    def expand_to_depth(self, depth: int) -> None:
        if self.drawing is not None:
            self.set_expanded(self.drawing.folding.expanded_to_depth(depth))

    def depth_shown(self) -> int:
        """The deepest depth whose groups are all open (as asked so far)."""
        drawing = self.drawing
        if drawing is None:
            return 0
        folding, wanted = drawing.folding, self.wanted_expanded
        open_to = [
            d for d in range(folding.max_depth + 1) if folding.expanded_to_depth(d) <= wanted
        ]
        return max(open_to, default=0)

    def ask_depth(self) -> None:
        """View > Expand to Depth…: ask for the depth, then expand to it."""
        drawing = self.drawing
        if drawing is None:
            return
        folding = drawing.folding
        deepest = folding.max_depth
        depth, ok = QInputDialog.getInt(
            self, "Expand to Depth",
            f"Open the groups down to depth (0: top-level boxes; {deepest}: everything):",
            self.depth_shown(), 0, deepest, 1,
        )  # fmt: skip
        if ok:
            self.expand_to_depth(depth)

    def _fold_key(self, expand: bool) -> None:
        box = self.scene.selected_box if self.scene is not None else None
        if box is None:
            return
        if expand:
            before = self.document.current.diagram
            self.expand_group(box)
            self._select_first_inside(before, box)
        else:
            self.collapse_around(box)

    def _select_first_inside(self, before: Diagram, box: int) -> None:
        """After → opened the group drawn as ``box`` in ``before``: select the first thing
        inside it, so a ← right after closes it again, as in a tree."""
        drawing = self.drawing
        if drawing is None or drawing.diagram is before:
            return  # nothing opened, or opening a big group is still on its way
        if BoxKind(int(before.kind[box])) is not BoxKind.GROUP:
            return
        folding = drawing.folding
        first = folding.hierarchy.nodes_of(folding.members(int(before.ref[box]))[0])
        if len(first):
            self._box_clicked(int(drawing.diagram.node_box[int(first[0])]))

    def _open_groups_to(self, node_index: int) -> None:
        """Open every group on the way to a node, so it is drawn as itself."""
        drawing = self.drawing
        if drawing is None or not 0 <= node_index < len(drawing.diagram.node_box):
            return
        path = drawing.folding.path_to(node_index)
        wanted = self.wanted_expanded
        if not set(path) <= wanted:
            self.set_expanded(wanted | set(path), focus=-1 - node_index)
        elif self._on_its_way is not None:  # shown by the drawing on its way: centre there
            self._arrival_focus = -1 - node_index

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
        """Show a node: open the groups it is in, then zoom to it (search, Problems)."""
        self._open_groups_to(node_index)
        box = self.box_of_node(node_index)
        if box is not None:
            self.view.zoom_to_box(box)

    def reveal_value(self, name: str) -> None:
        drawn = self.document.current
        if drawn is None:
            return
        edges = drawn.diagram.edges_of_value(name)
        if not edges:  # inside a closed group: open the groups on the way to where it is made
            value = drawn.diagram.graph.values.get(name)
            if value is not None and (value.producer is not None or value.consumers):
                node = value.producer if value.producer is not None else value.consumers[0]
                self._open_groups_to(node)
                drawn = self.document.current
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
        elif kind is BoxKind.GROUP:  # selects the group's box (Right opens it)
            self.session.select(self.doc_id, None)
            self.scene.set_selection(box, None)
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
        if BoxKind(int(diagram.kind[box])) is BoxKind.GROUP:
            self.expand_group(box)
            return
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
        for place in finding_places(doc.findings, diagram.graph):
            f = place.finding
            if place.tensor:
                for e in diagram.edges_of_value(place.tensor):
                    on_edge.setdefault(e, []).append(f)
            for index in place.nodes:
                on_box.setdefault(int(diagram.node_box[index]), []).append(f)
        tallies: dict[int, GroupTally] = {}
        drawing = self.drawing
        if drawing is not None:  # a collapsed group's badge: its worst finding, counted
            found = drawing.folding.tallies(doc.findings)
            for b in self.scene.group_box_ids().tolist():
                on_box.pop(b, None)  # a group says its tally, not its members' findings
                tally = found.get(int(diagram.ref[b]))
                if tally is not None:
                    tallies[b] = tally
        self.scene.set_findings(on_box, on_edge, tallies)
        placement = doc.placement
        self.scene.set_placement(placement and placement.providers_of(here), main_graph=not here)

    def _findings_changed(self, doc_id: int) -> None:
        if doc_id == self.doc_id:
            self.apply_findings()

    def _graph_changed(self, doc_id: int) -> None:
        if doc_id != self.doc_id:
            return
        before, self._shown_path = self._shown_path, self.document.graph_path
        self.rebuild()
        # Back up by the breadcrumb: show the If/Loop/Scan node the subgraph belongs to, opening
        # the groups it is in (a function body's path names no node here: nothing to show).
        here = self._shown_path
        if len(before) > len(here) and before[: len(here)] == here:
            index = self.document.graph.node_by_label(before[len(here)])
            if index is not None:
                self.reveal_node(index)

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
