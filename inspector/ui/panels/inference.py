"""The inference panel: feed the open model random, loaded or constant inputs and run it.

The panel reads the core's graph model and calls the core's inference functions
(:mod:`inspector.core.inference`); the session itself runs in a child process that
:func:`~inspector.core.inference.runner.run_model` starts and kills, so neither a hang nor a
native crash of ONNX Runtime reaches the window. The run, what it was fed and its result belong
to the document (:class:`~inspector.ui.session.InferenceRun`): the panel shows the current tab's,
starts runs through the session and redraws on its ``run_changed``; closing a tab cancels its run.
The Inputs tab lives in :mod:`.inference_feeds`, the options form in :mod:`.inference_options`,
the result views in :mod:`.inference_results`.

What the window wires (past tense):

- ``node_highlighted(int)``: the node to show: the first producing NaN/Inf, or the one a
  runtime error names;
- ``heat_changed(object)``: ``{node index: seconds per run}`` of the shown run's profile, else None.

Known limitations: see :mod:`.inference_feeds` for the inputs.
"""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.core.inference.inputs import build_feeds
from inspector.core.inference.runner import RunResult, run_call
from inspector.core.tasks import CancelToken, ProgressFn
from inspector.ui.panels.follows import FollowsDocument
from inspector.ui.panels.inference_feeds import FeedPlan, FeedsTab
from inspector.ui.panels.inference_options import RunOptionsForm, available_providers
from inspector.ui.panels.inference_results import (
    ProfileView,
    ResultsView,
    compute_histograms,
)
from inspector.ui.session import InferenceRun, Session
from inspector.ui.settings import Settings

PROVIDERS_TASK = "inference.providers"


