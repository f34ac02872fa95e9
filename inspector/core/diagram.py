"""Graph → the boxes and edges the view draws (and the layout places), as flat arrays.

One box per node, one per graph input and one per graph output. Initializers are not boxes: they
are listed on their consumer's box (as Netron does). Every edge is one (value, consumer) pair.
Box sizes come from a fixed text metric (no Qt here); the view elides text that does not fit.

Boxes are the unit of layout, so a later "collapsed name scope" is one more box kind that stands
for many nodes; nothing below assumes a box is exactly one node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from operator import attrgetter
from typing import Generic, TypeVar

import numpy as np

from inspector.core.categories import Category, category_of
from inspector.core.diagram_shared import plan_copies, shared_nodes
from inspector.core.graph import Graph, Model, Node, TensorType, Value, dtype_name
from inspector.core.layout import Layout, layered_layout
from inspector.core.scopes import captured_reads
from inspector.core.tasks import CancelToken, ProgressFn, gc_paused, no_progress
from inspector.core.tensor_types import format_shape
from inspector.core.text import printable

CHAR_W = 7.0  # average advance of the label font at 11 px, in scene pixels
# The title (op type) is bold and wider: per character plus once per title, an upper bound of
# its advance on every ONNX op name in DejaVu Sans Bold 11 px, so no op type is elided.
TITLE_CHAR_W = 8.0
TITLE_EXTRA = 8.0
LINE_H = 15.0
PAD_X = 10.0
PAD_Y = 6.0
MIN_W = 64.0
MAX_W = 280.0
MAX_INIT_LINES = 4  # initializer lines shown on a box before "+N more"

# Attributes worth showing on the box itself; the properties panel shows them all.
_KEY_ATTRS: dict[str, str] = {
    "kernel_shape": "k",
    "strides": "s",
    "pads": "p",
    "dilations": "d",
    "group": "g",
    "axis": "axis",
    "axes": "axes",
    "perm": "perm",
    "to": "to",
    "keepdims": "keepdims",
    "transA": "tA",
    "transB": "tB",
    "mode": "mode",
    "direction": "dir",
    "hidden_size": "hidden",
    "num_heads": "heads",
}


class BoxKind(IntEnum):
    NODE = 0
    INPUT = 1
    OUTPUT = 2
    GROUP = 3  # a collapsed group of nodes; ``ref`` is its id (inspector.core.collapse)


T = TypeVar("T")


class Lazy(Sequence[T], Generic[T]):
    """A sequence whose items are made on first read (``make(index)``) and kept: a big model's
    full diagram opens collapsed, and only the boxes and edges ever shown need their text."""

    __slots__ = ("_items", "_make")

    def __init__(self, n: int, make: Callable[[int], T]) -> None:
        self._items: list[T | None] = [None] * n
        self._make = make

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            if None not in self._items:  # all made: a plain copy
                return self._items[i]
            return [self[k] for k in range(*i.indices(len(self._items)))]
        item = self._items[i]
        if item is None:
            item = self._items[i] = self._make(i if i >= 0 else i + len(self._items))
        return item

    def __iter__(self) -> Iterator[T]:
        for i in range(len(self._items)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)


@dataclass
class Diagram:
    """What is drawn for one graph: boxes (arrays of length n) and edges (arrays of length m).

    A box's text and size and an edge's label may be made on first read (:class:`Lazy`,
    ``sizes`` NaN until measured): read sizes through ``width``/``height`` (all boxes) or
    :meth:`sizes_of` (some)."""

    graph: Graph
    kind: np.ndarray  # int8 (n,): BoxKind
    ref: np.ndarray  # int32 (n,): node index (NODE), or index into graph.inputs / graph.outputs
    category: np.ndarray  # int8 (n,): Category
    lines: Sequence[tuple[str, ...]]  # per box: title, then detail lines
    sizes: np.ndarray  # float64 (2, n): width and height; NaN: measured from ``lines`` when read
    edge_src: np.ndarray  # int32 (m,)
    edge_dst: np.ndarray  # int32 (m,)
    edge_value: list[str]  # (m,): the tensor name each edge carries
    edge_label: Sequence[str]  # (m,): "float32[1,64,56,56]" or "" when unknown
    node_box: np.ndarray  # int32 (len(graph.nodes),): node index → box index
    # int32 (n,): for a copy of a shared small value (diagram_shared), the box it repeats; else -1
    copy_of: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    _edges_by_value: dict[str, list[int]] | None = field(default=None, repr=False)

    @property
    def box_count(self) -> int:
        return len(self.kind)

    @property
    def edge_count(self) -> int:
        return len(self.edge_src)

    @property
    def width(self) -> np.ndarray:
        self.sizes_of(None)
        return self.sizes[0]

    @property
    def height(self) -> np.ndarray:
        self.sizes_of(None)
        return self.sizes[1]

    def sizes_of(self, boxes: np.ndarray | None) -> np.ndarray:
        """float64 (2, k): the width and height of ``boxes`` (None: all), measured now where
        they were not yet."""
        sizes = self.sizes
        picked = sizes if boxes is None else sizes[:, boxes]
        missing = np.isnan(picked[0])
        if missing.any():
            todo = np.flatnonzero(missing) if boxes is None else np.asarray(boxes)[missing]
            sizes[:, todo] = box_sizes([self.lines[i] for i in todo.tolist()])
            picked = sizes if boxes is None else sizes[:, boxes]
        return picked

    def box_of_input(self, i: int) -> int:
        # the first input box: after the nodes in a full diagram, after the groups when collapsed
        return int(np.argmax(self.kind == BoxKind.INPUT)) + i

    def box_of_output(self, i: int) -> int:
        return int(np.argmax(self.kind == BoxKind.OUTPUT)) + i

    def edges_of_value(self, name: str) -> list[int]:
        if self._edges_by_value is None:
            index: dict[str, list[int]] = {}
            for i, v in enumerate(self.edge_value):
                index.setdefault(v, []).append(i)
            self._edges_by_value = index
        return self._edges_by_value.get(name, [])

    def refresh_edge_labels(self) -> None:
        """Recompute the dtype/shape labels (after shape inference has filled in more types)."""
        values = self.graph.values
        edge_value = self.edge_value
        self.edge_label = Lazy(len(edge_value), lambda i: _edge_label(values[edge_value[i]]))

    def make_edge_labels(self) -> None:
        """Make every edge label now: a drawing about to be shown whole (a scene reads all its
        labels to place them) gets them on the worker that laid it out, not the GUI thread
        (100k edges: about 0.3 s)."""
        if isinstance(self.edge_label, Lazy):
            self.edge_label[:]


def box_sizes(lines: list[tuple[str, ...]]) -> np.ndarray:
    """float64 (2, k): width and height of node, input and output boxes with these lines (a
    fixed text metric; no Qt here)."""
    k = len(lines)
    longest = np.fromiter((max(map(len, ls)) for ls in lines), np.float64, k)
    line_count = np.fromiter(map(len, lines), np.float64, k)
    title = np.fromiter((len(ls[0]) for ls in lines), np.float64, k)
    text_w = np.maximum(longest * CHAR_W, title * TITLE_CHAR_W + TITLE_EXTRA)
    return np.stack((np.clip(text_w + 2 * PAD_X, MIN_W, MAX_W), line_count * LINE_H + 2 * PAD_Y))


def _attr_line(node: Node) -> str:
    parts = []
    for name, v in node.attribute_values(_KEY_ATTRS).items():
        if name == "to" and isinstance(v, int):
            text = dtype_name(v)
        elif isinstance(v, list):
            sep = "×" if name in ("kernel_shape", "strides", "dilations") else ","
            text = sep.join(str(x) for x in v)
        elif isinstance(v, float):
            text = f"{v:g}"
        else:
            text = str(v)
        parts.append(f"{_KEY_ATTRS[name]}={text}")
    return " ".join(parts)


def shown_text(text: str) -> str:
    """A name as a box shows it: control characters and bidi overrides from the file escaped
    (a newline would add a line, an override reverse the text); one cheap test for most names."""
    return text if text.isprintable() else printable(text)


def _node_lines(node: Node, values: dict[str, Value]) -> tuple[str, ...]:
    lines = [shown_text(node.op_type)]
    if node.name:
        lines.append(shown_text(node.name))
    attrs = _attr_line(node) if node.proto.attribute else ""
    if attrs:
        lines.append(shown_text(attrs))
    inits = []
    for name in node.inputs:
        v = values.get(name) if name else None
        if v is not None and v.initializer is not None:
            inits.append(v.initializer)
    for init in inits[:MAX_INIT_LINES]:
        lines.append(f"{shown_text(init.name)} ⟨{format_shape(init.shape, box=True)}⟩")
    if len(inits) > MAX_INIT_LINES:
        lines.append(f"+{len(inits) - MAX_INIT_LINES} more initializers")
    return tuple(lines)


_LABELS: dict[TensorType, str] = {}


def _edge_label(v: Value) -> str:
    t = v.type
    if t is None:
        return ""
    label = _LABELS.get(t)
    if label is None:  # few distinct types in a big model: format each once
        label = shown_text(f"{t.dtype}{format_shape(t.shape)}" if t.shape is not None else t.dtype)
        if len(_LABELS) < 65536:
            _LABELS[t] = label
    return label


def build_diagram(model: Model, graph: Graph) -> Diagram:
    """The boxes and edges of ``graph`` (the main graph, a subgraph or a function's body).

    Box text, box sizes and edge labels are made when first read (a 300k-node model opens
    collapsed and shows a few hundred boxes; making all of them took 2 s)."""
    local_functions = frozenset((f.domain, f.name) for f in model.functions)
    nodes = graph.nodes
    n_nodes, n_in, n_out = len(nodes), len(graph.inputs), len(graph.outputs)
    kind = np.full(n_nodes + n_in + n_out, BoxKind.NODE, dtype=np.int8)
    kind[n_nodes : n_nodes + n_in] = BoxKind.INPUT
    kind[n_nodes + n_in :] = BoxKind.OUTPUT
    ref = np.concatenate([np.arange(n) for n in (n_nodes, n_in, n_out)]).astype(np.int32)
    values = graph.values
    # a category per distinct (op type, domain); each node's looked up at C speed
    ops = list(map(attrgetter("op_type", "domain"), nodes))
    by_op = {key: category_of(key[0], key[1], local_functions) for key in set(ops)}
    cats: list[int] = list(map(by_op.__getitem__, ops))
    cats += [Category.INPUT] * n_in + [Category.OUTPUT] * n_out
    ends = [*graph.inputs, *graph.outputs]

    def box_lines(i: int) -> tuple[str, ...]:
        if i < n_nodes:
            return _node_lines(nodes[i], values)
        name = ends[i - n_nodes]
        t = values[name].type
        return (shown_text(name), shown_text(str(t))) if t else (shown_text(name),)

    input_box = {name: n_nodes + i for i, name in enumerate(graph.inputs)}
    # values a subgraph reads from here are drawn into its control-flow node, as inputs are
    captured = captured_reads(graph)
    src: list[int] = []
    dst: list[int] = []
    edge_value: list[str] = []
    for name, v in values.items():
        if v.initializer is not None:
            continue
        if v.producer is not None:
            s = v.producer
        elif name in input_box:
            s = input_box[name]
        else:
            continue  # outer-scope value read by a subgraph: its producer is in the parent view
        readers = [*v.consumers, *captured[name]] if name in captured else v.consumers
        if len(readers) == 1:
            src.append(s)
            dst.append(readers[0])
            edge_value.append(name)
            continue
        for c in dict.fromkeys(readers):  # a node reading the same tensor twice: one edge
            src.append(s)
            dst.append(c)
            edge_value.append(name)
    out_base = n_nodes + len(graph.inputs)
    for i, name in enumerate(graph.outputs):
        v = values[name]
        s = v.producer if v.producer is not None else input_box.get(name)
        if s is None:
            continue
        src.append(s)
        dst.append(out_base + i)
        edge_value.append(name)
    edge_src = np.array(src, dtype=np.int32)
    edge_dst = np.array(dst, dtype=np.int32)
    n = len(kind)
    # small values read far apart: a copy box at each consumer instead of long edges
    shared = np.zeros(n, bool)
    shared[:n_nodes] = shared_nodes(graph, edge_src, edge_dst)
    new_src, original = plan_copies(n, edge_src, edge_dst, shared)
    copy_of = np.full(n, -1, np.int32)
    if len(original):
        uses = np.bincount(original, minlength=n) + 1
        first_lines = box_lines

        def box_lines(i: int) -> tuple[str, ...]:  # a copy: its original's lines and a note
            if i < n:
                return first_lines(i)
            b = int(original[i - n])
            return (*first_lines(b), f"copy · shared by {int(uses[b])}")

        kind = np.concatenate((kind, kind[original]))
        ref = np.concatenate((ref, ref[original]))
        cats += [cats[b] for b in original.tolist()]
        copy_of = np.concatenate((copy_of, original.astype(np.int32)))
        edge_src = new_src.astype(np.int32)
    lines = Lazy(len(kind), box_lines)
    diagram = Diagram(
        graph=graph,
        kind=kind,
        ref=ref,
        category=np.array(cats, dtype=np.int8),
        lines=lines,
        sizes=np.full((2, len(kind)), np.nan),
        edge_src=edge_src,
        edge_dst=edge_dst,
        edge_value=edge_value,
        edge_label=[],
        node_box=np.arange(n_nodes, dtype=np.int32),
        copy_of=copy_of,
    )
    diagram.refresh_edge_labels()
    return diagram


def layout_diagram(
    diagram: Diagram, progress: ProgressFn = no_progress, cancel: CancelToken | None = None
) -> Layout:
    return layered_layout(
        diagram.width, diagram.height, diagram.edge_src, diagram.edge_dst, progress, cancel
    )


@dataclass
class DrawnGraph:
    """A graph ready to draw: its boxes and edges, and where they go."""

    diagram: Diagram
    layout: Layout


def draw_graph(
    model: Model,
    graph: Graph,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> DrawnGraph:
    """Build the diagram of ``graph`` and lay it out (the window and ``render`` both call this)."""
    progress(0.0, "building diagram")
    with gc_paused():
        diagram = build_diagram(model, graph)
    if cancel:
        cancel.check()
    layout = layout_diagram(diagram, lambda f, m: progress(0.1 + 0.9 * f, m), cancel)
    diagram.make_edge_labels()
    return DrawnGraph(diagram, layout)
