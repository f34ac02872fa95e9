"""What differs between two paired nodes, and between the two models around their graphs.

Each difference is one line for people ("attribute alpha: 0.2 → 0.3"); the structural diff
(:mod:`inspector.core.diff.structural`) turns them into findings.
"""

from __future__ import annotations

import functools

import numpy as np
import onnx
from onnx import AttributeProto, numpy_helper

from inspector.core.attributes import make_attribute, quick_value
from inspector.core.diff.match import COMMUTATIVE, Matching, match_graphs, past_unmatched
from inspector.core.graph import Graph, Initializer, Model, Node, Value
from inspector.core.tensor_types import Shape, TensorType, format_shape
from inspector.core.text import format_float


class ChangeFinder:
    """The change lines of paired nodes of models A and B, given the matching of their graphs."""

    def __init__(self, a: Model, b: Model, matching: Matching) -> None:
        self.a, self.b, self.m = a, b, matching
        self._init_cache: dict[tuple[int, int], str | None] = {}
        self.same_opsets = a.opset_imports == b.opset_imports

    def node_lines(
        self, na: Node, nb: Node, ga: Graph | None = None, gb: Graph | None = None
    ) -> list[str]:
        """What differs between ``na`` (in ``ga``, default A's main graph) and ``nb``."""
        ga = ga or self.a.graph
        gb = gb or self.b.graph
        lines: list[str] = []
        if (na.op_type, na.domain) != (nb.op_type, nb.domain):
            lines.append(f"op type {_op(na)} → {_op(nb)}")
        elif not self.same_opsets:
            opset = _opset_line(
                na.op_type, na.domain, self.a.opset_for(na.domain), self.b.opset_for(nb.domain)
            )
            if opset:
                lines.append(opset)
        lines += self._attribute_lines(na, nb)
        lines += self._input_lines(na, nb, ga, gb)
        lines += _output_lines(na, nb, ga, gb)
        return lines

    # ---------------------------------------------------------------------------- attributes

    def _attribute_lines(self, na: Node, nb: Node) -> list[str]:
        if na.proto.attribute == nb.proto.attribute:  # the common case, in C
            return []
        pa = {x.name: x for x in na.proto.attribute}
        pb = {x.name: x for x in nb.proto.attribute}
        if not pa and not pb:
            return []
        if (na.op_type, na.domain) == (nb.op_type, nb.domain):
            # an attribute left out means its default: writing the default out is no change
            defaults = _defaults(na.op_type, na.domain, self.a.opset_for(na.domain))
            for name, value in defaults.items():
                pa.setdefault(name, value)
                pb.setdefault(name, value)
        lines: list[str] = []
        for name in sorted(pa.keys() | pb.keys()):
            xa, xb = pa.get(name), pb.get(name)
            if xa is None:
                lines.append(f"attribute {name} added: {make_attribute(xb).text}")  # type: ignore[arg-type]
            elif xb is None:
                lines.append(f"attribute {name} removed (was {make_attribute(xa).text})")
            elif _attribute_bytes(xa) != _attribute_bytes(xb):
                line = self._attribute_change(na, nb, name, xa, xb)
                if line:
                    lines.append(line)
        return lines

    def _attribute_change(
        self, na: Node, nb: Node, name: str, xa: AttributeProto, xb: AttributeProto
    ) -> str | None:
        if xa.type == xb.type == AttributeProto.GRAPH:
            sa = (na.subgraph_by_attribute or {}).get(name)
            sb = (nb.subgraph_by_attribute or {}).get(name)
            if sa is None or sb is None:
                return f"attribute {name}: subgraph changed"
            return self._subgraph_line(name, sa, sb)
        if xa.type == xb.type == AttributeProto.TENSOR:
            return _values_line(f"attribute {name}", *_proto_array(xa.t), *_proto_array(xb.t))
        ta, tb = make_attribute(xa).text, make_attribute(xb).text
        if ta == tb:  # shown alike (6 significant digits): say the values in full, if they differ
            va, vb = quick_value(xa), quick_value(xb)
            return None if va == vb else f"attribute {name}: {va!r} → {vb!r}"
        return f"attribute {name}: {ta} → {tb}"

    def _subgraph_line(self, name: str, sa: Graph, sb: Graph) -> str | None:
        """One line summing up a subgraph's diff (an If branch, a Loop body)."""
        sub = match_graphs(sa, sb, outer=self.m.tensors)
        removed = [n for n in sa.nodes if n.index not in sub.a_to_b]
        added = [n for n in sb.nodes if n.index not in sub.b_to_a]
        inner = ChangeFinder(self.a, self.b, sub)
        changed = [
            (sa.nodes[ia], lines)
            for ia, ib in sorted(sub.a_to_b.items())
            if (lines := inner.node_lines(sa.nodes[ia], sb.nodes[ib], sa, sb))
        ]
        parts = []
        if changed:
            first = changed[0]
            parts.append(
                f"{len(changed)} node(s) changed ({first[0].label}: {'; '.join(first[1])}"
                + (", …)" if len(changed) > 1 else ")")
            )
        if removed:
            parts.append(f"{len(removed)} removed ({', '.join(n.label for n in removed[:3])})")
        if added:
            parts.append(f"{len(added)} added ({', '.join(n.label for n in added[:3])})")
        io = [line for line, _ in io_changes(sa, sb, sub)]
        parts += io
        if not parts:
            return None
        return f"subgraph {name}: " + ", ".join(parts)

    # -------------------------------------------------------------------------------- inputs

    def _input_lines(self, na: Node, nb: Node, ga: Graph, gb: Graph) -> list[str]:
        ins_a = na.inputs
        ins_b = _aligned_inputs(na, nb, self.m.tensors) if na.op_type in COMMUTATIVE else nb.inputs
        get_a, get_b = ga.values.get, gb.values.get
        tensors = self.m.tensors
        lines: list[str] = []
        if len(ins_a) != len(ins_b):
            lines.append(f"{len(ins_a)} inputs → {len(ins_b)}")
        for k, (ta, tb) in enumerate(zip(ins_a, ins_b, strict=False)):
            if not ta or not tb:
                if ta:
                    lines.append(f"input {k} omitted (was {ta!r})")
                elif tb:
                    lines.append(f"input {k} {tb!r} given (was omitted)")
                continue
            va, vb = get_a(ta), get_b(tb)
            if va is None or vb is None:
                continue
            ia, ib = va.initializer, vb.initializer
            if ia is not None and ib is not None:
                line = self._initializer_line(ia, ib)
                if line:
                    lines.append(line)
                continue
            if tensors.get(ta) != tb and self._rewired(ta, tb, ga, gb):
                lines.append(f"input {k} rewired: {ta!r} → {tb!r}")
            elif (ia is None) != (ib is None):
                # a weight stored as an initializer on one side, a Constant node on the other
                # (exporters do either): only its values count, and they say dtype and shape too
                xa, xb = _constant_array(ga, ta), _constant_array(gb, tb)
                if xa is not None and xb is not None:
                    line = _values_line(f"input {k} {ta!r} → {tb!r}", *xa, *xb)
                    if line:
                        lines.append(line)
                    continue
                kind_a = "initializer" if ia is not None else "computed"
                kind_b = "initializer" if ib is not None else "computed"
                lines.append(f"input {k}: {kind_a} {ta!r} → {kind_b} {tb!r}")
            type_a, type_b = va.declared or va.inferred, vb.declared or vb.inferred
            if type_a is not type_b and type_a != type_b:
                lines += type_change(f"input {k}", type_a, type_b, internal=True)
        return lines

    def _rewired(self, ta: str, tb: str, ga: Graph, gb: Graph) -> bool:
        """Whether input ``ta`` of A became ``tb`` of B that is not its twin, when no node added
        or removed in between explains it (a Cast inserted before a node is reported on the
        Cast, not on every node that now reads it)."""
        tensors, back = self.m.tensors, self.m.tensors_back
        twin = tensors.get(ta)
        if twin == tb or (twin is None and tb not in back):
            return False  # the same, or both read nodes only one side has (reported there)
        past_a = past_unmatched(ga, ta, self.m.a_to_b, len(ga.nodes))
        past_b = past_unmatched(gb, tb, self.m.b_to_a, len(gb.nodes))
        return tensors.get(past_a) != past_b

    def _initializer_line(self, ia: Initializer, ib: Initializer) -> str | None:
        key = (id(ia), id(ib))  # one weight is often read by many nodes
        if key not in self._init_cache:
            self._init_cache[key] = _initializer_line(ia, ib)
        return self._init_cache[key]