class InferencePanel(QWidget, FollowsDocument):
    """Inputs, run options, Run/Cancel, and the results of the shown document's last run."""

    node_highlighted = Signal(int)  # node index in the main graph
    heat_changed = Signal(object)  # dict[int, float] node index → seconds per run, or None
    run_finished = Signal(str)  # the shown run's status ("ok", "run-failed", ...), or "cancelled"
    outputs_saved = Signal(str)  # the outputs were written to this path

    def __init__(self, session: Session, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = session.runner
        self.settings = settings  # the run options are remembered there
        self.doc_id: int | None = None
        self._was_running = False  # whether the shown run was running when last drawn
        self._providers_requested = False
        self._tick = QTimer(self)
        self._tick.setInterval(100)
        self._tick.timeout.connect(self._show_elapsed)

        self.tabs = QTabWidget(self)
        self.feeds = FeedsTab(session, self)
        self.tabs.addTab(self.feeds, "Inputs")
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
        self.options.restore(settings)
        session.run_changed.connect(self._run_changed)
        session.document_closed.connect(self._document_closed)
        self.set_document(None)

    # ----------------------------------------------------------------------------- document

    @property
    def state(self) -> InferenceRun | None:
        """The shown document's run (None: no document)."""
        doc = self.document
        return doc.run if doc is not None else None

    @property
    def result(self) -> RunResult | None:
        return self.state.result if self.state is not None else None

    def set_document(self, doc_id: int | None) -> None:
        """Show document ``doc_id``'s inputs and run as it left them; None clears the panel."""
        self.doc_id = doc_id
        self.feeds.set_document(doc_id)
        state = self.state
        self._was_running = state is not None and state.running
        self._show_run()
        if state is not None and not self._providers_requested:
            self._providers_requested = True
            self.runner.submit(PROVIDERS_TASK, available_providers, self.options.set_providers)

    def feed_plan(self) -> FeedPlan:
        """The user's choices now, for :func:`build_feeds`."""
        return self.feeds.feed_plan()

    # ---------------------------------------------------------------------------------- run

    def run(self) -> None:
        """Start a run of the shown document with the inputs and options shown (Run button)."""
        doc = self.document
        if doc is None or doc.run.running:
            return
        model, path, specs = doc.model, doc.path, list(self.feeds.specs)
        plan, options = self.feed_plan(), self.options.run_options()
        expected, timeout = doc.run.expected, float(self.options.timeout.value())
        self.options.save(self.settings)

        def prepare(_progress: ProgressFn, _cancel: CancelToken):  # the run as a child call
            feeds = build_feeds(specs, plan.seed, plan.dims, plan.given, plan.constants)
            call = run_call(path, feeds, options, timeout, expected, model=model)
            return call.then(lambda result: (result, compute_histograms(result)))

        self.session.start_run(doc.doc_id, prepare)

    def cancel(self) -> None:
        """Stop the shown run: the runner kills its child at once."""
        if self.doc_id is not None:
            self.session.cancel_run(self.doc_id)

    def _run_changed(self, doc_id: int) -> None:
        if doc_id != self.doc_id:
            return
        state = self.state
        assert state is not None
        finished = self._was_running and not state.running
        self._was_running = state.running
        if state.running:
            self.progress.setValue(int(state.progress[0] * 1000))
            self._update_buttons()
            self._show_elapsed()
            self._tick.start()
            return
        self._show_run()
        if not finished:
            return
        result = state.result
        if result is not None:
            if result.status == "invalid-feeds":
                self.tabs.setCurrentWidget(self.feeds)
            else:
                self.tabs.setCurrentWidget(self.results)
            node = self._node_to_show(result)
            if node is not None:
                self.node_highlighted.emit(node)
            self.run_finished.emit(result.status)
        elif state.error is not None:
            self.tabs.setCurrentWidget(self.results)
            self.run_finished.emit("failed")
        else:
            self.run_finished.emit("cancelled")

    def _show_run(self) -> None:
        """Draw the shown document's run: results, profile, status, heat and buttons."""
        state = self.state
        result = state.result if state is not None else None
        if result is not None:
            self.results.show_result(result, state.details)  # type: ignore[union-attr]
            self.profile_view.show_result(result)
            if result.status == "invalid-feeds":
                self.feeds.show_feed_findings(result.findings)
        else:
            self.results.clear()
            self.profile_view.clear()
            if state is not None and state.error is not None:
                # the task itself raised (a bad constant, an unreadable model): not ONNX Runtime
                message, details = state.error
                self.results.show_error(f"The run could not start: {message}", details)
        heat = None
        if result is not None and result.profile is not None:
            heat = {i: nt.us / 1e6 for i, nt in result.profile.node_times.items()}
        self.heat_changed.emit(heat)
        if state is not None and state.running:
            self._tick.start()
            self._show_elapsed()
        else:
            self._tick.stop()
            self.status.setText(_status(state))
        self._update_buttons()

    def _show_elapsed(self) -> None:
        state = self.state
        if state is None or not state.running:
            self._tick.stop()
            return
        elapsed = time.monotonic() - state.started
        self.status.setText(f"Running… {elapsed:.1f} s — {state.progress[1]}")

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

    def _update_buttons(self) -> None:
        state = self.state
        running = state is not None and state.running
        self.run_button.setEnabled(state is not None and not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        self.save_button.setEnabled(
            not running and self.result is not None and bool(self.result.outputs)
        )

    # -------------------------------------------------------------------------------- outputs

    def save_outputs_to(self, path: str | os.PathLike[str]) -> None:
        """Write the last run's outputs to an ``.npz`` off the GUI thread (``outputs_saved``)."""
        result = self.result
        if self.doc_id is None or result is None or not result.outputs:
            return
        where = str(path)
        self.session.run_io(
            self.doc_id,
            lambda _p, _c: result.save_outputs(where),
            lambda _none: self.outputs_saved.emit(where),
            lambda error: self.status.setText(f"Could not save {where}: {error.exception}"),
        )

    def ask_save_outputs(self) -> None:
        """ "Save outputs…": ask where, then :meth:`save_outputs_to`."""
        path, _ = QFileDialog.getSaveFileName(self, "Save outputs", "outputs.npz", "*.npz")
        if path:
            self.save_outputs_to(path)


def _status(state: InferenceRun | None) -> str:
    """The status line of a run that is not running."""
    if state is None:
        return "No model open."
    if state.result is not None:
        return f"{state.result.status} in {state.seconds:.1f} s."
    if state.error is not None:
        return "Failed."
    if state.cancelled:
        return f"Cancelled after {state.seconds:.1f} s."
    return ""
