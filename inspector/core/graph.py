"""The graph model: format-neutral nodes, values (edges), initializers and subgraphs.

Built once from a parsed ``ModelProto`` (see :mod:`inspector.core.loader`); the views, the layout
and every check read this, never the protobuf (habit 2 of ``shared/style.md``). The protobuf stays
reachable through ``Model.proto`` for the core's own checks.

Ids are stable: a node is ``(graph.path, node.index)``; a value is its name within a graph (a
subgraph may read its parents' values by name, as ONNX scoping says).
"""

from __future__ import annotations

import functools
import operator
import os
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from inspector.core.attributes import Attribute, make_attribute, quick_value
from inspector.core.loader import (
    ExternalData,
    ExternalRef,
    LoadedFile,
    load_model_file,
    read_external_tensor,
    repair_text,
)
from inspector.core.tasks import CancelToken, ProgressFn, gc_paused, no_progress
from inspector.core.tensor_types import (
    TensorType,
    cached_type_from_proto,
    dtype_name,
    proto_text,
)


@dataclass(slots=True)
class Node:
    index: int  # position in its graph's node list: the stable id within the graph
    name: str
    op_type: str
    domain: str  # "" for the default ai.onnx domain
    inputs: list[str]  # "" marks an omitted optional input
    outputs: list[str]
    proto: onnx.NodeProto = field(repr=False)
    subgraph_by_attribute: dict[str, Graph] | None = field(default=None, repr=False)
    _attributes: list[Attribute] | None = field(default=None, repr=False)

    @property
    def attributes(self) -> list[Attribute]:
        """Every attribute, formatted (built on first use: most nodes are never looked at)."""
        if self._attributes is None:
            subs = self.subgraph_by_attribute or {}
            self._attributes = [make_attribute(a, subs.get(a.name)) for a in self.proto.attribute]
        return self._attributes

    def attribute_values(self, names: Collection[str]) -> dict[str, object]:
        """Plain values of the named scalar/list attributes, read straight from the protobuf."""
        out: dict[str, object] = {}
        for a in self.proto.attribute:
            if a.name in names:
                out[a.name] = quick_value(a)
        return out

    @property
    def doc_string(self) -> str:
        return proto_text(self.proto.doc_string)

    @property
    def subgraphs(self) -> list[tuple[str, Graph]]:
        return list(self.subgraph_by_attribute.items()) if self.subgraph_by_attribute else []

    @property
    def label(self) -> str:
        """The name if there is one, else ``OpType#index``."""
        return self.name or f"{self.op_type}#{self.index}"


@dataclass
class Initializer:
    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int  # as stored (raw or external); 0 if unknown
    external: ExternalRef | None
    _proto: TensorProto = field(repr=False)
    _base_dir: Path | None = field(default=None, repr=False)

    def array(self) -> np.ndarray:
        """The values; read from disk now if stored externally (lazily: one tensor at a time)."""
        if self.external is not None:
            return read_external_tensor(self._proto, self.external)
        if self._proto.data_location == TensorProto.EXTERNAL:
            # onnx would resolve the location against the working folder: never let it
            raise ValueError(f"'{self.name}' is stored externally and its data file is unknown")
        return numpy_helper.to_array(self._proto)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


class _ValueInfos:
    """A graph's ``value_info`` entries, read into a type only when a value's declared type is
    first asked for: a transformer export declares every intermediate value (300k at 300k
    nodes), and reading them all took 0.8 s of the open while the first drawing reads a few."""

    __slots__ = ("entries", "first")

    def __init__(self, entries: Sequence[onnx.ValueInfoProto], names: list[str]) -> None:
        self.entries = entries
        # name → its first entry (a later duplicate never counted)
        self.first = dict(zip(reversed(names), range(len(names) - 1, -1, -1), strict=True))

    def type_of(self, name: str) -> TensorType | None:
        i = self.first[name]
        t = cached_type_from_proto(self.entries[i].type)
        if t is None and len(self.first) < len(self.entries):
            # an untyped entry of a name given again: the first typed one counts, as when all
            # entries were read in order
            for vi in self.entries[i + 1 :]:
                if vi.name == name and (t := cached_type_from_proto(vi.type)) is not None:
                    break
        return t


