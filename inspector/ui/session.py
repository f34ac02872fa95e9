"""The one owner of the window's state: open documents, the graph shown in each, the selection,
the findings, and each document's inference run (inputs chosen, feeds loaded, the last result).

Panels and views do not talk to each other: they call the session, and redraw when its signals
(past tense, carrying ids, never objects) say something changed. Loading, layout, checks and runs
go through the task runner, off the GUI thread, keyed by document, so closing a tab cancels its
work and releases the document with everything built from it.
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from inspector.core.checks import RuntimeTarget
from inspector.core.collapse import WINDOW_VIEWPORT, CollapsibleDrawing, draw_collapsible
from inspector.core.diagram import Diagram, DrawnGraph, draw_graph
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Graph, Model, TensorType, open_model
from inspector.core.infer_process import infer_types_call
from inspector.core.loader import ModelLoadError
from inspector.core.providers.target_child import CheckResult, PlacementMap, target_checks_call
from inspector.core.tasks import CancelToken, ProgressFn, gc_paused
from inspector.ui import heap
from inspector.ui.tasks import ChildPrepare, TaskError, TaskRunner

if TYPE_CHECKING:
    import numpy as np

    from inspector.core.inference.runner import RunResult, TensorResult

GraphPath = tuple[str, ...]


@dataclass
class Selection:
    kind: str  # "node" | "value"
    ident: int | str  # node index, or tensor name


@dataclass
class InferenceRun:
    """A document's inference run: what the user chose, what was loaded, and the last result.

    The inference panel shows the run of the current tab and writes the user's choices here, so
    switching tabs and back shows the same inputs and results.
    """

    seed: int = 0
    dims: dict[str, int] = field(default_factory=dict)  # symbolic dim → size chosen
    sources: dict[str, str] = field(default_factory=dict)  # input → "random" | "file" | "constant"
    constants: dict[str, str] = field(default_factory=dict)  # input → the constant's text
    loaded: dict[str, np.ndarray] = field(default_factory=dict)  # input → array from a file
    loaded_from: dict[str, str] = field(default_factory=dict)  # input → file name
    expected: dict[str, np.ndarray] | None = None  # expected outputs from a test_data_set
    feed_findings: list[Finding] = field(default_factory=list)  # the loaded feeds' problems
    result: RunResult | None = None
    details: Any = None  # what the panel derived from the result off the GUI thread (histograms)
    # the run's task raised (not ONNX Runtime: our side): what, and the traceback's text (not the
    # exception, whose frames would keep the run's feeds and model alive)
    error: tuple[str, str] | None = None
    running: bool = False
    cancelled: bool = False  # the last run was cancelled
    started: float = 0.0  # time.monotonic() at the start of the last run
    seconds: float = 0.0  # how long the last run took, once it ended
    progress: tuple[float, str] = (0.0, "")  # of the run in progress: fraction, message

    def set_result(self, result: RunResult | None, details: Any = None) -> None:
        # A result's output files live as long as it does: free the previous run's at once.
        if self.result is not None and self.result is not result:
            self.result.close()
        self.result, self.details = result, details

    def captured_value(self, tensor_name: str) -> TensorResult | None:
        """The last run's values of ``tensor_name`` (an output, or a captured intermediate)."""
        if self.result is None:
            return None
        for t in (*self.result.intermediates, *self.result.outputs):
            if t.name == tensor_name:
                return t
        return None


