"""The properties panel: everything known about the selected node, tensor, or the model itself.

It shows the selection of the session's document chosen with :meth:`PropertiesPanel.set_document`
and redraws when the session says that document's selection, graph, types or findings changed.
It reads the core's graph model (never a protobuf) and shows it as compact, selectable rich text.
Names in it are links: clicking one emits ``node_requested``, ``value_requested`` or
``subgraph_requested`` with an id; the window (through the session) decides what to do.

An initializer's statistics are computed only when it is shown: small tensors (up to
``INLINE_LIMIT`` elements, a few ms) at once; bigger ones in the background (on the session's
task runner unless another is given), so the GUI thread never waits. ONNX Runtime's operator
registry, needed for ``com.microsoft`` operators, is loaded the same way (with the runner set to
None it is loaded in place, ~0.1 s once, and a big tensor's statistics are skipped).
The pages themselves are built by :mod:`inspector.ui.panels.property_pages`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QEvent, Qt, QUrl, Signal
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from inspector.core.findings import findings_at
from inspector.core.graph import Graph, Initializer, Model
from inspector.core.opdocs import load_runtime_schemas, needs_runtime_schemas
from inspector.core.tasks import Cancelled, CancelToken
from inspector.core.tensor_stats import TensorStats, tensor_stats
from inspector.ui.panels.follows import FollowsDocument
from inspector.ui.panels.page import FindingLike, Page, style_sheet
from inspector.ui.panels.property_pages import model_page, node_page, placeholder, value_page
from inspector.ui.session import Session

INLINE_LIMIT = 1 << 22  # elements: at most ~25 ms to read and summarise on the GUI thread

#: ``run_in_background(fn, on_done)``: call ``fn()`` off the GUI thread, then ``on_done(result)``
#: on it. By default the session's task runner; tests pass e.g. ``lambda fn, done: done(fn())``. The panel cancels its own work (``fn`` then returns early),
#: so a runner that drops a superseded task's result is fine, and so is one that does not.
BackgroundRunner = Callable[[Callable[[], Any], Callable[[Any], None]], object]
#: Background work for the current view; it checks the token between chunks.
_Work = Callable[[CancelToken], Any]
_CANCELLED = object()  # what a job returns when its view was left before it finished

_StatsKey = tuple[tuple[str, ...], str]  # (graph path, initializer name)
_SCHEMAS_JOB = "runtime-schemas"


class PropertiesPanel(QWidget, FollowsDocument):
    """Read-only properties of a node, a tensor or the model, with findings at the top."""

    node_requested = Signal(int)  # node index in the graph shown
    value_requested = Signal(str)  # tensor name in the graph shown
    subgraph_requested = Signal(object)  # tuple[str, ...]: the path of a subgraph or function

    def __init__(
        self,
        session: Session,
        parent: QWidget | None = None,
        run_in_background: BackgroundRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.doc_id: int | None = None
        self._browser = QTextBrowser(self)
        self._browser.setOpenLinks(False)
        self._browser.setFrameShape(QTextBrowser.Shape.NoFrame)
        # Text wraps to the panel's width; Qt's table layout can still round a column up by a
        # pixel, which would otherwise show a useless horizontal scroll bar.
        self._browser.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._browser.anchorClicked.connect(self._on_anchor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._browser)
        self._runner = run_in_background or self._submit
        self._page = Page()
        self._render: Callable[[], Page] | None = None
        self._jobs: dict[object, CancelToken] = {}  # background work for the current view
        self._stats_model: Model | None = None
        self._stats: dict[_StatsKey, TensorStats | str] = {}  # result, or why there is none
        for changed in (
            session.selection_changed,
            session.graph_changed,
            session.types_inferred,
            session.findings_changed,
        ):
            changed.connect(self._document_changed)
        session.document_closed.connect(self._document_closed)
        self.clear()

    # ------------------------------------------------------------------------------ public API

    def set_document(self, doc_id: int | None) -> None:
        """Show what is selected in document ``doc_id`` (the model when nothing is); None:
        nothing."""
        self.doc_id = doc_id
        doc = self.session.documents.get(doc_id) if doc_id is not None else None
        if doc is None:
            self.clear()
            return
        sel = doc.selection
        if sel is None:
            self.show_model(
                doc.model, [f for f in doc.findings if f.node_index is None and not f.tensor]
            )
        elif sel.kind == "node":
            found = findings_at(doc.findings, doc.graph_path, node_index=int(sel.ident))
            self.show_node(doc.model, doc.graph, int(sel.ident), found)
        else:
            found = findings_at(doc.findings, doc.graph_path, tensor=str(sel.ident))
            # the run's values are of the main graph's tensors
            captured = doc.run.captured_value(str(sel.ident)) if not doc.graph_path else None
            self.show_value(
                doc.model, doc.graph, str(sel.ident), found, captured.stats if captured else None
            )

    def set_background_runner(self, run_in_background: BackgroundRunner | None) -> None:
        """Where big statistics and slow lookups run; None: nowhere (big statistics are skipped)."""
        self._runner = run_in_background

    def clear(self) -> None:
        """Show nothing (no model, or nothing selected)."""
        self._show(lambda: placeholder("Select a node or a tensor to see its properties."))

    def show_node(
        self, model: Model, graph: Graph, node_index: int, findings: Sequence[FindingLike] = ()
    ) -> None:
        """The node's operator, schema, attributes, inputs and outputs."""
        if not 0 <= node_index < len(graph.nodes):
            self._show(lambda: placeholder(f"There is no node #{node_index} in this graph."))
            return
        node = graph.nodes[node_index]

        def prepare() -> None:
            if needs_runtime_schemas(node.domain):
                self._start(_SCHEMAS_JOB, _load_schemas, lambda _result: None)

        self._show(
            lambda: node_page(model, graph, node, findings, _SCHEMAS_JOB in self._jobs), prepare
        )

    def show_value(
        self,
        model: Model,
        graph: Graph,
        name: str,
        findings: Sequence[FindingLike] = (),
        captured: Mapping[str, Any] | None = None,
    ) -> None:
        """The tensor's types, producer and consumers; an initializer's values, summarised;
        ``captured``: its values' statistics from the last inference run, if captured."""
        value = graph.values.get(name)
        if value is None:
            self._show(lambda: placeholder(f"There is no tensor named '{name}' in this graph."))
            return
        init = value.initializer
        self._show(
            lambda: value_page(graph, value, findings, self._stats_state(graph, init), captured),
            (lambda: self._ensure_stats(model, graph, init)) if init is not None else None,
        )

    def show_model(self, model: Model, findings: Sequence[FindingLike] = ()) -> None:
        """The model's properties (those ``info`` prints), with links to inputs and subgraphs."""
        self._show(lambda: model_page(model, findings))

    def _submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None]) -> None:
        self.session.runner.submit(
            "stats",
            lambda _progress, _cancel: fn(),
            on_done,
            what="filling in the Properties panel",
        )

    # ------------------------------------------------------------------------------ rendering

    def _show(self, render: Callable[[], Page], prepare: Callable[[], None] | None = None) -> None:
        """Make ``render`` the current view: stop the old view's work, start (``prepare``) the
        new one's, draw from the top."""
        for token in self._jobs.values():
            token.cancel()
        self._jobs.clear()
        self._render = render
        if prepare is not None:
            prepare()
        self._refresh(keep_scroll=False)

    def _refresh(self, keep_scroll: bool = True) -> None:
        if self._render is None:
            return
        bar = self._browser.verticalScrollBar()
        position = bar.value()
        self._page = self._render()
        self._browser.document().setDefaultStyleSheet(style_sheet(self.palette()))
        self._browser.setHtml(self._page.html())
        bar.setValue(position if keep_scroll else 0)

    def changeEvent(self, event: QEvent) -> None:
        """Restyle when the theme (the palette) changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh()

    def _on_anchor(self, url: QUrl) -> None:
        link = self._page.target(url.toString())
        if link is None:
            return
        if link.kind == "node":
            self.node_requested.emit(link.target)
        elif link.kind == "value":
            self.value_requested.emit(link.target)
        elif link.kind == "graph":
            self.subgraph_requested.emit(link.target)

    # ------------------------------------------------------------------------------ background

    def _start(self, key: object, work: _Work, on_done: Callable[[Any], None]) -> None:
        """Run ``work`` in the background for the current view; refresh the view when it is done.

        Leaving the view cancels the work's token: it stops early, and its result is dropped.
        """
        if key in self._jobs or self._runner is None:
            return
        token = self._jobs[key] = CancelToken()

        def run() -> Any:
            try:
                return work(token)
            except Cancelled:
                return _CANCELLED

        def done(result: Any) -> None:
            if result is _CANCELLED or token.cancelled:
                return
            on_done(result)
            if self._jobs.get(key) is token:
                del self._jobs[key]
                self._refresh()

        self._runner(run, done)

    def _ensure_stats(self, model: Model, graph: Graph, init: Initializer) -> None:
        if model is not self._stats_model:  # a new model: forget the old one's results
            self._stats_model = model
            self._stats.clear()
        key = (graph.path, init.name)
        if key in self._stats:
            return
        if init.numel <= INLINE_LIMIT:
            self._stats[key] = _stats_work(init)(CancelToken())
            return

        def store(result: TensorStats | str) -> None:
            if self._stats_model is model:  # not a late result for a model since replaced
                self._stats[key] = result

        self._start(key, _stats_work(init), store)

    def _stats_state(self, graph: Graph, init: Initializer | None) -> TensorStats | str | None:
        """The statistics, a reason why there are none, or None while they are being computed."""
        if init is None:
            return None
        key = (graph.path, init.name)
        if key in self._stats:
            return self._stats[key]
        if key in self._jobs:
            return None
        return (
            f"not computed: {init.numel:,} values are too many to read here (no background runner)"
        )


# ---------------------------------------------------------------------------------- background


def _load_schemas(_cancel: CancelToken) -> None:
    load_runtime_schemas()


def _stats_work(init: Initializer) -> _Work:
    """Work that reads ``init`` and summarises it; a failure becomes the text shown instead."""

    def work(cancel: CancelToken) -> TensorStats | str:
        try:
            arr = init.array()
            cancel.check()
            return tensor_stats(arr, cancel=cancel)
        except Cancelled:
            raise
        except Exception as e:  # an unreadable tensor is shown as such, never crashes the panel
            return f"could not read the values ({type(e).__name__}: {e})"

    return work