@dataclass(slots=True)
class Value:
    """A tensor name in a graph: the edge from its producer to its consumers."""

    name: str
    inferred: TensorType | None = None  # from onnx shape inference
    type_source: str = "unknown"  # "graph input" | "graph output" | "value_info" | "initializer" | "shape inference" | "outer scope"
    producer: int | None = None  # node index in this graph
    consumers: list[int] = field(default_factory=list)
    is_input: bool = False  # a real graph input (not an initializer listed as input in IR < 4)
    is_output: bool = False
    initializer: Initializer | None = None
    _declared: TensorType | None = field(default=None, repr=False)
    _pending: _ValueInfos | None = field(default=None, repr=False)  # declared by a value_info

    @property
    def declared(self) -> TensorType | None:
        """From graph input/output, value_info or the initializer (a value_info's is read on
        first use)."""
        pending = self._pending
        if pending is not None:
            self._declared = pending.type_of(self.name)
            self._pending = None
        return self._declared

    @declared.setter
    def declared(self, t: TensorType | None) -> None:
        self._declared = t
        self._pending = None

    @property
    def type(self) -> TensorType | None:
        """The best type known: declared where given, else inferred."""
        return self.declared or self.inferred


@dataclass
class Graph:
    name: str
    path: tuple[str, ...]  # () for the main graph; ("loop_3", "body") for a Loop's body
    nodes: list[Node]
    values: dict[str, Value]
    inputs: list[str]  # real inputs, in order (initializers excluded)
    outputs: list[str]
    doc_string: str = ""
    # node label → index, and a function body's path → the nodes calling it: made on first use
    _labels: dict[str, int] | None = field(default=None, repr=False, compare=False)
    _calls: dict[tuple[str, ...], list[int]] | None = field(default=None, repr=False, compare=False)

    def node_by_label(self, label: str) -> int | None:
        """The index of the node whose :attr:`Node.label` is ``label`` (a subgraph path names
        its control-flow node so)."""
        if self._labels is None:
            self._labels = {n.label: n.index for n in self.nodes}
        return self._labels.get(label)

    def callers_of(self, function_path: tuple[str, ...]) -> list[int]:
        """The nodes calling the model-local function whose body has ``function_path``
        (``("function", "domain:name")``)."""
        if self._calls is None:
            calls: dict[tuple[str, ...], list[int]] = {}
            for n in self.nodes:
                key = ("function", f"{n.domain}:{n.op_type}" if n.domain else n.op_type)
                calls.setdefault(key, []).append(n.index)
            self._calls = calls
        return self._calls.get(function_path, [])

    def iter_graphs(self) -> Iterator[Graph]:
        """This graph and every nested subgraph, depth first."""
        yield self
        for node in self.nodes:
            subs = node.subgraph_by_attribute  # None on all but control flow: keep this loop bare
            if subs:
                for sub in subs.values():
                    yield from sub.iter_graphs()

    @property
    def initializers(self) -> list[Initializer]:
        return [v.initializer for v in self.values.values() if v.initializer is not None]


@dataclass
class Function:
    """A model-local function (FunctionProto), shown like a subgraph."""

    domain: str
    name: str
    graph: Graph
    attribute_names: list[str]
    opset_imports: dict[str, int]