def _aligned_inputs(na: Node, nb: Node, tensors: dict[str, str]) -> list[str]:
    """B's inputs, reordered to line up with A's where the op is commutative (bias + x is x +
    bias)."""
    if (
        na.op_type not in COMMUTATIVE
        or nb.op_type != na.op_type
        or len(na.inputs) != len(nb.inputs)
    ):
        return nb.inputs
    rest = list(nb.inputs)
    out: list[str | None] = []
    for ta in na.inputs:
        twin = tensors.get(ta, ta)
        if twin in rest:
            rest.remove(twin)
            out.append(twin)
        else:
            out.append(None)
    return [t if t is not None else rest.pop(0) for t in out]


def _output_lines(na: Node, nb: Node, ga: Graph, gb: Graph) -> list[str]:
    lines: list[str] = []
    if len(na.outputs) != len(nb.outputs):
        lines.append(f"{len(na.outputs)} outputs → {len(nb.outputs)}")
    get_a, get_b = ga.values.get, gb.values.get
    for k, (ta, tb) in enumerate(zip(na.outputs, nb.outputs, strict=False)):
        va, vb = get_a(ta), get_b(tb)
        if va is None or vb is None:
            continue
        type_a, type_b = va.declared or va.inferred, vb.declared or vb.inferred
        if type_a is not type_b and type_a != type_b:
            lines += type_change(f"output {k}", type_a, type_b, internal=True)
    return lines


