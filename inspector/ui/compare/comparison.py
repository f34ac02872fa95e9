"""The owner of the window's comparisons: two models, their drawings, their diff, the selection.

A compare tab (:mod:`.view`) shows one :class:`Comparison` and calls :class:`Comparisons` for
everything; it redraws when the signals (past tense, carrying the comparison's id) say what
changed. Opening both files and diffing them run on the task runner, off the GUI thread: the two
graphs are shown as soon as they are laid out, and the colours follow when the diff is done.

Documents (one model per tab) stay the session's; a comparison opens its own copies of the two
files, so a fixed model compared with its original does not need a tab of its own.

Known limitations: only the main graphs are drawn and coloured (a changed subgraph shows on the
node that holds it, as the diff reports it there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from inspector.core.diagram import BoxKind, Diagram, DrawnGraph
from inspector.core.diff import ModelDiff, diff_models
from inspector.core.diff.numeric import NumericDiff, compare_call
from inspector.core.findings import Finding
from inspector.core.graph import Model, TensorType
from inspector.core.infer_process import infer_types_call
from inspector.core.loader import ModelLoadError
from inspector.core.tasks import CancelToken, ProgressFn
from inspector.ui.session import load_and_draw
from inspector.ui.tasks import TaskError, TaskRunner

#: What a box is in a comparison (the values of :attr:`Side.state`).
SAME, CHANGED, REMOVED, ADDED = 0, 1, 2, 3
STATE_NAMES = {SAME: "same", CHANGED: "changed", REMOVED: "only in A", ADDED: "only in B"}


@dataclass
class Side:
    """One of the two models and how its boxes relate to the other's."""

    path: Path
    model: Model
    drawn: DrawnGraph
    state: np.ndarray | None = None  # int8 per box: SAME / CHANGED / REMOVED / ADDED
    match: np.ndarray | None = None  # int32 per box: the other side's box, -1 for none
    # box → what changed on it, one line each (both sides of a changed pair hold the same lines)
    changes: dict[int, list[str]] = field(default_factory=dict)

    @property
    def diagram(self) -> Diagram:
        return self.drawn.diagram


@dataclass
class Comparison:
    """One compare tab: model A (the original) against model B (the other, or fixed, one)."""

    comp_id: int
    a: Side
    b: Side
    diff: ModelDiff | None = None
    diffing: bool = True  # no diff yet (a second one, after shape inference, keeps the first's)
    types_inferred: bool = False  # both models' shape inference ended and the diff is redone
    error: str = ""  # why the diff did not finish, if it did not
    model_lines: list[str] = field(default_factory=list)  # differences of the whole models
    selected: tuple[int | None, int | None] = (None, None)  # a box on each side
    note: str = ""  # shown over the views (a fix's verdict, say)
    tolerance: tuple[float, float] | None = None  # (rtol, atol) of Compare Outputs; a fix's
    # "Compare Outputs": both models run on the same inputs, intermediates captured
    numeric: NumericDiff | None = None
    numeric_running: bool = False
    numeric_error: str = ""  # why the run did not finish (our side; ORT's failures are findings)

    def side(self, which: str) -> Side:
        return self.a if which == "a" else self.b

    @property
    def findings(self) -> list[Finding]:
        return list(self.diff.findings) if self.diff is not None else []


@dataclass
class BoxStates:
    """The diff read onto the drawings' boxes (computed on a worker)."""

    state_a: np.ndarray
    state_b: np.ndarray
    match_a: np.ndarray
    match_b: np.ndarray
    changes_a: dict[int, list[str]]
    changes_b: dict[int, list[str]]
    model_lines: list[str]  # what differs in the models as a whole (opset, metadata, functions)


