"""The deployment matrix view: the rows of ``check MODEL --matrix`` for the model in the current
tab, one per op signature, a column per execution provider, cells coloured by status and the
notes as tooltips.

The matrix is the core's (:func:`inspector.core.providers.matrix.deployment_matrix`), computed
on the window's task runner; this module only shows its ``to_dict()`` rows.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from inspector.core.checks import RuntimeTarget
from inspector.core.providers.placement import short_name
from inspector.ui.session import Document
from inspector.ui.tasks import TaskRunner

_Index = QModelIndex | QPersistentModelIndex

KEY_COLUMNS = ("domain", "op_type", "since_version", "types", "count")
_HEADERS = {"domain": "domain", "op_type": "op", "since_version": "since", "types": "types"}
# Translucent, so the cells read on the light and the dark theme alike.
STATUS_COLORS = {
    "yes": QColor(46, 160, 67, 70),
    "restricted": QColor(210, 170, 0, 90),
    "fallback": QColor(239, 108, 0, 100),
    "no": QColor(211, 47, 47, 110),
    "unknown": QColor(128, 128, 128, 60),
}


class MatrixModel(QAbstractTableModel):
    """The matrix's rows (``to_dict()["ops"]``): the row key and count, then one status column
    per provider; a status cell's tooltip is that provider's note."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.providers: list[str] = []
        self.ops: list[dict] = []

    def set_matrix(self, matrix: dict) -> None:
        self.beginResetModel()
        self.providers = list(matrix["providers"])
        self.ops = list(matrix["ops"])
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.ops)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(KEY_COLUMNS) + len(self.providers)

    def provider_at(self, column: int) -> str | None:
        i = column - len(KEY_COLUMNS)
        return self.providers[i] if i >= 0 else None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation != Qt.Orientation.Horizontal:
            return None
        provider = self.provider_at(section)
        if role == Qt.ItemDataRole.DisplayRole:
            if provider is None:
                return _HEADERS.get(KEY_COLUMNS[section], KEY_COLUMNS[section])
            return short_name(provider)
        if role == Qt.ItemDataRole.ToolTipRole and provider is not None:
            return provider
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = self.ops[index.row()]
        provider = self.provider_at(index.column())
        if provider is None:
            if role == Qt.ItemDataRole.DisplayRole:
                value = row[KEY_COLUMNS[index.column()]]
                return "" if value is None else value
            if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (2, 4):  # numbers
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.ToolTipRole and index.column() == 3:
                return row["types"]  # often wider than its column
            return None
        status = row["support"][provider]
        if role == Qt.ItemDataRole.DisplayRole:
            return status
        if role == Qt.ItemDataRole.ToolTipRole:
            return row["notes"].get(provider) or None
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(STATUS_COLORS[status])
        return None


class MatrixDialog(QDialog):
    """The deployment matrix of one open model, for every provider the Inspector knows (with the
    toolbar target's provider options)."""

    matrix_shown = Signal()  # the rows are on screen

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Deployment Matrix")
        self.resize(1200, 600)
        self.runner = runner
        self.model = MatrixModel(self)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)

    def show_document(self, document: Document | None, target: RuntimeTarget) -> None:
        """Compute and show the matrix of ``document``'s model (off the GUI thread)."""
        from inspector.core.providers.matrix import deployment_matrix
        from inspector.core.providers.placement_target import parse_options

        self.model.set_matrix({"providers": [], "ops": []})
        if document is None:
            self.runner.cancel("deployment-matrix")
            self.summary.setText("Open a model to see which execution providers run its ops.")
            return
        name = document.path.name
        self.summary.setText(f"Judging every op of {name} for each execution provider…")
        model = document.model
        try:
            options = parse_options(target.options)
        except ValueError:  # the picker only makes KEY=VALUE pairs; a hand-edited setting may not
            options = {}
        self.runner.submit(
            "deployment-matrix",
            lambda _p, cancel: deployment_matrix(model, options=options, cancel=cancel).to_dict(),
            lambda matrix: self._show(name, matrix),
            what=f"making the deployment matrix of {name}",
        )

    def _show(self, name: str, matrix: dict) -> None:
        self.model.set_matrix(matrix)
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(3, min(self.table.columnWidth(3), 320))
        nodes = sum(op["count"] for op in matrix["ops"])
        self.summary.setText(
            f"{name}: {len(matrix['ops'])} op signatures, {nodes} nodes. yes: a kernel or the "
            "documented support list takes it; restricted: with the restriction in the tooltip; "
            "fallback: ONNX Runtime assigns it to the next provider; no: not even the CPU runs "
            "it; unknown: no data for that provider."
        )
        self.matrix_shown.emit()