@dataclass
class Document:
    """One open model: one tab."""

    doc_id: int
    path: Path
    model: Model
    drawn: dict[GraphPath, DrawnGraph]  # graphs laid out so far, by path; () is the main graph
    graph_path: GraphPath = ()
    selection: Selection | None = None
    history: list[GraphPath] = field(default_factory=list)
    check_findings: list[Finding] = field(default_factory=list)  # static checks, session target
    run_findings: list[Finding] = field(default_factory=list)  # the inference panel's last run
    checked: bool = False  # whether ``check_findings`` are the result of a finished check run
    # the partition map of the session target's provider order; None for the CPU alone
    placement: PlacementMap | None = None
    run: InferenceRun = field(default_factory=InferenceRun)
    # a finding activated in another graph: selected once that graph is shown
    pending_finding: Finding | None = None

    @property
    def findings(self) -> list[Finding]:
        """Every finding the views show: the static checks', then the last run's."""
        return self.check_findings + self.run_findings

    @property
    def graph(self) -> Graph:
        g = self.model.find_graph(self.graph_path)
        assert g is not None, self.graph_path
        return g

    @property
    def current(self) -> DrawnGraph | None:
        return self.drawn.get(self.graph_path)


def load_and_draw(
    path: Path, tab: bool = False, canvas: tuple[float, float] = WINDOW_VIEWPORT
) -> Callable[[ProgressFn, CancelToken], tuple[Model, DrawnGraph]]:
    """The background task that opens ``path`` and lays out its main graph (no shape inference;
    a tab and a comparison both open their files with it; a ``tab``'s groups can collapse, opened
    to the depth readable on a ``canvas`` of that many pixels, and its model is kept out of later
    garbage collections until the tab closes)."""

    def draw(model: Model, graph: Graph, progress: ProgressFn, cancel: CancelToken) -> DrawnGraph:
        if tab:
            return draw_collapsible(model, graph, progress, cancel, viewport=canvas)
        return draw_graph(model, graph, progress, cancel)

    def work(progress: ProgressFn, cancel: CancelToken) -> tuple[Model, DrawnGraph]:
        # Shape inference waits until the graph is on screen (see Session._infer_later).
        # The GUI thread's collector waits too: collections while a big model is being built
        # rescan it again and again (300k nodes: about 1.5 s of a loaded open).
        with gc_paused():
            model = open_model(path, lambda f, m: progress(0.6 * f, m), cancel, infer=False)
            drawn = draw(model, model.graph, lambda f, m: progress(0.6 + 0.4 * f, m), cancel)
            if tab and not cancel.cancelled:  # a cancelled open's result is dropped
                # The model lives as long as its tab: keep its million objects out of every
                # later collection (one full collection of a 300k-node model takes 0.3 s of the
                # GUI thread). Session.free_closed thaws them, so a closed model's cycles go too.
                gc.freeze()
        return model, drawn

    return work