@dataclass
class Model:
    path: Path | None
    file_size: int
    ir_version: int
    opset_imports: dict[str, int]  # domain ("" is ai.onnx) → version
    producer_name: str
    producer_version: str
    domain: str
    model_version: int
    doc_string: str
    metadata: dict[str, str]
    graph: Graph
    functions: list[Function]
    external_bytes: int
    proto: onnx.ModelProto = field(repr=False)
    inference_error: str = ""  # why shape inference could not run, if it could not
    types_inferred: bool = False  # whether shape inference has run (see infer_proto_types)

    def apply_inferred(self, types: dict[str, TensorType], error: str = "") -> None:
        """Store the result of :func:`infer_proto_types` on every value of every graph."""
        graphs = [*self.graph.iter_graphs(), *(f.graph for f in self.functions)]
        for g in graphs:
            for v in g.values.values():
                v.inferred = types.get(v.name)
                if v.declared is None and v.inferred is not None:
                    v.type_source = "shape inference"
        self.inference_error = error
        self.types_inferred = True

    def opset_for(self, domain: str) -> int | None:
        """The opset version in force for ``domain`` ("" and "ai.onnx" are the same)."""
        d = "" if domain == "ai.onnx" else domain
        return self.opset_imports.get(d)

    def op_counts(self) -> dict[str, int]:
        """Op type → count over the main graph and all subgraphs (functions excluded)."""
        c: Counter[str] = Counter()
        for g in self.graph.iter_graphs():
            c.update(n.op_type for n in g.nodes)
        return dict(c.most_common())

    @property
    def node_count(self) -> int:
        return sum(len(g.nodes) for g in self.graph.iter_graphs())

    def parameter_stats(self) -> tuple[int, int]:
        """(parameter count, bytes) over the initializers of every graph."""
        count = nbytes = 0
        for g in self.graph.iter_graphs():
            for init in g.initializers:
                count += init.numel
                nbytes += init.nbytes
        return count, nbytes

    def find_graph(self, path: tuple[str, ...]) -> Graph | None:
        for g in self.graph.iter_graphs():
            if g.path == path:
                return g
        for f in self.functions:
            if f.graph.path == path:
                return f.graph
        return None


# ---------------------------------------------------------------------------------------- building


def open_model(
    path: str | os.PathLike[str],
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    infer: bool = True,
) -> Model:
    """Load, parse and build the graph model of the file at ``path`` (raises ``ModelLoadError``).

    With ``infer=False`` shape inference is left for later (``infer_types_in_child`` then
    :meth:`Model.apply_inferred`): the window draws first and infers in the background.
    """
    loaded = load_model_file(path, lambda f, m: progress(0.5 * f, m), cancel)
    return build_model(loaded, lambda f, m: progress(0.5 + 0.5 * f, m), cancel, infer)


def build_model(
    loaded: LoadedFile,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    infer: bool = True,
) -> Model:
    proto = loaded.proto
    for attempt in range(2):
        inferred: dict[str, TensorType] = {}
        inference_error = ""
        if infer:
            progress(0.0, "inferring shapes")
            inferred, inference_error = infer_proto_types(proto)
        if cancel:
            cancel.check()
        progress(0.4, "building graph")
        builder = _Builder(inferred, loaded, cancel)
        with gc_paused():
            graph = builder.graph(proto.graph, ())
            functions = [
                Function(
                    proto_text(f.domain),
                    proto_text(f.name),
                    builder.function_graph(f),
                    [proto_text(a) for a in f.attribute],
                    {proto_text(o.domain): o.version for o in f.opset_import},
                )
                for f in proto.functions
            ]
        # Invalid UTF-8 is rare, and finding it costs a walk over every field: look only where
        # the build already went, and repair the whole protobuf (then build again) if it is met.
        if attempt or not _has_undecodable_text(proto, [graph, *(f.graph for f in functions)]):
            break
        repair_text(proto)
    progress(1.0, "built")
    return Model(
        path=loaded.path,
        file_size=loaded.file_size,
        ir_version=proto.ir_version,
        opset_imports={proto_text(o.domain): o.version for o in proto.opset_import},
        producer_name=proto.producer_name,
        producer_version=proto.producer_version,
        domain=proto.domain,
        model_version=proto.model_version,
        doc_string=proto.doc_string,
        metadata={p.key: p.value for p in proto.metadata_props},
        graph=graph,
        functions=functions,
        external_bytes=loaded.external_bytes,
        proto=proto,
        inference_error=inference_error,
        types_inferred=infer,
    )


