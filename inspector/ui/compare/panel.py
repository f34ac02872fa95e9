"""The compare tab's side panel: every difference in a list, and what changed on the selection."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from inspector.core.diagram import BoxKind
from inspector.ui.compare.comparison import (
    ADDED,
    CHANGED,
    REMOVED,
    STATE_NAMES,
    Comparison,
    Comparisons,
    Side,
)


def box_name(side: Side, box: int) -> str:
    """``Conv 'conv1'`` for a node, ``input 'x'`` / ``output 'y'`` for the graph's ends."""
    d = side.diagram
    kind, ref = BoxKind(int(d.kind[box])), int(d.ref[box])
    if kind is BoxKind.INPUT:
        return f"input '{d.graph.inputs[ref]}'"
    if kind is BoxKind.OUTPUT:
        return f"output '{d.graph.outputs[ref]}'"
    node = d.graph.nodes[ref]
    return f"{node.op_type} '{node.label}' (#{node.index})"


class ChangesPanel(QWidget):
    """Lists the differences (a click selects and shows one) and details the selection."""

    #: side ("a"/"b") and box: the user picked a difference in the list
    box_requested = Signal(str, int)

    def __init__(self, comparisons: Comparisons, comp_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.comparisons = comparisons
        self.comp_id = comp_id
        self.heading = QLabel("Differences", self)
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)  # long lists stay quick to lay out
        # rows are elided to the panel's width; the tooltip has the whole line
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setMinimumWidth(260)
        self.details = QTextBrowser(self)
        self.details.setOpenLinks(False)
        split = QSplitter(self)
        split.setOrientation(split.orientation().Vertical)
        split.addWidget(self.list)
        split.addWidget(self.details)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.heading)
        lay.addWidget(split, 1)
        self._rows: list[tuple[str, int] | None] = []  # per row: the box it names, if any
        self.list.currentRowChanged.connect(self._row_chosen)
        comparisons.diffed.connect(self._diffed)
        comparisons.numeric_changed.connect(self._diffed)
        comparisons.selection_changed.connect(self._selection_changed)
        self._diffed(comp_id)
        self._selection_changed(comp_id)

    @property
    def comparison(self) -> Comparison:
        return self.comparisons.comparisons[self.comp_id]

    def _diffed(self, comp_id: int) -> None:
        if comp_id != self.comp_id or comp_id not in self.comparisons.comparisons:
            return
        comp = self.comparison
        rows: list[tuple[str, int] | None] = [None] * len(comp.model_lines)
        texts = [f"model: {line}" for line in comp.model_lines]
        if comp.a.state is not None and comp.b.state is not None:
            for which, side, states in (("a", comp.a, (REMOVED, CHANGED)), ("b", comp.b, (ADDED,))):
                for box, state in enumerate(side.state.tolist()):
                    if state in states:
                        rows.append((which, box))
                        first = side.changes.get(box, [""])[0]
                        texts.append(
                            f"{STATE_NAMES[state]}: {box_name(side, box)}"
                            + (f" — {first}" if first else "")
                        )
        for f in comp.numeric.findings if comp.numeric is not None else ():
            if f.node_index is not None:
                rows.append(("a", int(comp.a.diagram.node_box[f.node_index])))
            elif f.other_node_index is not None:
                rows.append(("b", int(comp.b.diagram.node_box[f.other_node_index])))
            else:
                rows.append(None)
            texts.append(f"run: {f.message}")
        self._rows = rows
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems(texts)
        for i, text in enumerate(texts):
            self.list.item(i).setToolTip(text)
        self.list.blockSignals(False)
        if comp.diffing:
            self.heading.setText("Differences: comparing…")
        else:
            self.heading.setText(f"Differences: {len(rows):,}")

    def _row_chosen(self, row: int) -> None:
        if 0 <= row < len(self._rows) and self._rows[row] is not None:
            self.box_requested.emit(*self._rows[row])

    def _selection_changed(self, comp_id: int) -> None:
        if comp_id != self.comp_id or comp_id not in self.comparisons.comparisons:
            return
        comp = self.comparison
        box_a, box_b = comp.selected
        if box_a is None and box_b is None:
            self.details.setHtml(
                "<p>Select a node on either side to see what changed on it; its match on the "
                "other side is selected with it.</p>"
            )
            return
        parts: list[str] = []
        which, box = ("a", box_a) if box_a is not None else ("b", box_b)
        side = comp.side(which)
        state = int(side.state[box]) if side.state is not None else None
        if state is not None:
            parts.append(
                f"<p><b>{html.escape(STATE_NAMES[state].capitalize(), quote=False)}</b></p>"
            )
        for label, s, b in (("A", comp.a, box_a), ("B", comp.b, box_b)):
            if b is None:
                parts.append(f"<p><b>{label}</b>: no match</p>")
                continue
            lines = "<br>".join(html.escape(x, quote=False) for x in s.diagram.lines[b][1:])
            parts.append(
                f"<p><b>{label}</b>: {html.escape(box_name(s, b), quote=False)}<br>"
                f"<span style='font-size:small'>{lines}</span></p>"
            )
        changes = side.changes.get(box, [])
        if changes:
            items = "".join(f"<li>{html.escape(x, quote=False)}</li>" for x in changes)
            parts.append(f"<p><b>What changed</b></p><ul>{items}</ul>")
        self.details.setHtml("".join(parts))