def _type_lines(what: str, va: Value | None, vb: Value | None, internal: bool = False) -> list[str]:
    ta = va.type if va is not None else None
    tb = vb.type if vb is not None else None
    return type_change(what, ta, tb, internal)


def type_change(
    what: str, ta: TensorType | None, tb: TensorType | None, internal: bool = False
) -> list[str]:
    """``what``'s dtype and shape lines; nothing where a side is unknown. Two symbolic dims are
    equal whatever their names (exporters name them differently). ``internal``: a value inside
    the graph, whose shape shape inference may know better on one side: a fixed dim against a
    symbol is no change there (the graph input that made it so is reported)."""
    if ta is tb or ta is None or tb is None or ta == tb:
        return []
    lines = []
    if ta.dtype != tb.dtype:
        lines.append(f"{what} dtype {ta.dtype} → {tb.dtype}")
    if (
        ta.shape is not None
        and tb.shape is not None
        and not _same_shape(ta.shape, tb.shape, internal)
    ):
        lines.append(f"{what} shape {format_shape(ta.shape)} → {format_shape(tb.shape)}")
    return lines


def _same_shape(sa: Shape, sb: Shape, internal: bool) -> bool:
    if sa == sb:
        return True
    if len(sa) != len(sb):
        return False
    for x, y in zip(sa, sb, strict=True):
        if x is None or y is None or x == y or (isinstance(x, str) and isinstance(y, str)):
            continue
        if internal and (isinstance(x, str) or isinstance(y, str)):
            continue
        return False
    return True


def _attribute_bytes(x: AttributeProto) -> bytes:
    """An attribute's value as bytes, without its doc string."""
    if not x.doc_string:
        return x.SerializeToString(deterministic=True)
    y = AttributeProto()
    y.CopyFrom(x)
    y.doc_string = ""
    return y.SerializeToString(deterministic=True)


@functools.cache
def _defaults(op_type: str, domain: str, opset: int | None) -> dict[str, AttributeProto]:
    """The op's attributes that have a default, at ``opset``, by name."""
    if opset is None:
        return {}
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # an op onnx does not know has no defaults to go by
        return {}
    out = {}
    for name, attr in schema.attributes.items():
        d = attr.default_value
        if d is not None and d.type != AttributeProto.UNDEFINED:
            x = AttributeProto()
            x.CopyFrom(d)
            x.name = name
            out[name] = x
    return out


# ------------------------------------------------------------------------------------ values


def _initializer_line(ia: Initializer, ib: Initializer) -> str | None:
    if ia.dtype == ib.dtype and ia.shape == ib.shape:
        pa, pb = ia._proto, ib._proto
        if (
            pa.raw_data
            and pa.raw_data == pb.raw_data
            and ia.external is None
            and ib.external is None
        ):
            return None  # the common case, compared without building arrays
    try:
        xa, xb = ia.array(), ib.array()
    except Exception as e:  # external data that cannot be read: say so rather than guess
        return f"initializer {ia.name!r}: values not compared ({type(e).__name__})"
    return _values_line(f"initializer {ia.name!r}", ia.dtype, xa, ib.dtype, xb)


def _constant_array(g: Graph, name: str) -> tuple[str, np.ndarray | None] | None:
    """(dtype, values) of an initializer or of a Constant node's ``value`` tensor; None for
    anything else."""
    v = g.values[name]
    if v.initializer is not None:
        try:
            return v.initializer.dtype, v.initializer.array()
        except Exception:  # external data that cannot be read
            return v.initializer.dtype, None
    node = g.nodes[v.producer] if v.producer is not None else None
    if node is None or node.op_type != "Constant" or node.domain:
        return None
    for a in node.proto.attribute:
        if a.name == "value" and a.type == AttributeProto.TENSOR:
            return _proto_array(a.t)
    return None


def _proto_array(t: onnx.TensorProto) -> tuple[str, np.ndarray | None]:
    from inspector.core.tensor_types import dtype_name

    try:
        return dtype_name(t.data_type), numpy_helper.to_array(t)
    except Exception:  # external or malformed: compare what can be compared
        return dtype_name(t.data_type), None