def _has_undecodable_text(proto: onnx.ModelProto, graphs: list[Graph]) -> bool:
    """Whether a string the graph model shows came back as ``bytes`` (invalid UTF-8): model
    properties, metadata, graph names, node names, op types, domains, value names and symbolic
    dims. (Node doc strings and attributes are decoded where they are read.) C-level ``map``
    over the built objects: about 30 ms at 100k nodes."""
    fields: list[object] = [
        proto.producer_name,
        proto.producer_version,
        proto.domain,
        proto.doc_string,
        proto.graph.doc_string,
    ]
    fields += [x for p in proto.metadata_props for x in (p.key, p.value)]
    fields += [o.domain for o in proto.opset_import]
    fields += [x for f in proto.functions for x in (f.name, f.domain)]
    types: set[type] = set(map(type, fields))
    name, op_type, domain = (operator.attrgetter(a) for a in ("name", "op_type", "domain"))
    for top in graphs:
        for g in top.iter_graphs():
            types.add(type(g.name))
            types.update(map(type, g.values))
            types.update(map(type, map(name, g.nodes)))
            types.update(map(type, set(map(op_type, g.nodes))))
            types.update(map(type, set(map(domain, g.nodes))))
            # Types are shared (cached_type_from_proto): distinct by identity, found at C
            # speed (hashing 100k frozen dataclasses took 0.17 s). A value_info's type not read
            # yet is not read for this: its symbolic dims are decoded when it is (proto_text).
            declared = list(map(operator.attrgetter("_declared"), g.values.values()))
            for t in dict(zip(map(id, declared), declared, strict=True)).values():
                if t is not None and t.shape:
                    types.update(map(type, t.shape))
    return bytes in types


def infer_proto_types(proto: onnx.ModelProto) -> tuple[dict[str, TensorType], str]:
    """onnx shape inference: (value name → type over every graph, error text or "").

    Names are unique model-wide in valid SSA, so one dict serves the main graph and subgraphs.
    The window runs this in a child process (:mod:`inspector.core.infer_process`).
    """
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False)
    except Exception as e:  # inference is best-effort: a fault must not stop the model opening
        return {}, f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    out: dict[str, TensorType] = {}

    def walk(g: onnx.GraphProto) -> None:
        for vi in list(g.value_info) + list(g.output) + list(g.input):
            t = cached_type_from_proto(vi.type)
            name = proto_text(vi.name)  # the window's child infers on the file as it is
            if t is not None and name not in out:
                out[name] = t
        for n in g.node:
            for a in n.attribute:
                if a.type == AttributeProto.GRAPH:
                    walk(a.g)
                elif a.type == AttributeProto.GRAPHS:
                    for sg in a.graphs:
                        walk(sg)

    walk(inferred.graph)
    return out, ""


