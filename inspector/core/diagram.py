"""Graph → the boxes and edges the view draws (and the layout places), as flat arrays.

One box per node, one per graph input and one per graph output. Initializers are not boxes: they
are listed on their consumer's box (as Netron does). Every edge is one (value, consumer) pair.
Box sizes come from a fixed text metric (no Qt here); the view elides text that does not fit.

Boxes are the unit of layout, so a later "collapsed name scope" is one more box kind that stands
for many nodes; nothing below assumes a box is exactly one node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from inspector.core.categories import Category, category_of
from inspector.core.graph import Graph, Model, Node, TensorType, Value, dtype_name
from inspector.core.layout import Layout, layered_layout
from inspector.core.tasks import CancelToken, ProgressFn, gc_paused, no_progress
from inspector.core.tensor_types import format_shape
from inspector.core.text import printable

CHAR_W = 7.0  # average advance of the label font at 11 px, in scene pixels
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


@dataclass
class Diagram:
    """What is drawn for one graph: boxes (arrays of length n) and edges (arrays of length m)."""

    graph: Graph
    kind: np.ndarray  # int8 (n,): BoxKind
    ref: np.ndarray  # int32 (n,): node index (NODE), or index into graph.inputs / graph.outputs
    category: np.ndarray  # int8 (n,): Category
    lines: list[tuple[str, ...]]  # per box: title, then detail lines
    width: np.ndarray  # float64 (n,)
    height: np.ndarray  # float64 (n,)
    edge_src: np.ndarray  # int32 (m,)
    edge_dst: np.ndarray  # int32 (m,)
    edge_value: list[str]  # (m,): the tensor name each edge carries
    edge_label: list[str]  # (m,): "float32[1,64,56,56]" or "" when unknown
    node_box: np.ndarray  # int32 (len(graph.nodes),): node index → box index
    _edges_by_value: dict[str, list[int]] | None = field(default=None, repr=False)

    @property
    def box_count(self) -> int:
        return len(self.kind)

    @property
    def edge_count(self) -> int:
        return len(self.edge_src)

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
        self.edge_label = [_edge_label(values[name]) for name in self.edge_value]


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


def _shown(text: str) -> str:
    """A name as a box shows it: control characters and bidi overrides from the file escaped
    (a newline would add a line, an override reverse the text); one cheap test for most names."""
    return text if text.isprintable() else printable(text)


def _node_lines(node: Node, values: dict[str, Value]) -> tuple[str, ...]:
    lines = [_shown(node.op_type)]
    if node.name:
        lines.append(_shown(node.name))
    attrs = _attr_line(node) if node.proto.attribute else ""
    if attrs:
        lines.append(_shown(attrs))
    inits = []
    for name in node.inputs:
        v = values.get(name) if name else None
        if v is not None and v.initializer is not None:
            inits.append(v.initializer)
    for init in inits[:MAX_INIT_LINES]:
        lines.append(f"{_shown(init.name)} ⟨{format_shape(init.shape, box=True)}⟩")
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
        label = _shown(f"{t.dtype}{format_shape(t.shape)}" if t.shape is not None else t.dtype)
        if len(_LABELS) < 65536:
            _LABELS[t] = label
    return label


def build_diagram(model: Model, graph: Graph) -> Diagram:
    """The boxes and edges of ``graph`` (the main graph, a subgraph or a function's body)."""
    local_functions = frozenset((f.domain, f.name) for f in model.functions)
    n_nodes, n_in, n_out = len(graph.nodes), len(graph.inputs), len(graph.outputs)
    kind = np.full(n_nodes + n_in + n_out, BoxKind.NODE, dtype=np.int8)
    kind[n_nodes : n_nodes + n_in] = BoxKind.INPUT
    kind[n_nodes + n_in :] = BoxKind.OUTPUT
    ref = np.concatenate([np.arange(n) for n in (n_nodes, n_in, n_out)]).astype(np.int32)
    by_op: dict[tuple[str, str], int] = {}
    cats: list[int] = []
    values = graph.values
    lines: list[tuple[str, ...]] = []
    for node in graph.nodes:
        key = (node.op_type, node.domain)
        c = by_op.get(key)
        if c is None:
            c = by_op[key] = category_of(node.op_type, node.domain, local_functions)
        cats.append(c)
        lines.append(_node_lines(node, values))
    cats += [Category.INPUT] * n_in + [Category.OUTPUT] * n_out
    for name in [*graph.inputs, *graph.outputs]:
        t = values[name].type
        lines.append((_shown(name), _shown(str(t))) if t else (_shown(name),))
    longest = np.fromiter((max(map(len, ls)) for ls in lines), np.float64, len(lines))
    line_count = np.fromiter(map(len, lines), np.float64, len(lines))
    width = np.clip(longest * CHAR_W + 2 * PAD_X, MIN_W, MAX_W)
    height = line_count * LINE_H + 2 * PAD_Y

    input_box = {name: n_nodes + i for i, name in enumerate(graph.inputs)}
    src: list[int] = []
    dst: list[int] = []
    values: list[str] = []
    labels: list[str] = []
    for name, v in graph.values.items():
        if v.initializer is not None:
            continue
        if v.producer is not None:
            s = v.producer
        elif name in input_box:
            s = input_box[name]
        else:
            continue  # outer-scope value read by a subgraph: its producer is in the parent view
        label = _edge_label(v)
        for c in dict.fromkeys(v.consumers):  # a node reading the same tensor twice: one edge
            src.append(s)
            dst.append(c)
            values.append(name)
            labels.append(label)
    out_base = n_nodes + len(graph.inputs)
    for i, name in enumerate(graph.outputs):
        v = graph.values[name]
        s = v.producer if v.producer is not None else input_box.get(name)
        if s is None:
            continue
        src.append(s)
        dst.append(out_base + i)
        values.append(name)
        labels.append(_edge_label(v))
    return Diagram(
        graph=graph,
        kind=kind,
        ref=ref,
        category=np.array(cats, dtype=np.int8),
        lines=lines,
        width=width,
        height=height,
        edge_src=np.array(src, dtype=np.int32),
        edge_dst=np.array(dst, dtype=np.int32),
        edge_value=values,
        edge_label=labels,
        node_box=np.arange(n_nodes, dtype=np.int32),
    )


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
    return DrawnGraph(diagram, layout)