def box_states(diff: ModelDiff, a: Diagram, b: Diagram) -> BoxStates:
    """Colour and pair every box of both main-graph drawings from ``diff``.

    Nodes follow the diff's pairs. A pair the diff lists as changed is CHANGED on both sides; a
    node of A alone is REMOVED, of B alone ADDED.
    """
    state_a = np.full(a.box_count, SAME, np.int8)
    state_b = np.full(b.box_count, SAME, np.int8)
    match_a = np.full(a.box_count, -1, np.int32)
    match_b = np.full(b.box_count, -1, np.int32)
    pairs = np.array([(i, j) for i, j in diff.pairs], np.int64).reshape(-1, 2)
    if len(pairs):
        ba, bb = a.node_box[pairs[:, 0]], b.node_box[pairs[:, 1]]
        match_a[ba], match_b[bb] = bb, ba
    state_a[a.node_box[np.array(list(diff.removed), np.int64)]] = REMOVED
    state_b[b.node_box[np.array(list(diff.added), np.int64)]] = ADDED
    changes_a: dict[int, list[str]] = {}
    changes_b: dict[int, list[str]] = {}
    for change in diff.changed:
        box_a, box_b = int(a.node_box[change.a]), int(b.node_box[change.b])
        state_a[box_a] = state_b[box_b] = CHANGED
        changes_a[box_a] = changes_b[box_b] = list(change.lines)
    # Graph inputs and outputs: paired as the diff paired their tensors (a renamed input
    # still pairs), else by name; the diff's model-level lines on one of them colour its box.
    twin = {ta: tb for ta, tb in diff.tensor_pairs}
    io_lines: dict[str, list[str]] = {}
    model_lines: list[str] = []
    for f in diff.findings:
        if f.node_index is None and f.other_node_index is None:
            if f.tensor:
                io_lines.setdefault(f.tensor, []).append(f.message)
            else:
                model_lines.append(f.message)
    for kind, names_a, names_b in (
        (BoxKind.INPUT, a.graph.inputs, b.graph.inputs),
        (BoxKind.OUTPUT, a.graph.outputs, b.graph.outputs),
    ):
        box_of = a.box_of_input if kind is BoxKind.INPUT else a.box_of_output
        other_box_of = b.box_of_input if kind is BoxKind.INPUT else b.box_of_output
        where_b = {name: k for k, name in enumerate(names_b)}
        for k, name in enumerate(names_a):
            box = box_of(k)
            other_name = twin.get(name, name)
            if other_name in where_b:
                other = other_box_of(where_b.pop(other_name))
                match_a[box], match_b[other] = other, box
                if name in io_lines:
                    state_a[box] = state_b[other] = CHANGED
                    changes_a[box] = changes_b[other] = io_lines[name]
            else:
                state_a[box] = REMOVED
        for k in where_b.values():
            state_b[other_box_of(k)] = ADDED
    return BoxStates(state_a, state_b, match_a, match_b, changes_a, changes_b, model_lines)


def _open_both(path_a: Path, path_b: Path):
    def work(progress: ProgressFn, cancel: CancelToken) -> tuple[Side, Side]:
        first = load_and_draw(path_a)(lambda f, m: progress(f / 2, f"A: {m}"), cancel)
        second = load_and_draw(path_b)(lambda f, m: progress(0.5 + f / 2, f"B: {m}"), cancel)
        return Side(path_a, *first), Side(path_b, *second)

    return work


def _diff(a: Side, b: Side):
    def work(_progress: ProgressFn, cancel: CancelToken) -> tuple[ModelDiff, BoxStates]:
        diff = diff_models(a.model, b.model, cancel)
        return diff, box_states(diff, a.diagram, b.diagram)

    return work