class Session(QObject):
    """Open documents and what is selected in each."""

    load_started = Signal(str)  # path
    load_progressed = Signal(str, float, str)  # path, fraction, message
    load_failed = Signal(str, str)  # path, one-line message (what is wrong; what to do)
    document_opened = Signal(int)  # doc id
    document_closed = Signal(int)
    graph_changed = Signal(int)  # doc id: the shown graph (subgraph/function) changed
    selection_changed = Signal(int)  # doc id
    types_inferred = Signal(int)  # doc id: shape inference has filled in the inferred types
    findings_changed = Signal(int)  # doc id: a check run finished (or started: checked is False)
    # doc id, one line: a child's work on the document (shape inference, checks) did not finish;
    # the window shows it. Failures of the Inspector's own code go to the runner's error handler.
    background_failed = Signal(int, str)
    run_changed = Signal(int)  # doc id: its inference run started, progressed or finished

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.documents: dict[int, Document] = {}
        self.target = RuntimeTarget()
        self._next_id = 1
        self._loading: set[str] = set()
        self._closed: list[weakref.ref] = []  # the models of tabs closed since free_closed

    # ------------------------------------------------------------------------------ documents

    def open_file(self, path: str | Path, canvas: tuple[float, float] = WINDOW_VIEWPORT) -> None:
        """Load ``path`` in the background, its groups opened to the depth readable on a graph
        view of ``canvas`` pixels; ``document_opened`` or ``load_failed`` follows."""
        p = Path(path).expanduser()
        key = str(p.resolve()) if p.exists() else str(p)
        if key in self._loading:
            return
        self._loading.add(key)
        self.load_started.emit(key)

        def done(result: tuple[Model, DrawnGraph]) -> None:
            self._loading.discard(key)
            model, drawn = result
            doc = Document(self._next_id, Path(key), model, {(): drawn})
            self._next_id += 1
            self.documents[doc.doc_id] = doc
            self.document_opened.emit(doc.doc_id)
            self._infer_later(doc.doc_id)

        def failed(err: TaskError) -> None:
            self._loading.discard(key)
            if isinstance(err.exception, ModelLoadError):
                msg = str(err.exception)
            elif isinstance(err.exception, MemoryError):
                msg = f"{key}: not enough memory to open this model; close other tabs or programs"
            else:
                msg = (
                    f"{key}: could not be opened ({type(err.exception).__name__}: "
                    f"{err.exception}); the file may be damaged or use a feature this version "
                    "does not know"
                )
            self.load_failed.emit(key, msg)

        self.runner.submit(
            f"load:{key}",
            load_and_draw(Path(key), tab=True, canvas=canvas),
            done,
            failed,
            lambda f, m: self.load_progressed.emit(key, f, m),
            what=f"opening {p.name}",
        )

    def _infer_later(self, doc_id: int) -> None:
        """Infer shapes in a child process; fill in types and edge labels off the GUI thread."""
        doc = self.documents[doc_id]
        model = doc.model
        diagrams = [d for drawn in doc.drawn.values() for d in _labelled(drawn)]
        shown = [drawn.diagram for drawn in doc.drawn.values()]

        def apply(inferred: tuple[dict[str, TensorType], str]) -> None:  # on a worker thread
            types, error = inferred
            # Plain attribute stores: the GUI thread may read the model meanwhile and sees either
            # the old or the new type of a value; types_inferred then redraws everything.
            model.apply_inferred(types, error)
            for diagram in diagrams:
                diagram.refresh_edge_labels()
            for diagram in shown:  # the redraw reads them all (types_inferred)
                diagram.make_edge_labels()

        def done(_none: None) -> None:
            # subgraphs laid out while inference ran were labelled without its types
            for drawn in doc.drawn.values():
                for diagram in _labelled(drawn):
                    if all(diagram is not d for d in diagrams):
                        diagram.refresh_edge_labels()
            self.types_inferred.emit(doc_id)
            if model.inference_error:  # onnx raised, or the child crashed or timed out
                self.background_failed.emit(
                    doc_id,
                    f"Shape inference on {doc.path.name} did not finish: {model.inference_error}. "
                    "Types are shown as the file declares them.",
                )
            self.check(doc_id)  # the checks read inferred types, so they wait for them

        def failed(err: TaskError) -> None:
            # The Inspector's own code failed. The document still ends up with no inferred types
            # and is checked, so nothing (the Problems panel's "checking…") waits for ever.
            model.apply_inferred({}, f"shape inference stopped ({type(err.exception).__name__})")
            self.types_inferred.emit(doc_id)
            self.runner.report(err)
            self.check(doc_id)

        self.runner.submit_child(
            f"infer:{doc_id}",
            infer_types_call(doc.path).then(apply),
            done,
            failed,
            what=f"inferring shapes of {doc.path.name}",
        )

    # --------------------------------------------------------------------------------- checks

    def set_target(self, target: RuntimeTarget) -> None:
        """Check every open model against ``target``; nothing is reloaded or laid out again."""
        if target == self.target:
            return
        self.target = target
        for doc_id, doc in self.documents.items():
            if doc.model.types_inferred:
                self.check(doc_id)

    def set_run_findings(self, doc_id: int, findings: list[Finding]) -> None:
        """The findings of an inference run (feed checks, a failure on a node), shown with the
        static checks' until the next run."""
        doc = self.documents.get(doc_id)
        if doc is not None:
            doc.run_findings = list(findings)
            self.findings_changed.emit(doc_id)

    def check(self, doc_id: int) -> None:
        """Run every static check on the document in the background, for the target's provider
        order (its partition map comes back with the findings); ``findings_changed``."""
        doc = self.documents[doc_id]
        target = self.target
        doc.checked = False
        self.findings_changed.emit(doc_id)

        def done(result: CheckResult) -> None:
            findings, placement = result
            if doc_id in self.documents and target == self.target:
                doc.check_findings, doc.placement = findings, placement
                doc.checked = True
                self.findings_changed.emit(doc_id)
                # the child crashed, timed out or could not read the file, or a check raised
                stopped = [f for f in findings if f.code == "check-failed"]
                if stopped:
                    self.background_failed.emit(
                        doc_id, f"Not every check ran on {doc.path.name}: {stopped[0].message}"
                    )

        def failed(err: TaskError) -> None:
            if doc_id in self.documents:
                doc.check_findings = [
                    Finding(
                        Severity.WARNING,
                        "check-failed",
                        "ONNX Inspector hit an internal error while checking the model "
                        f"({type(err.exception).__name__}: {err.exception})",
                        "please report it with the message bar's details",
                    )
                ]
                doc.checked, doc.placement = True, None
                self.findings_changed.emit(doc_id)
            self.runner.report(err)

        self.runner.submit_child(
            f"check:{doc_id}",
            target_checks_call(doc.path, target),
            done,
            failed,
            what=f"checking {doc.path.name}",
        )

    def cancel_loading(self) -> None:
        for key in list(self._loading):
            self.runner.cancel(f"load:{key}")
            self._loading.discard(key)
            self.load_failed.emit(key, f"{key}: opening was cancelled")

    @property
    def loading(self) -> bool:
        return bool(self._loading)

    def close(self, doc_id: int) -> None:
        """Cancel the document's work and drop it; ``document_closed`` tells the panels."""
        doc = self.documents.pop(doc_id, None)
        if doc is not None:
            # what free_closed checks is gone (weak references: these must not keep them)
            self._closed += [weakref.ref(doc.model), weakref.ref(doc.model.graph)]
            for kind in ("layout", "groups", "infer", "check", "run", "run-io"):
                self.runner.cancel(f"{kind}:{doc_id}")
            doc.run.running = False
            doc.run.set_result(None)
            self.document_closed.emit(doc_id)

    def free_closed(self) -> None:
        """Once a closed tab's views are deleted: free what it held and give the memory back.

        A tab's model is frozen when it opens (``load_and_draw``: out of every collection's
        sight), and a closed tab lets go of its drawing (``DocumentView.release``), so its model
        is normally freed by reference counting alone. Then one collection of what is not frozen
        (the windows' own objects, a comparison's models) is enough, and the open tabs' models
        are not scanned. Only when a closed model is still alive (held in a reference cycle) is
        everything thawed, collected and the open tabs' models frozen again: with a 300k-node
        model open that takes about 0.3 s of the GUI thread.

        glibc keeps memory freed here in the arenas of the worker threads that allocated it (a
        model is built on a worker), so the heap is trimmed too: without it, ten opens and closes
        of the 100k-node export left the window 47% bigger than after the first."""
        held = any(ref() is not None for ref in self._closed)
        self._closed.clear()
        if held or not self.documents:
            gc.unfreeze()
        gc.collect()
        if held and self.documents:
            gc.freeze()
        heap.trim()

    # ----------------------------------------------------------------------------------- runs

    def start_run(self, doc_id: int, prepare: ChildPrepare) -> None:
        """Run the child call ``prepare`` builds (its result: ``(RunResult, details)``) as the
        document's inference run;
        ``run_changed`` follows each step. One run per document at a time."""
        run = self.documents[doc_id].run
        if run.running:
            return
        run.set_result(None)
        run.error, run.cancelled, run.running = None, False, True
        run.started, run.progress = time.monotonic(), (0.0, "starting ONNX Runtime")

        def ended() -> None:
            run.running = False
            run.seconds = time.monotonic() - run.started

        def progressed(fraction: float, message: str) -> None:
            run.progress = (fraction, message)
            self.run_changed.emit(doc_id)

        def done(outcome: tuple[RunResult, Any]) -> None:
            ended()
            if doc_id not in self.documents:  # closed meanwhile: the result is nobody's
                outcome[0].close()
                return
            run.set_result(*outcome)
            self.run_changed.emit(doc_id)
            self.set_run_findings(doc_id, list(outcome[0].findings))

        def failed(err: TaskError) -> None:
            ended()
            run.error = (str(err.exception), err.details)
            if doc_id in self.documents:
                self.run_changed.emit(doc_id)

        self.runner.submit_child(
            f"run:{doc_id}", prepare, done, failed, progressed, what="running the model"
        )
        self.run_changed.emit(doc_id)

    def cancel_run(self, doc_id: int) -> None:
        """Stop the document's run: the runner kills its child at once."""
        doc = self.documents.get(doc_id)
        if doc is not None and doc.run.running:
            self.runner.cancel(f"run:{doc_id}")  # the runner then drops the task's result
            doc.run.running = False
            doc.run.cancelled = True
            doc.run.seconds = time.monotonic() - doc.run.started
            self.run_changed.emit(doc_id)

    def run_io(
        self,
        doc_id: int,
        work: Callable[[ProgressFn, CancelToken], Any],
        done: Callable[[Any], None],
        failed: Callable[[TaskError], None],
    ) -> None:
        """Read feeds for, or save outputs of, the document's run in the background (one at a
        time per document; closing the document cancels it)."""
        self.runner.submit(f"run-io:{doc_id}", work, done, failed)

    # ------------------------------------------------------------------------------ navigation

    def enter_graph(self, doc_id: int, path: GraphPath) -> None:
        """Show a subgraph or function body (laid out in the background the first time)."""
        doc = self.documents[doc_id]
        graph = doc.model.find_graph(path)
        if graph is None or path == doc.graph_path:
            return

        def show() -> None:
            doc.history.append(doc.graph_path)
            doc.graph_path = path
            doc.selection = None
            self.graph_changed.emit(doc_id)
            self.selection_changed.emit(doc_id)

        if path in doc.drawn:
            show()
            return

        def done(drawn: DrawnGraph) -> None:
            if doc_id in self.documents:
                doc.drawn[path] = drawn
                show()

        self.runner.submit(
            f"layout:{doc_id}",
            lambda progress, cancel: draw_collapsible(doc.model, graph, progress, cancel),
            done,
            what=f"laying out {breadcrumb(path)[-1]} of {doc.path.name}",
        )

    def go_to_level(self, doc_id: int, depth: int) -> None:
        """Breadcrumb: show the graph ``depth`` levels down from the main graph's path."""
        doc = self.documents[doc_id]
        target = _ancestor(doc.graph_path, depth)
        if target != doc.graph_path and (target in doc.drawn):
            doc.graph_path = target
            doc.selection = None
            self.graph_changed.emit(doc_id)
            self.selection_changed.emit(doc_id)

    def select(self, doc_id: int, selection: Selection | None) -> None:
        doc = self.documents.get(doc_id)
        if doc is None:
            return
        doc.selection = selection
        self.selection_changed.emit(doc_id)


def _ancestor(path: GraphPath, depth: int) -> GraphPath:
    """Subgraph paths come in pairs (node, attribute); a function is one ("function", name)."""
    if depth <= 0:
        return ()
    return path[: 2 * depth]


def breadcrumb(path: GraphPath) -> list[str]:
    """People's names for each level of ``path``: ["main graph", "loop_3 › body", ...]."""
    parts = ["main graph"]
    for i in range(0, len(path), 2):
        parts.append(" › ".join(path[i : i + 2]))
    return parts


def _labelled(drawn: DrawnGraph) -> list[Diagram]:
    """The diagrams of a drawing whose edge labels show inferred types: the one drawn, and for a
    collapsible drawing the full one its other expansion states are cut from."""
    if isinstance(drawn, CollapsibleDrawing) and drawn.folding.full is not drawn.diagram:
        return [drawn.diagram, drawn.folding.full]
    return [drawn.diagram]