def _values_line(
    what: str, dtype_a: str, xa: np.ndarray | None, dtype_b: str, xb: np.ndarray | None
) -> str | None:
    """``what``'s dtype, shape or values change as one line; None when equal."""
    if xa is None or xb is None:
        return f"{what}: changed (values not readable)"
    head = f"{what} dtype {dtype_a} → {dtype_b}" if dtype_a != dtype_b else what
    if xa.shape != xb.shape:
        return f"{head} shape {format_shape(xa.shape)} → {format_shape(xb.shape)}"
    numeric = all(x.dtype.kind in "biuf" for x in (xa, xb))
    if not numeric:
        return None if np.array_equal(xa, xb) and head == what else f"{head}: values differ"
    fa, fb = xa.astype(np.float64), xb.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        delta = np.abs(fa - fb)
    special = np.isnan(delta)  # NaN on either side, or the same infinity on both
    if special.any():
        if not np.array_equal(fa[special], fb[special], equal_nan=True):
            return f"{head}: NaN or infinity in different places"
        delta[special] = 0.0
    largest = float(delta.max()) if delta.size else 0.0
    if largest == 0.0:
        return None if head == what else f"{head}: max |Δ| 0"
    return f"{head}: max |Δ| {format_float(largest)}"


# ------------------------------------------------------------------------------------- opset


@functools.cache
def _opset_line(op_type: str, domain: str, va: int | None, vb: int | None) -> str | None:
    """ "opset 12 → 13 (ReduceSum-11 → ReduceSum-13)" when the op's schema in force differs."""
    if va is None or vb is None or va == vb:
        return None
    try:
        sa = onnx.defs.get_schema(op_type, va, domain).since_version
        sb = onnx.defs.get_schema(op_type, vb, domain).since_version
    except Exception:  # an op onnx does not know: the model-level opset line says enough
        return None
    if sa == sb:
        return None
    return f"opset {va} → {vb} ({op_type}-{sa} → {op_type}-{sb})"


def _op(n: Node) -> str:
    return f"{n.domain}:{n.op_type}" if n.domain else n.op_type


# ------------------------------------------------------------------------------ model level


def model_changes(a: Model, b: Model) -> list[str]:
    """IR version, opset imports and local functions."""
    lines = []
    if a.ir_version != b.ir_version:
        lines.append(f"IR version {a.ir_version} → {b.ir_version}")
    for d in sorted(a.opset_imports.keys() | b.opset_imports.keys()):
        va, vb = a.opset_imports.get(d), b.opset_imports.get(d)
        name = d or "ai.onnx"
        if va != vb:
            if va is None:
                lines.append(f"opset {name} {vb} imported")
            elif vb is None:
                lines.append(f"opset {name} {va} no longer imported")
            else:
                lines.append(f"opset {name} {va} → {vb}")
    fa = {(f.domain, f.name): f for f in a.functions}
    fb = {(f.domain, f.name): f for f in b.functions}
    for key in sorted(fa.keys() | fb.keys()):
        label = f"{key[0]}:{key[1]}" if key[0] else key[1]
        if key not in fb:
            lines.append(f"function {label} removed")
        elif key not in fa:
            lines.append(f"function {label} added")
        elif _function_bytes(a, key) != _function_bytes(b, key):
            lines.append(f"function {label} changed")
    return lines


def _function_bytes(m: Model, key: tuple[str, str]) -> bytes:
    for f in m.proto.functions:
        if (f.domain, f.name) == key:
            g = onnx.FunctionProto()
            g.CopyFrom(f)
            g.doc_string = ""
            return g.SerializeToString(deterministic=True)
    return b""


def io_changes(ga: Graph, gb: Graph, matching: Matching) -> list[tuple[str, str | None]]:
    """Graph inputs and outputs added, removed, or with another type: (line, tensor)."""
    out: list[tuple[str, str | None]] = []
    for kind, names_a, names_b in (
        ("input", ga.inputs, gb.inputs),
        ("output", ga.outputs, gb.outputs),
    ):
        twins_b = set()
        for name in names_a:
            twin = matching.tensors.get(name)
            if twin is None or twin not in names_b:
                out.append((f"graph {kind} {name!r} removed", name))
                continue
            twins_b.add(twin)
            label = f"graph {kind} {name!r}" + (f" (B: {twin!r})" if twin != name else "")
            out += [
                (line, name)
                for line in _type_lines(label, ga.values.get(name), gb.values.get(twin))
            ]
        out += [(f"graph {kind} {n!r} added", n) for n in names_b if n not in twins_b]
    return out
