"""The search panel: find nodes (by name or op type) and tensors (by name) in the graph shown.

Typing filters live (debounced on big graphs) over a lowercase index built once per graph, the
first time it is searched. Results live in a list model capped at ``MAX_RESULTS`` rows, so a
100k-node graph stays fast; all matching node indices still go out in ``matches_changed`` for the
graph view to highlight. Enter (or activating a row) emits ``result_activated``. It searches the
graph shown in the session's document chosen with :meth:`SearchPanel.set_document`, and follows
the session when that document shows another graph.

Known limitation: matching is a plain case-insensitive substring test (no wildcards, no fuzzy).
"""

from __future__ import annotations

import bisect

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QListView, QVBoxLayout, QWidget

from inspector.core.graph import Graph, Model
from inspector.ui.panels.follows import FollowsDocument
from inspector.ui.session import Session

MAX_RESULTS = 1000
DEBOUNCE_MS = 150  # for graphs with more than SMALL_INDEX nodes + tensors
SMALL_INDEX = 20_000  # nodes + tensors: smaller graphs are searched at every keystroke

_Index = QModelIndex | QPersistentModelIndex


class _SearchIndex:
    """One graph's nodes, then its tensors, as entries 0..n-1 with a lowercase key each.

    Keys are plain strings in one list so a query is one fast comprehension; labels and
    tooltips are made only for the rows shown.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._node_count = len(graph.nodes)
        self._value_names = [name for name in graph.values if name]
        node_names = [n.name.lower() for n in graph.nodes]
        value_names = [name.lower() for name in self._value_names]
        # "name\nop_type" for nodes: the query matches either; "\n" cannot be typed in the box.
        self._keys = [
            f"{name}\n{n.op_type.lower()}" for name, n in zip(node_names, graph.nodes, strict=True)
        ]
        self._keys += value_names
        self._names = node_names + value_names  # for exact matches

    def find(self, query: str) -> tuple[list[int], list[int]]:
        """Entries whose key contains ``query`` (lowercase), exact names first, then in order;
        and the indices of the matching nodes."""
        hits = [i for i, key in enumerate(self._keys) if query in key]
        nodes = hits[: bisect.bisect_left(hits, self._node_count)]  # entry i < n is node i
        exact = next((i for i in hits if self._names[i] == query), None)
        if exact is not None:
            hits.remove(exact)
            hits.insert(0, exact)
        return hits, nodes

    def is_node(self, entry: int) -> bool:
        return entry < self._node_count

    def target(self, entry: int) -> tuple[str, int | str]:
        """("node", node index) or ("value", tensor name)."""
        if self.is_node(entry):
            return "node", entry
        return "value", self._value_names[entry - self._node_count]

    def label(self, entry: int) -> str:
        if self.is_node(entry):
            n = self.graph.nodes[entry]
            return f"{n.label}  ·  {n.op_type}"
        return self._value_names[entry - self._node_count]

    def tooltip(self, entry: int) -> str:
        if self.is_node(entry):
            n = self.graph.nodes[entry]
            return f"node #{n.index}: {n.op_type} ({n.domain or 'ai.onnx'})"
        t = self.graph.values[self._value_names[entry - self._node_count]].type
        return f"tensor: {t}" if t is not None else "tensor: type unknown"


class _ResultsModel(QAbstractListModel):
    """The shown results: entries of a :class:`_SearchIndex`; ``Qt.UserRole`` is (kind, id)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._index: _SearchIndex | None = None
        self._rows: list[int] = []

    def set_rows(self, index: _SearchIndex | None, rows: list[int]) -> None:
        self.beginResetModel()
        self._index = index
        self._rows = rows
        self.endResetModel()

    def target(self, row: int) -> tuple[str, int | str] | None:
        if self._index is None or not 0 <= row < len(self._rows):
            return None
        return self._index.target(self._rows[row])

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if self._index is None or not 0 <= index.row() < len(self._rows):
            return None
        entry = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._index.label(entry)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._index.tooltip(entry)
        if role == Qt.ItemDataRole.UserRole:
            return self._index.target(entry)
        return None


