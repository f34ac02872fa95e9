"""The inference panel's Inputs tab: seed, symbolic dims, a source per input, loaded feeds.

What the user chooses is written straight into the document's
:class:`~inspector.ui.session.InferenceRun`, so a tab switch loses nothing; the feeds themselves
are built by the core's :func:`~inspector.core.inference.inputs.build_feeds` (the CLI's too).

Known limitations: symbolic dims are shared by name across inputs, and a dim with no name (``-1``,
or no value) gets its size by position with no box to change it; feeds for sequence/map/optional
inputs are not supported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.feeds import cast_feed, check_feeds
from inspector.core.findings import Finding, Severity
from inspector.core.inference.inputs import (
    FeedError,
    FeedSpec,
    LoadedFeeds,
    feed_shape,
    input_specs,
    load_feeds,
    symbol_sizes,
)
from inspector.core.tensor_types import format_shape
from inspector.ui.panels.follows import FollowsDocument
from inspector.ui.session import InferenceRun, Session
from inspector.ui.tasks import TaskError
from inspector.ui.theme import severity_colour

SOURCES = ("random", "file", "constant")
INPUT_COLUMNS = ("input", "dtype", "shape", "source", "value")
_VALUE_COL = INPUT_COLUMNS.index("value")
_SOURCE_COL = INPUT_COLUMNS.index("source")
_SHAPE_COL = INPUT_COLUMNS.index("shape")


@dataclass
class FeedPlan:
    """What the user chose for each input, copied off the document so a worker can build feeds
    with :func:`~inspector.core.inference.inputs.build_feeds` (the one the CLI uses too)."""

    seed: int = 0
    dims: dict[str, int] = field(default_factory=dict)
    given: dict[str, np.ndarray] = field(default_factory=dict)  # inputs whose source is "file"
    constants: dict[str, float] = field(default_factory=dict)  # inputs whose source is "constant"


class FeedsTab(QWidget, FollowsDocument):
    """The inputs of the shown document's run, and the problems of the feeds loaded for it."""

    feeds_loaded = Signal(str)  # a load from this path ended (the tab says how)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.doc_id: int | None = None
        self.specs: list[FeedSpec] = []
        self.dim_boxes: dict[str, QSpinBox] = {}
        self.source_boxes: list[QComboBox] = []
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Seed of the random inputs: the same seed gives the same values")
        self.seed.valueChanged.connect(self._seed_changed)
        self.dims_row = QHBoxLayout()
        self.load_button = QToolButton(self)
        self.load_button.setText("Load…")
        self.load_button.setToolTip(
            "Load inputs from .npy, .npz (by input name), an ONNX TensorProto .pb, or a "
            "test_data_set_N folder (which also brings the expected outputs)"
        )
        self.load_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.load_button)
        menu.addAction("File (.npy, .npz, .pb)…", self._ask_load_file)
        menu.addAction("test_data_set folder…", self._ask_load_folder)
        self.load_button.setMenu(menu)
        top = QHBoxLayout()
        top.addWidget(QLabel("Seed", self))
        top.addWidget(self.seed)
        top.addLayout(self.dims_row)
        top.addStretch(1)
        top.addWidget(self.load_button)

        self.inputs = QTableWidget(0, len(INPUT_COLUMNS), self)
        self.inputs.setHorizontalHeaderLabels(INPUT_COLUMNS)
        self.inputs.verticalHeader().hide()
        self.inputs.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.inputs.horizontalHeader().setStretchLastSection(True)
        self.inputs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.inputs.itemChanged.connect(self._constant_edited)

        self.feed_problems = QLabel(self)
        self.feed_problems.setWordWrap(True)
        self.feed_problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cast_button = QPushButton("Cast to float32", self)
        self.cast_button.setToolTip("Cast each loaded array to the dtype its input declares")
        self.cast_button.clicked.connect(self.cast_feeds)
        self.expected_label = QLabel(self)
        self.clear_expected = QToolButton(self)
        self.clear_expected.setText("Forget")
        self.clear_expected.setToolTip("Run without comparing to the expected outputs")
        self.clear_expected.clicked.connect(self._forget_expected)
        expected_row = QHBoxLayout()
        expected_row.addWidget(self.expected_label, 1)
        expected_row.addWidget(self.clear_expected)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.inputs, 1)
        lay.addWidget(self.feed_problems)
        lay.addWidget(self.cast_button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addLayout(expected_row)

    # ----------------------------------------------------------------------------- document

    @property
    def state(self) -> InferenceRun | None:
        doc = self.document
        return doc.run if doc is not None else None

    def set_document(self, doc_id: int | None) -> None:
        """Show the inputs of document ``doc_id`` as its run left them (None: no document)."""
        self.doc_id = doc_id
        doc = self.document
        self.specs = input_specs(doc.model) if doc is not None else []
        state = doc.run if doc is not None else InferenceRun()
        self.seed.blockSignals(True)
        self.seed.setValue(state.seed)
        self.seed.blockSignals(False)
        self._build_dims(state)
        self._build_rows(state)
        self.show_feed_findings(state.feed_findings)
        self._update_expected()
        self.load_button.setEnabled(doc is not None)

    def _build_dims(self, state: InferenceRun) -> None:
        while self.dims_row.count():
            w = self.dims_row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.dim_boxes = {}
        for symbol, size in symbol_sizes(self.specs, state.dims).items():
            box = QSpinBox(self)
            box.setRange(0, 1 << 20)  # 0 is a legal size: an empty tensor
            box.setValue(size)
            box.setToolTip(f"Size of the symbolic dim '{symbol}' in every input that has it")
            box.valueChanged.connect(lambda value, s=symbol: self._dim_changed(s, value))
            self.dim_boxes[symbol] = box
            self.dims_row.addWidget(QLabel(symbol, self))
            self.dims_row.addWidget(box)

    def _build_rows(self, state: InferenceRun) -> None:
        self.inputs.blockSignals(True)
        self.inputs.setRowCount(len(self.specs))
        self.source_boxes = []
        for row, spec in enumerate(self.specs):
            for col, text in ((0, spec.name), (1, spec.dtype)):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.inputs.setItem(row, col, item)
            combo = QComboBox(self.inputs)
            combo.addItems(SOURCES)
            combo.setCurrentText(state.sources.get(spec.name, "random"))
            combo.setToolTip("Where this input's values come from")
            combo.currentTextChanged.connect(
                lambda source, name=spec.name: self._source_changed(name, source)
            )
            self.inputs.setCellWidget(row, _SOURCE_COL, combo)
            self.source_boxes.append(combo)
            for col in (_SHAPE_COL, _VALUE_COL):
                self.inputs.setItem(row, col, QTableWidgetItem())
        self.inputs.blockSignals(False)
        self._refresh_rows()

    def _refresh_rows(self) -> None:
        """Re-derive the shape and value cells from the sources, dims and seed."""
        state = self.state or InferenceRun()
        self.inputs.blockSignals(True)
        sizes = symbol_sizes(self.specs, self._dims())
        for row, spec in enumerate(self.specs):
            combo = self.source_boxes[row]
            has_file = spec.name in state.loaded
            combo.model().item(SOURCES.index("file")).setEnabled(has_file)  # type: ignore[attr-defined]
            source = combo.currentText()
            shape_item = self.inputs.item(row, _SHAPE_COL)
            value_item = self.inputs.item(row, _VALUE_COL)
            if source == "file" and has_file:
                arr = state.loaded[spec.name]
                shape_text = f"{format_shape(spec.shape)} → {list(arr.shape)}"
                value_text = f"{state.loaded_from[spec.name]} ({arr.dtype})"
                tip = f"Loaded from {state.loaded_from[spec.name]}"
            else:
                shape_text = f"{format_shape(spec.shape)} → {list(feed_shape(spec, sizes))}"
                if source == "constant":
                    value_text = state.constants.get(spec.name, "0")
                    tip = "Every element gets this value (edit it)"
                else:
                    value_text = f"seed {self.seed.value()}: {spec.reason}"
                    tip = f"Random values: {spec.reason}"
            shape_item.setText(shape_text)
            shape_item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            shape_item.setToolTip(
                "Declared shape → the shape fed (symbolic dims set above; a dim with no size "
                "is 1 in dim 0, else 16, or 224 for an image's height and width)"
            )
            value_item.setText(value_text)
            value_item.setToolTip(tip)
            editable = Qt.ItemFlag.ItemIsEditable if source == "constant" else Qt.ItemFlag(0)
            value_item.setFlags(Qt.ItemFlag.ItemIsEnabled | editable)
        self.inputs.blockSignals(False)
        self.inputs.resizeColumnsToContents()

    # The user's choices go to the document's run as they are made.

    def _seed_changed(self, seed: int) -> None:
        if self.state is not None:
            self.state.seed = seed
        self._refresh_rows()

    def _dim_changed(self, symbol: str, size: int) -> None:
        if self.state is not None:
            self.state.dims[symbol] = size
        self._refresh_rows()

    def _source_changed(self, input_name: str, source: str) -> None:
        if self.state is not None:
            self.state.sources[input_name] = source
        self._refresh_rows()

    def _constant_edited(self, item: QTableWidgetItem) -> None:
        if item.column() != _VALUE_COL:
            return
        if not _is_number(item.text()):
            self.inputs.blockSignals(True)
            item.setText("0")  # a constant must be a number; the tooltip says so
            self.inputs.blockSignals(False)
        if self.state is not None:
            self.state.constants[self.specs[item.row()].name] = item.text()

    def _dims(self) -> dict[str, int]:
        return {name: box.value() for name, box in self.dim_boxes.items()}

    def set_source(self, input_name: str, source: str) -> None:
        """Choose ``source`` (one of :data:`SOURCES`) for one input (the source column)."""
        row = [s.name for s in self.specs].index(input_name)
        self.source_boxes[row].setCurrentText(source)

    def feed_plan(self) -> FeedPlan:
        """The user's choices now, for :func:`build_feeds`."""
        state = self.state or InferenceRun()
        given, constants = {}, {}
        for row, spec in enumerate(self.specs):
            source = self.source_boxes[row].currentText()
            if source == "file" and spec.name in state.loaded:
                given[spec.name] = state.loaded[spec.name]
            elif source == "constant":
                constants[spec.name] = float(state.constants.get(spec.name, "0"))
        return FeedPlan(self.seed.value(), self._dims(), given, constants)

    # -------------------------------------------------------------------------------- feeds

    def _ask_load_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load inputs", "", "Arrays (*.npy *.npz *.pb);;All files (*)"
        )
        if path:
            self.load_feeds_from(path)

    def _ask_load_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Load a test_data_set folder")
        if path:
            self.load_feeds_from(path)

    def load_feeds_from(self, path: str | os.PathLike[str]) -> None:
        """Read feeds (and expected outputs) from ``path`` off the GUI thread; the matching
        inputs switch to "file". ``feeds_loaded`` is emitted when done, failed or not."""
        doc = self.document
        if doc is None:
            return
        doc_id, model, where = doc.doc_id, doc.model, str(path)
        self.feed_problems.setText(f"Loading {Path(where).name}…")
        self.session.run_io(
            doc_id,
            lambda _p, _c: load_feeds(model, where),
            lambda loaded: self._feeds_loaded(doc_id, where, loaded),
            lambda error: self._load_failed(doc_id, where, error),
        )

    def _feeds_loaded(self, doc_id: int, path: str, loaded: LoadedFeeds) -> None:
        doc = self.session.documents.get(doc_id)
        if doc is None:
            return
        name = Path(path).name
        for input_name, arr in loaded.feeds.items():
            doc.run.loaded[input_name] = arr
            doc.run.loaded_from[input_name] = name
            doc.run.sources[input_name] = "file"
        if loaded.expected is not None:
            doc.run.expected = loaded.expected
        self.check_loaded(doc_id)
        if doc_id == self.doc_id:
            self.set_document(doc_id)
        self.feeds_loaded.emit(path)

    def _load_failed(self, doc_id: int, path: str, error: TaskError) -> None:
        e = error.exception
        text = str(e) if isinstance(e, FeedError) else f"{Path(path).name}: {e}"
        if doc_id == self.doc_id:
            error = severity_colour(Severity.ERROR)
            self.feed_problems.setText(f"<span style='color:{error}'>{_html(text)}</span>")
        self.feeds_loaded.emit(path)

    def check_loaded(self, doc_id: int) -> list[Finding]:
        """Check the document's loaded arrays against its declared inputs (missing inputs are
        fine: they stay random); they become the run's findings; returns them."""
        doc = self.session.documents.get(doc_id)
        if doc is None:
            return []
        found = check_feeds(doc.model, doc.run.loaded)
        doc.run.feed_findings = [f for f in found if f.code != "missing-feed"]
        if doc_id == self.doc_id:
            self.show_feed_findings(doc.run.feed_findings)
        self.session.set_run_findings(doc_id, doc.run.feed_findings)
        return doc.run.feed_findings

    def show_feed_findings(self, findings: list[Finding]) -> None:
        error = severity_colour(Severity.ERROR)
        self.feed_problems.setText(
            "<br>".join(
                f"<span style='color:{error}'>{_html(f.message)}</span> — {_html(f.hint)}"
                for f in findings
            )
        )
        # check_feeds' hint for a dtype finding is "cast to <declared dtype>"
        targets = {f.hint.removeprefix("cast to ") for f in self._castable(findings)}
        self.cast_button.setText(
            f"Cast to {next(iter(targets))}" if len(targets) == 1 else "Cast to declared dtypes"
        )
        self.cast_button.setVisible(bool(targets))

    def _castable(self, findings: list[Finding]) -> list[Finding]:
        loaded = self.state.loaded if self.state is not None else {}
        return [f for f in findings if f.code == "dtype-mismatch" and f.tensor in loaded]

    def cast_feeds(self) -> None:
        """The one-click fix: cast each loaded array with a dtype finding to its declared dtype."""
        doc = self.document
        if doc is None:
            return
        for f in self._castable(doc.run.feed_findings):
            assert f.tensor is not None
            try:
                doc.run.loaded[f.tensor] = cast_feed(doc.model, f.tensor, doc.run.loaded[f.tensor])
            except ValueError as e:  # bfloat16 and float8 inputs: numpy cannot hold them
                self.feed_problems.setText(_html(str(e)))
                return
        self._refresh_rows()
        self.check_loaded(doc.doc_id)

    def _update_expected(self) -> None:
        n = len(self.state.expected or {}) if self.state is not None else 0
        self.expected_label.setText(
            f"Compared with {n} expected output(s) after each run." if n else ""
        )
        self.clear_expected.setVisible(bool(n))

    def _forget_expected(self) -> None:
        if self.state is not None:
            self.state.expected = None
        self._update_expected()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