class Comparisons(QObject):
    """Open comparisons, keyed by id; each is one compare tab."""

    open_failed = Signal(str)  # one line: which file could not be read, and what to do
    opened = Signal(int)  # comparison id: both graphs are laid out (not yet diffed)
    diffed = Signal(int)  # comparison id: the diff finished (or failed: ``error`` says why)
    selection_changed = Signal(int)  # comparison id
    numeric_changed = Signal(int)  # comparison id: its output comparison started or finished

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.comparisons: dict[int, Comparison] = {}
        self._next_id = 1

    def open(
        self,
        path_a: str | Path,
        path_b: str | Path,
        note: str = "",
        tolerance: tuple[float, float] | None = None,
    ) -> None:
        """Open both files and diff them in the background: ``opened``, then ``diffed`` (or
        ``open_failed``). ``note`` is shown over the views (what made B, say); ``tolerance``
        (rtol, atol) is what Compare Outputs holds them to (default: the inference runner's)."""
        a, b = Path(path_a).expanduser(), Path(path_b).expanduser()
        key = f"compare-open:{a}|{b}"

        def done(sides: tuple[Side, Side]) -> None:
            comp = Comparison(self._next_id, *sides, note=note, tolerance=tolerance)
            self._next_id += 1
            self.comparisons[comp.comp_id] = comp
            self.opened.emit(comp.comp_id)
            self._start_diff(comp)

        def failed(err: TaskError) -> None:
            if isinstance(err.exception, ModelLoadError):
                self.open_failed.emit(f"Could not compare: {err.exception}")
            else:
                self.open_failed.emit(
                    f"Could not compare {a.name} with {b.name} "
                    f"({type(err.exception).__name__}: {err.exception})"
                )

        self.runner.submit(key, _open_both(a, b), done, failed, what=f"opening {a.name}, {b.name}")

    def _infer(self, comp: Comparison) -> None:
        """Infer both models' types in child processes (at once: no thread waits on them), then
        diff again: the first diff sees only the types the files declare, and the command
        line's ``diff`` compares inferred ones too."""
        cid = comp.comp_id
        waiting = {"a", "b"}

        def inferred(which: str) -> None:
            waiting.discard(which)
            if not waiting and cid in self.comparisons:
                comp.types_inferred = True
                self._start_diff(comp)

        for which in ("a", "b"):
            side = comp.side(which)

            def apply(result: tuple[dict[str, TensorType], str], side: Side = side) -> None:
                side.model.apply_inferred(*result)  # on a worker thread, as a tab's inference
                side.diagram.refresh_edge_labels()

            def failed(err: TaskError, which: str = which) -> None:
                self.runner.report(err)
                inferred(which)

            self.runner.submit_child(
                f"compare-infer-{which}:{cid}",
                infer_types_call(side.path).then(apply),
                lambda _none, which=which: inferred(which),
                failed,
                what=f"inferring shapes of {side.path.name}",
            )

    def _start_diff(self, comp: Comparison) -> None:
        cid = comp.comp_id

        def done(result: tuple[ModelDiff, BoxStates]) -> None:
            if cid not in self.comparisons:
                return
            comp.diff, states = result
            comp.a.state, comp.b.state = states.state_a, states.state_b
            comp.a.match, comp.b.match = states.match_a, states.match_b
            comp.a.changes, comp.b.changes = states.changes_a, states.changes_b
            comp.model_lines = states.model_lines
            first, comp.diffing = comp.diffing, False
            self.diffed.emit(cid)
            if first and cid in self.comparisons:  # (a slot may have closed it)
                self._infer(comp)  # after the first colours, which the children would slow

        def failed(err: TaskError) -> None:
            comp.diffing = False
            comp.error = f"the comparison stopped ({type(err.exception).__name__}: {err.exception})"
            if cid in self.comparisons:
                self.diffed.emit(cid)
            self.runner.report(err)

        self.runner.submit(
            f"compare-diff:{cid}",
            _diff(comp.a, comp.b),
            done,
            failed,
            what=f"comparing {comp.a.path.name} with {comp.b.path.name}",
        )

    def settled(self, comp_id: int) -> bool:
        """Whether the comparison's diff is final: types inferred, no diff running."""
        comp = self.comparisons.get(comp_id)
        return (
            comp is not None
            and comp.types_inferred
            and not self.runner.is_running(f"compare-diff:{comp_id}")
        )

    def compare_outputs(self, comp_id: int) -> None:
        """Run both models on the same random inputs in a child process, every output and every
        matched intermediate compared: ``numeric_changed`` when it starts and when it ends."""
        comp = self.comparisons.get(comp_id)
        if comp is None or comp.numeric_running:
            return
        comp.numeric, comp.numeric_error, comp.numeric_running = None, "", True
        a, b = comp.a, comp.b
        tolerance = (
            dict(zip(("rtol", "atol"), comp.tolerance, strict=True)) if comp.tolerance else {}
        )

        def prepare(_progress: ProgressFn, _cancel: CancelToken):
            # writes both feeds: on a worker, not the GUI thread
            return compare_call(
                a.path,
                b.path,
                intermediates=True,
                models=(a.model, b.model),
                structure=comp.diff,  # None while diffing: the call then makes its own
                **tolerance,
            )

        def done(result: NumericDiff) -> None:
            comp.numeric, comp.numeric_running = result, False
            if comp_id in self.comparisons:
                self.numeric_changed.emit(comp_id)

        def failed(err: TaskError) -> None:
            comp.numeric_running = False
            comp.numeric_error = f"{type(err.exception).__name__}: {err.exception}"
            if comp_id in self.comparisons:
                self.numeric_changed.emit(comp_id)

        self.runner.submit_child(
            f"compare-run:{comp_id}",
            prepare,
            done,
            failed,
            what=f"running {a.path.name} and {b.path.name} on the same inputs",
        )
        self.numeric_changed.emit(comp_id)

    def select(self, comp_id: int, which: str, box: int | None) -> None:
        """Select ``box`` on side ``which`` ("a"/"b") and its match on the other; None clears."""
        comp = self.comparisons.get(comp_id)
        if comp is None:
            return
        if box is None:
            comp.selected = (None, None)
        else:
            match = comp.side(which).match
            other = int(match[box]) if match is not None and match[box] >= 0 else None
            comp.selected = (box, other) if which == "a" else (other, box)
        self.selection_changed.emit(comp_id)

    def close(self, comp_id: int) -> None:
        if self.comparisons.pop(comp_id, None) is not None:
            self.runner.cancel(f"compare-diff:{comp_id}")
            for key in ("run", "infer-a", "infer-b"):
                self.runner.cancel(f"compare-{key}:{comp_id}")