class SearchPanel(QWidget, FollowsDocument):
    """A search box over one graph's nodes and tensors, with the results below it."""

    result_activated = Signal(str, object)  # kind ("node" | "value"), node index or tensor name
    matches_changed = Signal(list)  # list[int]: indices of every matching node (empty: none)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.doc_id: int | None = None
        self._edit = QLineEdit(self)
        self._edit.setPlaceholderText("Search nodes, op types, tensors")
        self._edit.setClearButtonEnabled(True)
        self._edit.setToolTip(
            "Case-insensitive: node names, op types and tensor names containing the text.\n"
            "Enter goes to the selected (or first) result; ↑/↓ move through them."
        )
        self._edit.installEventFilter(self)
        self._results = _ResultsModel(self)
        self._list = QListView(self)
        self._list.setModel(self._results)
        self._list.setUniformItemSizes(True)  # lets the view skip measuring every row
        self._list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        # A click goes to the result; so does Enter or a double click (activated). Going twice
        # to the same place is harmless, so both are connected.
        self._list.clicked.connect(self._activate)
        self._list.activated.connect(self._activate)
        self._status = QLabel(self)
        self._status.setEnabled(False)  # drawn muted
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self._edit)
        layout.addWidget(self._list, 1)
        layout.addWidget(self._status)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._search)
        self._edit.textChanged.connect(self._schedule)
        self._edit.returnPressed.connect(self._on_return)
        self._graph: Graph | None = None
        self._index: _SearchIndex | None = None  # built on the first search of a graph
        self._update_status(0, 0)
        session.graph_changed.connect(self._document_changed)
        session.document_closed.connect(self._document_closed)

    # ------------------------------------------------------------------------------ public API

    def set_document(self, doc_id: int | None) -> None:
        """Search the graph document ``doc_id`` shows; None: nothing to search. Keeps the query."""
        self.doc_id = doc_id
        doc = self.session.documents.get(doc_id) if doc_id is not None else None
        self.set_graph(doc.model if doc else None, doc.graph if doc else None)

    def set_graph(self, model: Model | None, graph: Graph | None) -> None:
        """Search ``graph`` (of ``model``) from now on; None: nothing to search. Keeps the query.

        Calling it again with the graph already searched does nothing, so the user's place in the
        results survives a document redrawn without a change of graph.
        """
        del model  # the graph holds all that is searched; the model is taken for symmetry
        if graph is self._graph:
            return
        self._timer.stop()
        self._graph = graph
        self._index = None
        self._search()

    def clear(self) -> None:
        """No graph, no query."""
        self._edit.blockSignals(True)
        self._edit.clear()
        self._edit.blockSignals(False)
        self.set_graph(None, None)

    def focus_search(self) -> None:
        """Put the cursor in the search box with its text selected (for Ctrl+F)."""
        self._edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self._edit.selectAll()

    def set_query(self, text: str) -> None:
        """Search for ``text`` now (as if typed, without waiting for the debounce)."""
        self._edit.setText(text)
        self._search()

    # ------------------------------------------------------------------------------ searching

    def _schedule(self) -> None:
        big = (
            self._graph is not None
            and len(self._graph.nodes) + len(self._graph.values) > SMALL_INDEX
        )
        self._timer.start(DEBOUNCE_MS if big else 0)

    def _search(self) -> None:
        self._timer.stop()
        query = self._edit.text().strip().lower()
        if not query or self._graph is None:
            self._show([], 0, [])
            return
        if self._index is None:
            self._index = _SearchIndex(self._graph)
        hits, nodes = self._index.find(query)
        self._show(hits[:MAX_RESULTS], len(hits), nodes)

    def _show(self, rows: list[int], total: int, nodes: list[int]) -> None:
        self._results.set_rows(self._index, rows)
        if rows:
            self._list.setCurrentIndex(self._results.index(0, 0))
        self._update_status(len(rows), total)
        self.matches_changed.emit(nodes)

    def _update_status(self, shown: int, total: int) -> None:
        if not self._edit.text().strip():
            text = "" if self._graph is not None else "No graph to search."
        elif total == 0:
            text = "No match."
        elif shown < total:
            text = f"{shown:,} of {total:,} shown, {total - shown:,} more: refine the search."
        else:
            text = f"{total:,} result{'s' if total != 1 else ''}."
        self._status.setText(text)
        self._status.setVisible(bool(text))

    # ------------------------------------------------------------------------------ activation

    def _on_return(self) -> None:
        if self._timer.isActive():  # Enter before the debounce fired: search now
            self._search()
        index = self._list.currentIndex()
        if not index.isValid() and self._results.rowCount():
            index = self._results.index(0, 0)
        if index.isValid():
            self._activate(index)

    def _activate(self, index: _Index) -> None:
        target = self._results.target(index.row())
        if target is not None:
            self.result_activated.emit(*target)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """↑/↓ in the search box move through the results; Escape clears the box."""
        if watched is self._edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self._results.rowCount():
                step = 1 if key == Qt.Key.Key_Down else -1
                row = max(
                    0, min(self._results.rowCount() - 1, self._list.currentIndex().row() + step)
                )
                self._list.setCurrentIndex(self._results.index(row, 0))
                return True
            if key == Qt.Key.Key_Escape and self._edit.text():
                self._edit.clear()
                return True
        return super().eventFilter(watched, event)
