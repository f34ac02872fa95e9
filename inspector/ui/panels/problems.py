"""The Problems panel: every finding of every check, sortable, filterable, click to jump.

It shows the findings of the session's document chosen with :meth:`ProblemsPanel.set_document`
and redraws when the session says that document's findings changed."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.findings import Finding, Severity
from inspector.ui.panels.follows import FollowsDocument
from inspector.ui.session import Session
from inspector.ui.theme import severity_colour

_Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("severity", "code", "where", "op", "tensor", "message")


def where_text(f: Finding) -> str:
    """``loop_3 › body › add_7`` or ``Add #12`` when the node has no name; "model" otherwise."""
    if f.node_index is None and not f.node:
        return " › ".join((*f.path, "model")) if f.path else "model"
    node = f.node or f"{f.op_type or 'node'} #{f.node_index}"
    return " › ".join((*f.path, node))


class FindingsModel(QAbstractTableModel):
    """The findings of one document, as table rows (row i is ``findings[i]``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.findings: list[Finding] = []

    def set_findings(self, findings: Sequence[Finding]) -> None:
        self.beginResetModel()
        self.findings = list(findings)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.findings)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        f = self.findings[index.row()]
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                "severity": Severity(f.severity).value,
                "code": f.code,
                "where": where_text(f),
                "op": f.op_type,
                "tensor": f.tensor or "",
                "message": f.message,
            }[col]
        if role == Qt.ItemDataRole.UserRole:  # sort key: errors first, then graph order
            if col == "severity":
                return (Severity(f.severity).rank, f.node_index or -1)
            if col == "where":
                return (f.path, f.node_index if f.node_index is not None else -1)
            return self.data(index, Qt.ItemDataRole.DisplayRole)
        if role == Qt.ItemDataRole.ForegroundRole and col == "severity":
            return QBrush(QColor(severity_colour(f.severity)))  # the theme's, read as drawn
        if role == Qt.ItemDataRole.ToolTipRole:
            hint = f"\n\nWhat to do: {f.hint}" if f.hint else ""
            return f"[{f.code}] {f.message}{hint}"
        return None


class _SortProxy(QSortFilterProxyModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(Qt.ItemDataRole.UserRole)
        self.shown: set[Severity] = set(Severity)

    def filterAcceptsRow(self, row: int, parent: _Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, FindingsModel)
        return Severity(model.findings[row].severity) in self.shown

    def lessThan(self, left: _Index, right: _Index) -> bool:
        a = left.data(Qt.ItemDataRole.UserRole)
        b = right.data(Qt.ItemDataRole.UserRole)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


class ProblemsPanel(QWidget, FollowsDocument):
    """A sortable table of a document's findings; activating a row emits the finding's position
    in the document's ``findings``."""

    finding_activated = Signal(int)  # index into the list shown (the document's ``findings``)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.doc_id: int | None = None
        self.model = FindingsModel(self)
        self.proxy = _SortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((64, 150, 200, 110, 160)):
            self.table.setColumnWidth(col, width)
        self.table.activated.connect(self._activated)
        self.table.clicked.connect(self._activated)

        self.summary = QLabel(self)
        self.filters: dict[Severity, QToolButton] = {}
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        for sev in Severity:
            b = QToolButton(self)
            b.setCheckable(True)
            b.setChecked(True)
            b.setToolTip(f"Show {sev.value} findings")
            b.toggled.connect(lambda on, s=sev: self._filter(s, on))
            self.filters[sev] = b
            bar.addWidget(b)
        bar.addStretch(1)
        bar.addWidget(self.summary)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addWidget(self.table, 1)
        session.findings_changed.connect(self._document_changed)
        session.document_closed.connect(self._document_closed)
        self.set_document(None)

    def set_document(self, doc_id: int | None) -> None:
        """Show document ``doc_id``'s findings and where its check stands; None: nothing."""
        self.doc_id = doc_id
        doc = self.session.documents.get(doc_id) if doc_id is not None else None
        if doc is None:
            self._set_findings([], "")
            return
        target = self.session.target
        # the whole order, as ONNX Runtime takes it: "CUDA → CPU", "TensorRT → CUDA → CPU"
        where = " → ".join(p.removesuffix("ExecutionProvider") for p in target.order)
        if target.order[-1] != "CPUExecutionProvider":  # ONNX Runtime appends the CPU itself
            where += " → CPU"
        if target.opset is not None:
            where += f", opset {target.opset}"
        status = f"checked for {where}" if doc.checked else f"checking for {where}…"
        self._set_findings(doc.findings, status)

    def _set_findings(self, findings: Sequence[Finding], status: str = "") -> None:
        """Show ``findings``; ``status`` says what is going on ("checking…", a target name)."""
        self.model.set_findings(findings)
        counts = {s: 0 for s in Severity}
        for f in findings:
            counts[Severity(f.severity)] += 1
        for sev, b in self.filters.items():
            b.setText(f"{counts[sev]} {sev.value}{'s' if counts[sev] != 1 else ''}")
        self.summary.setText(status)

    def row_count(self) -> int:
        """Rows shown now (after the severity filters)."""
        return self.proxy.rowCount()

    def shown_findings(self) -> list[Finding]:
        """The findings in the order the table shows them."""
        return [
            self.model.findings[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]
            for r in range(self.proxy.rowCount())
        ]

    def _filter(self, severity: Severity, on: bool) -> None:
        if on:
            self.proxy.shown.add(severity)
        else:
            self.proxy.shown.discard(severity)
        self.proxy.invalidateFilter()

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.finding_activated.emit(self.proxy.mapToSource(index).row())
