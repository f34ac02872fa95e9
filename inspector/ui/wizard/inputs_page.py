"""Page 2 of the export wizard: the example inputs and which of their dims stay dynamic.

Either the factory's own example inputs (or those stored in a ``.pt2`` archive) or inputs built
from the table (name, dtype, shape per row). In both cases the table's last column names the
dims that must stay free in the ONNX file, e.g. ``0:batch, 1:seq``; with the factory's inputs
only the name and that column are used (the name is ``forward()``'s parameter name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from inspector.core.export.config import INPUT_DTYPES, DynamicDim, InputSpec
from inspector.core.export.probe import SourceProbe, probe_call
from inspector.ui.wizard.support import FieldMessage, parse_dynamic, parse_shape

if TYPE_CHECKING:
    from inspector.ui.wizard.wizard import ExportWizard

NAME, DTYPE, SHAPE, DYNAMIC = range(4)
HEADERS = ("name", "dtype", "example shape", "dynamic dims (axis:name)")
_BAD_CELL = QColor("#ffcdd2")
PROBE_TASK_KEY = "export-wizard-probe"


class InputsPage(QWizardPage):
    """The example inputs: from the factory, or one table row per input."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Inputs")
        self.setSubTitle(
            "The example inputs the model is traced with, and the dims that must stay dynamic."
        )
        self.use_factory_inputs = QRadioButton("Use the example inputs the factory returns", self)
        self.use_factory_inputs.setToolTip(
            "The factory returns (model, inputs). Only the table's names and dynamic dims are "
            "used; the name of a row is forward()'s parameter name."
        )
        self.use_table = QRadioButton("Build example inputs from this table", self)
        self.use_table.setToolTip(
            "Random example inputs of these dtypes and shapes (seeded, so exports repeat)"
        )
        group = QButtonGroup(self)
        group.addButton(self.use_factory_inputs)
        group.addButton(self.use_table)
        self.use_factory_inputs.setChecked(True)
        # What the source gives (its class, size and example inputs), loaded in a child process
        # each time the page opens; None until that answer comes.
        self.source_info = FieldMessage(self)
        self.probe: SourceProbe | None = None

        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip(
            "Shape: sizes separated by commas (2, 3, 224, 224). Dynamic dims: AXIS:NAME pairs "
            "(0:batch, 1:seq); dims that share a name must be equal at run time."
        )
        self.add_button = QPushButton("Add input", self)
        self.remove_button = QPushButton("Remove input", self)
        self.dynamic_batch = QCheckBox("Dynamic batch: dim 0 of every input is 'batch'", self)
        self.dynamic_batch.setToolTip(
            "Shorthand for 0:batch on every input; a dynamic dim needs an example size of 2 or "
            "more (torch.export fixes sizes 0 and 1)"
        )
        self.table_message = FieldMessage(self)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_info)
        layout.addWidget(self.use_factory_inputs)
        layout.addWidget(self.use_table)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.table_message)
        layout.addWidget(self.dynamic_batch)

        self.use_table.toggled.connect(self._changed)
        self.table.itemChanged.connect(self._changed)
        self.add_button.clicked.connect(lambda: self.add_row(f"input_{self.table.rowCount()}"))
        self.remove_button.clicked.connect(self._remove_selected)
        self.dynamic_batch.toggled.connect(self._changed)

    # -- rows --------------------------------------------------------------------------------

    def add_row(
        self, name: str = "", dtype: str = "float32", shape: str = "", dynamic: str = ""
    ) -> int:
        """Append an input row; returns its index."""
        row = self.table.rowCount()
        self.table.blockSignals(True)  # one validation after the row is whole, not per cell
        self.table.insertRow(row)
        for col, text in ((NAME, name), (SHAPE, shape), (DYNAMIC, dynamic)):
            self.table.setItem(row, col, QTableWidgetItem(text))
        combo = QComboBox(self.table)
        combo.addItems(INPUT_DTYPES)
        combo.setCurrentText(dtype)
        combo.setToolTip("float64 and float16 inputs are flagged: many runtimes trip on them")
        combo.currentIndexChanged.connect(self._changed)
        self.table.setCellWidget(row, DTYPE, combo)
        self.table.blockSignals(False)
        self._changed()
        return row

    def clear_rows(self) -> None:
        self.table.setRowCount(0)
        self._changed()

    def cell_text(self, row: int, col: int) -> str:
        if col == DTYPE:
            return cast(QComboBox, self.table.cellWidget(row, DTYPE)).currentText()
        item = self.table.item(row, col)
        return item.text().strip() if item is not None else ""

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows or [self.table.rowCount() - 1]:
            if row >= 0:
                self.table.removeRow(row)
        self._changed()

    # -- what the wizard reads -------------------------------------------------------------

    def specs(self) -> list[InputSpec]:
        """Input specs for the config (none when the factory's inputs are used)."""
        if not self.use_table.isChecked():
            return []
        return [
            InputSpec(
                self.cell_text(r, NAME),
                self.cell_text(r, DTYPE),
                parse_shape(self.cell_text(r, SHAPE)),
            )
            for r in range(self.table.rowCount())
        ]

    def dynamic_dims(self) -> list[DynamicDim]:
        return [
            DynamicDim(self.cell_text(r, NAME), axis, symbol)
            for r in range(self.table.rowCount())
            for axis, symbol in parse_dynamic(self.cell_text(r, DYNAMIC))
        ]

    def problems(self) -> tuple[dict[tuple[int, int], str], list[str]]:
        """(cell → what blocks Next, page-wide warnings): text that does not parse, then the
        export config's problems and warnings for the inputs and dynamic dims, on their rows."""
        errors: dict[tuple[int, int], str] = {}
        table_mode = self.use_table.isChecked()
        rows: dict[str, list[int]] = {}
        for r in range(self.table.rowCount()):
            rows.setdefault(self.cell_text(r, NAME), []).append(r)
            if table_mode:
                try:
                    parse_shape(self.cell_text(r, SHAPE))
                except ValueError as e:
                    errors[(r, SHAPE)] = f"row {r + 1}: {e}"
            try:
                parse_dynamic(self.cell_text(r, DYNAMIC))
            except ValueError as e:
                errors[(r, DYNAMIC)] = f"row {r + 1}: {e}"
        if table_mode and self.table.rowCount() == 0:
            errors[(-1, NAME)] = "Add a row for each input of forward(), or use the factory's."
        wizard = cast("ExportWizard | None", self.wizard())  # None while the wizard builds
        if wizard is None:
            return errors, []
        config = wizard.build_config()
        for p in config.problem_list():
            col = {"inputs": NAME, "dynamic": DYNAMIC}.get(p.field)
            for r in rows.get(p.input or "", []) if col is not None else []:
                errors.setdefault((r, col), f"row {r + 1}: {p.text}")
        warnings = [
            f"row {r + 1}: {p.text}" for p in config.warnings() for r in rows.get(p.input or "", [])
        ]
        return errors, warnings

    def isComplete(self) -> bool:
        return not self.problems()[0]

    # -- QWizardPage -------------------------------------------------------------------------

    def initializePage(self) -> None:
        kind = cast("ExportWizard", self.wizard()).source_page.source_kind()
        # A TorchScript file carries no example inputs; a .pt2 archive may store its own.
        self.use_factory_inputs.setEnabled(kind != "torchscript")
        self.use_factory_inputs.setText(
            "Use the example inputs stored in the archive"
            if kind == "exported_program"
            else "Use the example inputs the factory returns"
        )
        if kind == "torchscript":
            self.use_table.setChecked(True)
        if self.use_table.isChecked() and self.table.rowCount() == 0:
            self.add_row("x", "float32", "2, 16", "")
        self._changed()
        self._probe(kind)

    def cleanupPage(self) -> None:
        """Back: the source may change, so what it gave no longer holds."""
        cast("ExportWizard", self.wizard()).runner.cancel(PROBE_TASK_KEY)

    def validatePage(self) -> bool:
        """Next: what the source gives is shown only here; a slow source must not keep loading
        beside the export."""
        cast("ExportWizard", self.wizard()).runner.cancel(PROBE_TASK_KEY)
        return super().validatePage()

    # -- what the source gives -----------------------------------------------------------------

    def _probe(self, kind: str) -> None:
        self.probe = None
        if kind == "torchscript":  # a TorchScript file gives no example inputs to show
            self.source_info.clear_message()
            return
        wizard = cast("ExportWizard", self.wizard())
        self.source_info.show_info("Loading the source to see what it gives…")
        wizard.runner.submit_child(
            PROBE_TASK_KEY,
            probe_call(wizard.build_config()),
            self._probed,
            lambda error: self.source_info.show_error(
                f"The source could not be loaded to look at it: {error.exception}"
            ),
            what="loading the model's source",
        )

    def _probed(self, probe: SourceProbe) -> None:
        self.probe = probe
        if not probe.ok:
            self.source_info.show_error(probe.summary())
            return
        self.source_info.show_info(probe.summary())
        if not self.use_factory_inputs.isChecked() or self.table.rowCount():
            return  # the user's own rows stay as they are
        if probe.inputs is None:  # nothing to use: describe them in the table
            self.use_table.setChecked(True)
            self.add_row("x", "float32", "2, 16", "")
            return
        for spec in probe.inputs:  # one row per example input, to name its dynamic dims on
            dtype = spec.dtype if spec.dtype in INPUT_DTYPES else "float32"
            self.add_row(spec.name, dtype, ", ".join(str(d) for d in spec.shape), "")

    # -- internals ---------------------------------------------------------------------------

    def _changed(self) -> None:
        table_mode = self.use_table.isChecked()
        errors, warnings = self.problems()
        self.table.blockSignals(True)  # painting cells must not re-enter validation
        for r in range(self.table.rowCount()):
            self.table.cellWidget(r, DTYPE).setEnabled(table_mode)
            for col in (NAME, SHAPE, DYNAMIC):
                item = self.table.item(r, col)
                if item is None:
                    continue
                flags = item.flags() | Qt.ItemFlag.ItemIsEnabled
                if col == SHAPE and not table_mode:
                    flags &= ~Qt.ItemFlag.ItemIsEnabled  # the factory's inputs set the shape
                item.setFlags(flags)
                bad = errors.get((r, col), "")
                item.setBackground(QBrush(_BAD_CELL) if bad else QBrush())
                item.setToolTip(bad)
        self.table.blockSignals(False)
        if errors:
            self.table_message.show_error("\n".join(errors.values()))
        else:
            self.table_message.show_warning("\n".join(warnings))
        self.completeChanged.emit()