class _Builder:
    def __init__(
        self, inferred: dict[str, TensorType], loaded: LoadedFile, cancel: CancelToken | None
    ) -> None:
        self.inferred = inferred
        self.external = loaded.external
        self.external_data: ExternalData | None = loaded.external_data
        self.base_dir = loaded.path.parent
        self.cancel = cancel

    def graph(self, g: onnx.GraphProto, path: tuple[str, ...]) -> Graph:
        values: dict[str, Value] = {}

        def value(name: str) -> Value:
            v = values.get(name)
            if v is None:
                v = values[name] = Value(name)
            return v

        for t in g.initializer:
            v = value(t.name)
            v.initializer = self._initializer(t, path)
            v.declared = TensorType(v.initializer.dtype, v.initializer.shape)
            v.type_source = "initializer"
        for st in g.sparse_initializer:
            v = value(st.values.name)
            v.declared = TensorType(f"sparse({dtype_name(st.values.data_type)})", tuple(st.dims))
            v.type_source = "initializer"
        inputs: list[str] = []
        for vi in g.input:
            v = value(vi.name)
            if v.initializer is not None:
                continue  # IR < 4: initializers are listed as inputs too; they act as constants
            v.is_input = True
            v.declared = cached_type_from_proto(vi.type)
            v.type_source = "graph input"
            inputs.append(vi.name)
        get = values.get
        if len(g.value_info):
            infos = _ValueInfos(g.value_info, [vi.name for vi in g.value_info])
            for name in infos.first:
                v = get(name)
                if v is None:
                    v = values[name] = Value(name)
                if v._declared is None:  # an input's or initializer's own type comes first
                    v._pending = infos
                    v.type_source = "value_info"
        nodes: list[Node] = []
        cancel = self.cancel
        # One string object per op type, not one per node (300k nodes: 15 MB).
        op_types: dict[str, str] = {}
        intern_op = op_types.setdefault
        for i, n in enumerate(g.node):
            if cancel is not None and i % 4096 == 0:
                cancel.check()
            ins = n.input[:]  # a slice is a plain list, made faster than list(...)
            outs = n.output[:]
            op_type = n.op_type
            op_type = intern_op(op_type, op_type)
            domain = n.domain
            node = Node(i, n.name, op_type, domain, ins, outs, n)
            # Only control flow and non-standard ops (e.g. com.microsoft's BeamSearch) carry graph
            # attributes; not scanning every node's attributes saves ~0.3 s at 100k nodes.
            if op_type in _GRAPH_OPS or domain not in _STANDARD_DOMAINS:
                subs = {
                    a.name: self.graph(a.g, (*path, n.name or f"{op_type}#{i}", a.name))
                    for a in n.attribute
                    if a.type == _GRAPH
                }
                node.subgraph_by_attribute = subs or None
            nodes.append(node)
            # Each tensor name is kept once, as its Value's name: the protobuf hands out a new
            # string per read, and a 300k-node graph reads about a million (60 MB).
            for k, name in enumerate(ins):
                if name:
                    v = get(name)
                    if v is None:
                        v = values[name] = Value(name)
                    else:
                        ins[k] = v.name
                    v.consumers.append(i)
            for k, name in enumerate(outs):
                if name:
                    v = get(name)
                    if v is None:
                        v = values[name] = Value(name)
                    else:
                        outs[k] = v.name
                    v.producer = i
        outputs: list[str] = []
        for vi in g.output:
            v = value(vi.name)
            v.is_output = True
            t = cached_type_from_proto(vi.type)
            if v.declared is None or v.type_source == "value_info":
                v.declared = t
                v.type_source = "graph output"
            outputs.append(vi.name)
        if not self.inferred and not path:
            return Graph(g.name, path, nodes, values, inputs, outputs, proto_text(g.doc_string))
        for v in values.values():
            v.inferred = self.inferred.get(v.name)
            if v.declared is None and v.inferred is not None:
                v.type_source = "shape inference"
            elif (
                v.declared is None
                and v.producer is None
                and not v.is_input
                and v.initializer is None
                and path
            ):
                v.type_source = "outer scope"
        return Graph(g.name, path, nodes, values, inputs, outputs, proto_text(g.doc_string))

    def function_graph(self, f: onnx.FunctionProto) -> Graph:
        gp = onnx.GraphProto(
            name=proto_text(f.name), node=f.node, doc_string=proto_text(f.doc_string)
        )
        gp.input.extend(onnx.ValueInfoProto(name=proto_text(n)) for n in f.input)
        gp.output.extend(onnx.ValueInfoProto(name=proto_text(n)) for n in f.output)
        gp.value_info.extend(f.value_info)
        return self.graph(gp, ("function", f"{f.domain}:{f.name}" if f.domain else f.name))

    def _initializer(self, t: TensorProto, path: tuple[str, ...]) -> Initializer:
        ext = None
        if t.data_location == TensorProto.EXTERNAL:
            # the main graph's were resolved while loading; a subgraph's are resolved here
            ext = None if path else self.external.get(t.name)
            if ext is None and self.external_data is not None:
                ext = self.external_data.ref(t)
        dims = tuple(t.dims)
        if ext is not None:
            nbytes = ext.length
        else:
            # From dims and dtype: reading t.raw_data would copy the weights just to count them.
            n = 1
            for d in dims:
                n *= d
            nbytes = n * _itemsize(t.data_type)
        return Initializer(t.name, dtype_name(t.data_type), dims, nbytes, ext, t, self.base_dir)


@functools.cache
def _itemsize(elem_type: int) -> int:
    """Bytes per element as numpy holds it (what ``numpy_helper.to_array(t).nbytes`` counts)."""
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(elem_type).itemsize
    except Exception:  # a dtype this onnx does not map to numpy
        return 0


_GRAPH = AttributeProto.GRAPH
_GRAPH_OPS = frozenset(("If", "Loop", "Scan", "SequenceMap"))
_STANDARD_DOMAINS = frozenset(("", "ai.onnx", "ai.onnx.ml"))
