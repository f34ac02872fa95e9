"""The inference panel: feed the open model random, loaded or constant inputs and run it.

The panel reads the core's graph model and calls the core's inference functions
(:mod:`inspector.core.inference`); the session itself runs in a child process that
:func:`~inspector.core.inference.runner.run_model` starts and kills, so neither a hang nor a
native crash of ONNX Runtime reaches the window. All slow work (building feeds, the run,
loading files, saving outputs, listing providers) goes through the window's
:class:`~inspector.ui.tasks.TaskRunner`; results come back on the GUI thread. The options form
lives in :mod:`.inference_options`, the result views in :mod:`.inference_results`.

What the window wires (ids only, past tense):

- ``findings_changed(list)``: the findings of the last feed check or run (``[]`` clears);
- ``node_highlighted(int)``: the node to show: the first producing NaN/Inf, or the one a
  runtime error names;
- ``heat_changed(object)``: ``{node index: seconds per run}`` after a profiled run, else None;
- :meth:`InferencePanel.captured_value` for an edge's values after a run.

Known limitations: one model at a time (the document given to :meth:`set_document`); symbolic
dims are shared by name across inputs, and a dim with no name (``-1``, or no value) gets its size
by position with no box to change it; feeds for sequence/map/optional inputs are not supported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.feeds import cast_feed, check_feeds
from inspector.core.findings import Finding
from inspector.core.graph import Model
from inspector.core.inference.inputs import (
    FeedError,
    InputSpec,
    LoadedFeeds,
    build_feeds,
    feed_shape,
    input_specs,
    load_feeds,
    symbol_sizes,
)
from inspector.core.inference.runner import RunResult, TensorResult, run_model
from inspector.core.tasks import CancelToken, ProgressFn
from inspector.core.tensor_types import format_shape
from inspector.ui.panels.inference_options import RunOptionsForm, available_providers
from inspector.ui.panels.inference_results import (
    Histograms,
    ProfileView,
    ResultsView,
    compute_histograms,
)
from inspector.ui.tasks import TaskError, TaskRunner

RUN_TASK = "inference.run"
IO_TASK = "inference.io"  # loading feeds and saving outputs: one at a time is enough
PROVIDERS_TASK = "inference.providers"
SOURCES = ("random", "file", "constant")
INPUT_COLUMNS = ("input", "dtype", "shape", "source", "value")
_VALUE_COL = INPUT_COLUMNS.index("value")
_SOURCE_COL = INPUT_COLUMNS.index("source")
_SHAPE_COL = INPUT_COLUMNS.index("shape")


@dataclass
class FeedPlan:
    """What the user chose for each input, copied off the widgets so a worker can build feeds
    with :func:`~inspector.core.inference.inputs.build_feeds` (the one the CLI uses too)."""

    seed: int = 0
    dims: dict[str, int] = field(default_factory=dict)
    given: dict[str, np.ndarray] = field(default_factory=dict)  # inputs whose source is "file"
    constants: dict[str, float] = field(default_factory=dict)  # inputs whose source is "constant"


class InferencePanel(QWidget):
    """Inputs, run options, Run/Cancel, and the results of the last run for one model."""

    findings_changed = Signal(list)  # list[Finding] of the last feed check or run
    node_highlighted = Signal(int)  # node index in the main graph
    heat_changed = Signal(object)  # dict[int, float] node index → seconds per run, or None
    run_finished = Signal(str)  # the run's status ("ok", "run-failed", ...), or "cancelled"
    feeds_loaded = Signal(str)  # a load from this path ended (the inputs tab says how)
    outputs_saved = Signal(str)  # the outputs were written to this path

    def __init__(
        self, runner: TaskRunner, parent: QWidget | None = None, settings: QSettings | None = None
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        # the options are remembered here (the application's settings unless a test passes its own)
        self.settings = settings or QSettings("ONNX Inspector", "ONNX Inspector")
        self.model: Model | None = None
        self.path: Path | None = None
        self.specs: list[InputSpec] = []
        self.loaded: dict[str, np.ndarray] = {}  # input → array from a file
        self.loaded_from: dict[str, str] = {}  # input → file name, for the value column
        self.expected: dict[str, np.ndarray] | None = None
        self.feed_findings: list[Finding] = []
        self.result: RunResult | None = None
        self.running = False
        self._providers_requested = False
        self._elapsed = QElapsedTimer()
        self._progress_text = ""
        self._tick = QTimer(self)
        self._tick.setInterval(100)
        self._tick.timeout.connect(self._show_elapsed)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_inputs_tab(), "Inputs")
        self.options = RunOptionsForm(self)
        self.tabs.addTab(self.options, "Options")
        self.results = ResultsView(self)
        self.tabs.addTab(self.results, "Results")
        self.profile_view = ProfileView(self)
        self.tabs.addTab(self.profile_view, "Profile")

        self.run_button = QPushButton("Run", self)
        self.run_button.setToolTip("Run the model in a separate process with these inputs")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the run: the ONNX Runtime process is killed")
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button = QPushButton("Save outputs…", self)
        self.save_button.setToolTip("Write the last run's outputs to an .npz, by output name")
        self.save_button.clicked.connect(self.ask_save_outputs)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(160)
        self.status = QLabel(self)
        bar = QHBoxLayout()
        bar.addWidget(self.run_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.progress)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.tabs, 1)
        self.options.restore(self.settings)
        self.set_document(None, None)

    # ----------------------------------------------------------------------------- building

    def _build_inputs_tab(self) -> QWidget:
        page = QWidget(self)
        self.seed = QSpinBox(page)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Seed of the random inputs: the same seed gives the same values")
        self.seed.valueChanged.connect(self._refresh_rows)
        self.dims_row = QHBoxLayout()
        self.load_button = QToolButton(page)
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
        top.addWidget(QLabel("Seed", page))
        top.addWidget(self.seed)
        top.addLayout(self.dims_row)
        top.addStretch(1)
        top.addWidget(self.load_button)

        self.inputs = QTableWidget(0, len(INPUT_COLUMNS), page)
        self.inputs.setHorizontalHeaderLabels(INPUT_COLUMNS)
        self.inputs.verticalHeader().hide()
        self.inputs.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.inputs.horizontalHeader().setStretchLastSection(True)
        self.inputs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.inputs.itemChanged.connect(self._constant_edited)

        self.feed_problems = QLabel(page)
        self.feed_problems.setWordWrap(True)
        self.feed_problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cast_button = QPushButton("Cast to float32", page)
        self.cast_button.setToolTip("Cast each loaded array to the dtype its input declares")
        self.cast_button.clicked.connect(self.cast_feeds)
        self.expected_label = QLabel(page)
        self.clear_expected = QToolButton(page)
        self.clear_expected.setText("Forget")
        self.clear_expected.setToolTip("Run without comparing to the expected outputs")
        self.clear_expected.clicked.connect(self._forget_expected)
        expected_row = QHBoxLayout()
        expected_row.addWidget(self.expected_label, 1)
        expected_row.addWidget(self.clear_expected)

        lay = QVBoxLayout(page)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.inputs, 1)
        lay.addWidget(self.feed_problems)
        lay.addWidget(self.cast_button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addLayout(expected_row)
        return page

    # ----------------------------------------------------------------------------- document

    def set_document(self, model: Model | None, path: str | os.PathLike[str] | None) -> None:
        """Show inputs for ``model`` stored at ``path``; ``(None, None)`` clears the panel."""
        if self.running:
            self.cancel()
        self.runner.cancel(IO_TASK)
        self.model = model
        self.path = Path(path) if path is not None else None
        self.specs = input_specs(model) if model is not None else []
        self.loaded, self.loaded_from, self.expected = {}, {}, None
        self._set_result(None)
        self.results.clear()
        self.profile_view.clear()
        self._build_dims()
        self._build_rows()
        self._show_feed_findings([])
        self._update_expected()
        self.heat_changed.emit(None)
        self.findings_changed.emit([])
        self._set_idle("" if model is not None else "No model open.")
        if model is not None and not self._providers_requested:
            self._providers_requested = True
            self.runner.submit(PROVIDERS_TASK, available_providers, self.options.set_providers)

    def _build_dims(self) -> None:
        while self.dims_row.count():
            w = self.dims_row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.dim_boxes: dict[str, QSpinBox] = {}
        for symbol, size in symbol_sizes(self.specs).items():
            box = QSpinBox(self)
            box.setRange(0, 1 << 20)  # 0 is a legal size: an empty tensor
            box.setValue(size)
            box.setToolTip(f"Size of the symbolic dim '{symbol}' in every input that has it")
            box.valueChanged.connect(self._refresh_rows)
            self.dim_boxes[symbol] = box
            self.dims_row.addWidget(QLabel(symbol, self))
            self.dims_row.addWidget(box)

    def _build_rows(self) -> None:
        self.inputs.blockSignals(True)
        self.inputs.setRowCount(len(self.specs))
        self.source_boxes: list[QComboBox] = []
        for row, spec in enumerate(self.specs):
            for col, text in ((0, spec.name), (1, spec.dtype)):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.inputs.setItem(row, col, item)
            combo = QComboBox(self.inputs)
            combo.addItems(SOURCES)
            combo.setToolTip("Where this input's values come from")
            combo.currentTextChanged.connect(self._refresh_rows)
            self.inputs.setCellWidget(row, _SOURCE_COL, combo)
            self.source_boxes.append(combo)
            for col in (_SHAPE_COL, _VALUE_COL):
                self.inputs.setItem(row, col, QTableWidgetItem())
        self.inputs.blockSignals(False)
        self._refresh_rows()

    def _refresh_rows(self) -> None:
        """Re-derive the shape and value cells from the sources, dims and seed."""
        self.inputs.blockSignals(True)
        sizes = symbol_sizes(self.specs, self._dims())
        for row, spec in enumerate(self.specs):
            combo = self.source_boxes[row]
            has_file = spec.name in self.loaded
            combo.model().item(SOURCES.index("file")).setEnabled(has_file)  # type: ignore[attr-defined]
            source = combo.currentText()
            shape_item = self.inputs.item(row, _SHAPE_COL)
            value_item = self.inputs.item(row, _VALUE_COL)
            if source == "file" and has_file:
                arr = self.loaded[spec.name]
                shape_text = f"{format_shape(spec.shape)} → {list(arr.shape)}"
                value_text = f"{self.loaded_from[spec.name]} ({arr.dtype})"
                tip = f"Loaded from {self.loaded_from[spec.name]}"
            else:
                shape_text = f"{format_shape(spec.shape)} → {list(feed_shape(spec, sizes))}"
                if source == "constant":
                    value_text = value_item.text() if _is_number(value_item.text()) else "0"
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

    def _constant_edited(self, item: QTableWidgetItem) -> None:
        if item.column() == _VALUE_COL and not _is_number(item.text()):
            self.inputs.blockSignals(True)
            item.setText("0")  # a constant must be a number; the tooltip says so
            self.inputs.blockSignals(False)

    def _dims(self) -> dict[str, int]:
        return {name: box.value() for name, box in self.dim_boxes.items()}

    def set_source(self, input_name: str, source: str) -> None:
        """Choose ``source`` (one of :data:`SOURCES`) for one input (the source column)."""
        row = [s.name for s in self.specs].index(input_name)
        self.source_boxes[row].setCurrentText(source)

    def feed_plan(self) -> FeedPlan:
        """The user's choices now, for :func:`build_feeds`."""
        given, constants = {}, {}
        for row, spec in enumerate(self.specs):
            source = self.source_boxes[row].currentText()
            if source == "file" and spec.name in self.loaded:
                given[spec.name] = self.loaded[spec.name]
            elif source == "constant":
                constants[spec.name] = float(self.inputs.item(row, _VALUE_COL).text())
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
        model = self.model
        if model is None:
            return
        where = str(path)
        self.feed_problems.setText(f"Loading {Path(where).name}…")
        self.runner.submit(
            IO_TASK,
            lambda _p, _c: load_feeds(model, where),
            lambda loaded: self._feeds_loaded(where, loaded),
            lambda error: self._load_failed(where, error),
        )

    def _feeds_loaded(self, path: str, loaded: LoadedFeeds) -> None:
        name = Path(path).name
        for input_name, arr in loaded.feeds.items():
            self.loaded[input_name] = arr
            self.loaded_from[input_name] = name
        if loaded.expected is not None:
            self.expected = loaded.expected
        self._update_expected()
        self._refresh_rows()
        for row, spec in enumerate(self.specs):
            if spec.name in loaded.feeds:
                self.source_boxes[row].setCurrentText("file")
        self.check_loaded()
        self.feeds_loaded.emit(path)

    def _load_failed(self, path: str, error: TaskError) -> None:
        e = error.exception
        text = str(e) if isinstance(e, FeedError) else f"{Path(path).name}: {e}"
        self.feed_problems.setText(f"<span style='color:#d32f2f'>{_html(text)}</span>")
        self.feeds_loaded.emit(path)

    def check_loaded(self) -> list[Finding]:
        """Check the loaded arrays against the declared inputs (missing inputs are fine: they
        stay random); shows and emits the findings, and returns them."""
        if self.model is None:
            return []
        findings = [f for f in check_feeds(self.model, self.loaded) if f.code != "missing-feed"]
        self._show_feed_findings(findings)
        self.findings_changed.emit(findings)
        return findings

    def _show_feed_findings(self, findings: list[Finding]) -> None:
        self.feed_findings = findings
        self.feed_problems.setText(
            "<br>".join(
                f"<span style='color:#d32f2f'>{_html(f.message)}</span> — {_html(f.hint)}"
                for f in findings
            )
        )
        # check_feeds' hint for a dtype finding is "cast to <declared dtype>"
        targets = {f.hint.removeprefix("cast to ") for f in self._castable()}
        self.cast_button.setText(
            f"Cast to {next(iter(targets))}" if len(targets) == 1 else "Cast to declared dtypes"
        )
        self.cast_button.setVisible(bool(targets))

    def _castable(self) -> list[Finding]:
        return [
            f for f in self.feed_findings if f.code == "dtype-mismatch" and f.tensor in self.loaded
        ]

    def cast_feeds(self) -> None:
        """The one-click fix: cast each loaded array with a dtype finding to its declared dtype."""
        if self.model is None:
            return
        for f in self._castable():
            assert f.tensor is not None
            try:
                self.loaded[f.tensor] = cast_feed(self.model, f.tensor, self.loaded[f.tensor])
            except ValueError as e:  # bfloat16 and float8 inputs: numpy cannot hold them
                self.feed_problems.setText(_html(str(e)))
                return
        self._refresh_rows()
        self.check_loaded()

    def _update_expected(self) -> None:
        n = len(self.expected or {})
        self.expected_label.setText(
            f"Compared with {n} expected output(s) after each run." if n else ""
        )
        self.clear_expected.setVisible(bool(n))

    def _forget_expected(self) -> None:
        self.expected = None
        self._update_expected()

    # ---------------------------------------------------------------------------------- run

    def run(self) -> None:
        """Start a run with the inputs and options shown (Run button)."""
        if self.model is None or self.path is None or self.running:
            return
        model, path, specs = self.model, self.path, list(self.specs)
        plan, options = self.feed_plan(), self.options.run_options()
        expected, timeout = self.expected, float(self.options.timeout.value())
        self.options.save(self.settings)
        self._set_result(None)

        def work(progress: ProgressFn, cancel: CancelToken) -> tuple[RunResult, Histograms]:
            feeds = build_feeds(specs, plan.seed, plan.dims, plan.given, plan.constants)
            result = run_model(
                path, feeds, options, progress, cancel, timeout, expected, model=model
            )
            return result, compute_histograms(result)

        self.running = True
        self._progress_text = "starting ONNX Runtime"
        self.progress.setValue(0)
        self._elapsed.start()
        self._tick.start()
        self._update_buttons()
        self._show_elapsed()
        self.runner.submit(RUN_TASK, work, self._run_done, self._run_failed, self._run_progress)

    def cancel(self) -> None:
        """Stop the run: the worker kills the child at its next poll (within ~50 ms)."""
        if not self.running:
            return
        self.runner.cancel(RUN_TASK)  # the runner then drops the task's result
        self._set_idle(f"Cancelled after {self._elapsed.elapsed() / 1000:.1f} s.")
        self.run_finished.emit("cancelled")

    def _run_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self._progress_text = message

    def _show_elapsed(self) -> None:
        self.status.setText(
            f"Running… {self._elapsed.elapsed() / 1000:.1f} s — {self._progress_text}"
        )

    def _run_done(self, outcome: tuple[RunResult, Histograms]) -> None:
        result, histograms = outcome
        seconds = self._elapsed.elapsed() / 1000
        self._set_result(result)
        self.results.show_result(result, histograms)
        self.profile_view.show_result(result)
        if result.status == "invalid-feeds":
            self._show_feed_findings(result.findings)
            self.tabs.setCurrentIndex(0)
        else:
            self.tabs.setCurrentWidget(self.results)
        self._set_idle(f"{result.status} in {seconds:.1f} s.")
        self.findings_changed.emit(list(result.findings))
        node = self._node_to_show(result)
        if node is not None:
            self.node_highlighted.emit(node)
        heat = None
        if result.profile is not None:
            heat = {i: nt.us / 1e6 for i, nt in result.profile.node_times.items()}
        self.heat_changed.emit(heat)
        self.run_finished.emit(result.status)

    @staticmethod
    def _node_to_show(result: RunResult) -> int | None:
        if result.first_nonfinite is not None:
            return result.first_nonfinite[0]
        return next(
            (
                f.node_index
                for f in result.findings
                if f.code in ("session-failed", "run-failed") and f.node_index is not None
            ),
            None,
        )

    def _run_failed(self, error: TaskError) -> None:
        """The task itself raised (a bad constant, an unreadable model): not ONNX Runtime."""
        self.results.show_error(f"The run could not start: {error.exception}", error.details)
        self.tabs.setCurrentWidget(self.results)
        self._set_idle("Failed.")
        self.run_finished.emit("failed")

    def _set_idle(self, message: str) -> None:
        self.running = False
        self._tick.stop()
        self.status.setText(message)
        self._update_buttons()

    def _update_buttons(self) -> None:
        can_run = self.model is not None and self.path is not None and not self.running
        self.run_button.setEnabled(can_run)
        self.cancel_button.setEnabled(self.running)
        self.progress.setVisible(self.running)
        self.load_button.setEnabled(self.model is not None)
        self.save_button.setEnabled(
            not self.running and self.result is not None and bool(self.result.outputs)
        )

    def _set_result(self, result: RunResult | None) -> None:
        # A result's output files live as long as it does: free the previous run's at once.
        if self.result is not None:
            self.result.close()
        self.result = result

    # -------------------------------------------------------------------------------- outputs

    def captured_value(self, tensor_name: str) -> TensorResult | None:
        """The last run's values of ``tensor_name`` (an output, or a captured intermediate)."""
        if self.result is None:
            return None
        for t in (*self.result.intermediates, *self.result.outputs):
            if t.name == tensor_name:
                return t
        return None

    def save_outputs_to(self, path: str | os.PathLike[str]) -> None:
        """Write the last run's outputs to an ``.npz`` off the GUI thread (``outputs_saved``)."""
        result = self.result
        if result is None or not result.outputs:
            return
        where = str(path)
        self.runner.submit(
            IO_TASK,
            lambda _p, _c: result.save_outputs(where),
            lambda _none: self.outputs_saved.emit(where),
            lambda error: self.status.setText(f"Could not save {where}: {error.exception}"),
        )

    def ask_save_outputs(self) -> None:
        """ "Save outputs…": ask where, then :meth:`save_outputs_to`."""
        path, _ = QFileDialog.getSaveFileName(self, "Save outputs", "outputs.npz", "*.npz")
        if path:
            self.save_outputs_to(path)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
