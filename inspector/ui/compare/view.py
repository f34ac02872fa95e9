"""A compare tab: model A and model B side by side, panned, zoomed and selected together, with
the differences listed beside them.

Synchronised pan: the two drawings differ, so the same scene point would not show the same part
of both. The view that moved names the matched box nearest its centre (an anchor), and the other
view is centred on that box's match, offset as the first view is from its anchor; where the
models agree, both show the same place. Zoom is copied as it is. Selecting a box selects its
match, and the other view scrolls so the match sits where the selected box does.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from inspector.scene.palette import palette_for
from inspector.ui.compare.comparison import (
    ADDED,
    CHANGED,
    REMOVED,
    Comparison,
    Comparisons,
)
from inspector.ui.compare.panel import ChangesPanel, box_name
from inspector.ui.compare.scene import DiffScene, state_color
from inspector.ui.graph_view.view import GraphView
from inspector.ui.theme import is_dark


class _Pane(QWidget):
    """One side: a title naming the file over its graph view."""

    def __init__(self, label: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.title = QLabel(self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setContentsMargins(6, 3, 6, 3)
        self.label = label
        self.view = GraphView(self)
        # Half a window wide, a minimap would cover a third of the pane; the differences list
        # is the overview here (View > Show Minimap still turns it on in every view).
        self.view.minimap.set_wanted(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.title)
        lay.addWidget(self.view, 1)


class CompareView(QWidget):
    """The tab of one comparison; all state is the :class:`Comparisons` owner's."""

    #: Both scenes were (re)built: after opening and after a theme change.
    scenes_replaced = Signal()

    def __init__(self, comparisons: Comparisons, comp_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.comparisons = comparisons
        self.comp_id = comp_id
        self._syncing = False
        # side → the boxes that have a match, for the diff they were computed from
        self._anchors_of: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.summary = QLabel(self)
        self.summary.setContentsMargins(8, 4, 8, 4)
        self.summary.setWordWrap(True)
        self.run_button = QPushButton("Compare Outputs", self)
        self.run_button.setToolTip(
            "Run both models on the same random inputs (in a child process), compare every "
            "output and matched intermediate, and show the first node where they part"
        )
        self.run_button.clicked.connect(lambda: comparisons.compare_outputs(comp_id))
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 8, 0)
        header.addWidget(self.summary, 1)
        header.addWidget(self.run_button)
        self.pane_a = _Pane("A", self)
        self.pane_b = _Pane("B", self)
        self.view_a, self.view_b = self.pane_a.view, self.pane_b.view
        self.panel = ChangesPanel(comparisons, comp_id, self)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        for w in (self.pane_a, self.pane_b, self.panel):
            split.addWidget(w)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 1)
        split.setSizes([560, 560, 300])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(header)
        lay.addWidget(split, 1)
        self.scene_a: DiffScene | None = None
        self.scene_b: DiffScene | None = None

        for which, src, dst in (("a", self.view_a, self.view_b), ("b", self.view_b, self.view_a)):
            follow = lambda *_, s=src, d=dst, w=which: self._follow(w, s, d)  # noqa: E731
            src.horizontalScrollBar().valueChanged.connect(follow)
            src.verticalScrollBar().valueChanged.connect(follow)
            src.zoom_changed.connect(follow)
            src.box_clicked.connect(lambda box, w=which: comparisons.select(comp_id, w, box))
            src.background_clicked.connect(lambda: comparisons.select(comp_id, "a", None))
        comparisons.diffed.connect(self._diffed)
        comparisons.selection_changed.connect(self._selection_changed)
        comparisons.numeric_changed.connect(self._numeric_changed)
        self.panel.box_requested.connect(self._reveal)
        self.rebuild()

    @property
    def comparison(self) -> Comparison:
        return self.comparisons.comparisons[self.comp_id]

    # --------------------------------------------------------------------------------- drawing

    def rebuild(self) -> None:
        """Make both scenes (after opening, and after a theme change)."""
        comp = self.comparison
        palette = palette_for(is_dark())
        self.scene_a = DiffScene(comp.a.diagram, comp.a.drawn.layout, palette)
        self.scene_b = DiffScene(comp.b.diagram, comp.b.drawn.layout, palette)
        for pane, side in ((self.pane_a, comp.a), (self.pane_b, comp.b)):
            pane.title.setText(f"<b>{pane.label}</b>  {html.escape(side.path.name, quote=False)}")
            pane.title.setToolTip(str(side.path))
        self._syncing = True
        try:
            self.view_a.setScene(self.scene_a)
            self.view_b.setScene(self.scene_b)
            self.view_a.start_view()
            self.view_b.start_view()
        finally:
            self._syncing = False
        self._apply_diff()
        self._selection_changed(self.comp_id)
        self._show_divergence()
        self.scenes_replaced.emit()

    def _apply_diff(self) -> None:
        comp = self.comparison
        for scene, side in ((self.scene_a, comp.a), (self.scene_b, comp.b)):
            # each change re-renders the minimap: skip the ones that change nothing
            if scene is not None and (side.state is not None or scene.state is not None):
                scene.set_diff(side.state, side.changes)
        self.summary.setText(self._summary_html(comp) + self._numeric_html(comp))
        self._follow("a", self.view_a, self.view_b)

    def _summary_html(self, comp: Comparison) -> str:
        head = f"{html.escape(comp.note, quote=False)}<br>" if comp.note else ""
        if comp.diffing:
            return head + "Comparing…"
        if comp.error:
            return head + f"The comparison did not finish: {comp.error}"
        diff = comp.diff
        assert diff is not None
        if diff.same:
            return head + "The two models are the same: no node was added, removed or changed."
        dark = is_dark()

        def swatch(state: int, count: int, text: str) -> str:
            color = state_color(state, dark).name()
            return f"<span style='color:{color}'>■</span> {count:,} {text}"

        parts = [
            swatch(REMOVED, len(diff.removed), "only in A (removed)"),
            swatch(ADDED, len(diff.added), "only in B (added)"),
            swatch(CHANGED, len(diff.changed), "changed"),
            f"{len(diff.pairs) - len(diff.changed):,} the same",
        ]
        if comp.model_lines:
            parts.append(f"{len(comp.model_lines)} in the model as a whole (see the list)")
        return head + " &nbsp; ".join(parts)

    def _numeric_html(self, comp: Comparison) -> str:
        """The output comparison's line: running, failed, or what it found."""
        self.run_button.setEnabled(not comp.numeric_running)
        if comp.numeric_running:
            return "<br>Running both models on the same inputs…"
        if comp.numeric_error:
            return f"<br>The output comparison did not finish: {html.escape(comp.numeric_error, quote=False)}"
        num = comp.numeric
        if num is None:
            return ""
        gaps = [g for g in num.outputs if np.isfinite(g.max_abs)]
        largest = max((g.max_abs for g in gaps), default=0.0)
        tol = f"rtol {num.rtol:g}, atol {num.atol:g}"
        where = ""
        if num.first_divergence is not None:
            node = comp.a.diagram.node_box[num.first_divergence[0]]
            where = html.escape(box_name(comp.a, node), quote=False)
        if num.same:
            text = f"<br>Outputs: the same within {tol} (largest difference {largest:.3g})"
            return text + (f"; an intermediate parts first at {where}." if where else ".")
        bad = [g for g in num.outputs if not g.ok]
        text = f"<br><b>Outputs differ</b>: {len(bad)} of {len(num.outputs)} beyond {tol}"
        if gaps:
            text += f" (largest difference {largest:.3g})"
        if where:
            text += f"; the first node where they part: {where}"
        errors = [
            f for f in num.findings if f.severity == "error" and not f.code.startswith("diff-")
        ]
        if errors:
            text += f"; {html.escape(errors[0].message, quote=False)}"
        return text + "."

    def _numeric_changed(self, comp_id: int) -> None:
        if self._mine(comp_id):
            self._apply_diff()
            self._show_divergence(reveal=True)

    def _show_divergence(self, reveal: bool = False) -> None:
        """Badge the first node where the two models part, on both sides (and show it)."""
        num = self.comparison.numeric
        if self.scene_a is None or self.scene_b is None:
            return
        found = [f for f in (num.findings if num else ()) if f.code == "diff-first-divergence"]
        where = num.first_divergence if num is not None else None
        if where is None or not found:
            for scene in (self.scene_a, self.scene_b):
                if scene.box_overlay:
                    scene.set_box_overlay({})
            return
        # The findings overlay's badge and tooltip, so it reads as a finding does in a tab
        badge = (found[0].severity.value, f"first divergence: {found[0].message}")
        box_a = int(self.comparison.a.diagram.node_box[where[0]])
        box_b = int(self.comparison.b.diagram.node_box[where[1]])
        self.scene_a.set_box_overlay({box_a: badge})
        self.scene_b.set_box_overlay({box_b: badge})
        if reveal:
            self._reveal("a", box_a)

    def _mine(self, comp_id: int) -> bool:
        """Whether a signal is about this tab's comparison, still open (a slot before this one
        may have closed it)."""
        return comp_id == self.comp_id and comp_id in self.comparisons.comparisons

    def _diffed(self, comp_id: int) -> None:
        if self._mine(comp_id):
            self._apply_diff()

    # ------------------------------------------------------------------------- synchronising

    def active_view(self) -> GraphView:
        """The side the user works in (B if it has the focus, else A): menu zooms go there."""
        return self.view_b if self.view_b.hasFocus() else self.view_a

    def _follow(self, which: str, src: GraphView, dst: GraphView) -> None:
        """Bring ``dst`` to the zoom of ``src`` and to the place matching its centre."""
        if self._syncing or src.graph_scene() is None or dst.graph_scene() is None:
            return
        self._syncing = True
        try:
            if abs(dst.zoom - src.zoom) > 1e-9:
                dst.set_zoom(src.zoom)
            centre = src.mapToScene(src.viewport().rect().center())
            dst.centerOn(self._matching_point(which, src, centre))
        finally:
            self._syncing = False

    def _matching_point(self, which: str, src: GraphView, point: QPointF) -> QPointF:
        """The point of the other drawing that corresponds to ``point`` of side ``which``."""
        comp = self.comparison
        match = comp.side(which).match
        src_layout = comp.side(which).drawn.layout
        dst_layout = comp.side("b" if which == "a" else "a").drawn.layout
        if match is None or not (match >= 0).any():
            return point  # not diffed yet: the same scene point
        boxes = self._anchors(which)
        d = (src_layout.x[boxes] - point.x()) ** 2 + (src_layout.y[boxes] - point.y()) ** 2
        k = int(boxes[int(np.argmin(d))])
        m = int(match[k])
        return QPointF(
            float(dst_layout.x[m] + point.x() - src_layout.x[k]),
            float(dst_layout.y[m] + point.y() - src_layout.y[k]),
        )

    def _anchors(self, which: str) -> np.ndarray:
        """The boxes of side ``which`` that have a match (cached per diff)."""
        match = self.comparison.side(which).match
        cached = self._anchors_of.get(which)
        if cached is None or cached[0] is not match:
            cached = self._anchors_of[which] = (match, np.flatnonzero(match >= 0))
        return cached[1]

    def _align(self, which: str, box: int) -> None:
        """Scroll the other view so the match of ``box`` sits where ``box`` does in its view."""
        src, dst = (self.view_a, self.view_b) if which == "a" else (self.view_b, self.view_a)
        comp = self.comparison
        match = comp.side(which).match
        if match is None or match[box] < 0:
            return
        src_layout = comp.side(which).drawn.layout
        dst_layout = comp.side("b" if which == "a" else "a").drawn.layout
        m = int(match[box])
        centre = src.mapToScene(src.viewport().rect().center())
        self._syncing = True
        try:
            dst.centerOn(
                QPointF(
                    float(dst_layout.x[m] + centre.x() - src_layout.x[box]),
                    float(dst_layout.y[m] + centre.y() - src_layout.y[box]),
                )
            )
        finally:
            self._syncing = False

    # ------------------------------------------------------------------------------ selection

    def _selection_changed(self, comp_id: int) -> None:
        if not self._mine(comp_id) or self.scene_a is None or self.scene_b is None:
            return
        box_a, box_b = self.comparison.selected
        for scene, box in ((self.scene_a, box_a), (self.scene_b, box_b)):
            if scene.selected_box != box or scene.selected_edge is not None:
                scene.set_selection(box, None)
        if box_a is not None and box_b is not None:
            # the side the user clicked keeps still; the other follows it
            if self.view_b.hasFocus():
                self._align("b", box_b)
            else:
                self._align("a", box_a)

    def _reveal(self, which: str, box: int) -> None:
        """The panel asked for a box: select it, zoom to it, and bring its match alongside."""
        self.comparisons.select(self.comp_id, which, box)
        view = self.view_a if which == "a" else self.view_b
        view.zoom_to_box(box)  # the other view follows through the sync
        self._align(which, box)
