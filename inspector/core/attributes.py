"""Node attributes formatted for people: kinds, values, tensor summaries; a Constant node's value
(:func:`constant_value`, what the checks and the diagram read it by).

The graph model builds these lazily (:attr:`inspector.core.graph.Node.attributes`): most nodes
are never looked at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from inspector.core.tensor_types import dtype_name, format_shape, proto_text, type_from_proto
from inspector.core.text import format_float

if TYPE_CHECKING:
    from inspector.core.graph import Graph


@dataclass
class Attribute:
    """A node attribute, with its value formatted for people and its subgraph, if any."""

    name: str
    kind: str  # "int", "floats", "tensor", "graph", ...
    text: str  # formatted value, e.g. "[3, 3]" or "tensor float32[64] (first: 0.1, 0.2, ...)"
    value: object  # python value for ints/floats/strings (lists for the plural kinds), else None
    subgraph: Graph | None = None


def make_attribute(a: AttributeProto, subgraph: Graph | None = None) -> Attribute:
    """An attribute formatted for people; ``subgraph`` is the built graph of a GRAPH attribute."""
    name = proto_text(a.name)
    try:
        kind = AttributeProto.AttributeType.Name(a.type).lower()
    except ValueError:  # a type number this onnx does not know (a newer or damaged file)
        return Attribute(name, f"type {a.type}", f"(attribute type {a.type} is unknown)", None)
    if a.ref_attr_name:
        return Attribute(
            name, kind, f"@{proto_text(a.ref_attr_name)} (from the calling node)", None
        )
    if a.type == AttributeProto.GRAPH:
        return Attribute(
            name, kind, f"graph '{proto_text(a.g.name)}' ({len(a.g.node)} nodes)", None, subgraph
        )
    if a.type == AttributeProto.GRAPHS:
        return Attribute(name, kind, f"{len(a.graphs)} graphs", None)
    if a.type == AttributeProto.UNDEFINED:
        return Attribute(name, kind, "(no value)", None)
    value = onnx.helper.get_attribute_value(a)
    return Attribute(name, kind, format_attribute_value(a, value), _plain(value))


def quick_value(a: AttributeProto) -> object:
    t = a.type
    if t == AttributeProto.INT:
        return a.i
    if t == AttributeProto.INTS:
        return list(a.ints)
    if t == AttributeProto.FLOAT:
        return a.f
    if t == AttributeProto.FLOATS:
        return list(a.floats)
    if t == AttributeProto.STRING:
        return a.s.decode("utf-8", "replace")
    return None


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, list) and all(isinstance(v, (int, float, bytes)) for v in value):
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
    return None


def format_attribute_value(a: AttributeProto, value: object) -> str:
    if a.type == AttributeProto.FLOAT:
        return format_float(float(value))  # type: ignore[arg-type]
    if a.type == AttributeProto.INT:
        return str(value)
    if a.type == AttributeProto.STRING:
        return repr(value.decode("utf-8", "replace")) if isinstance(value, bytes) else repr(value)
    if a.type == AttributeProto.INTS:
        return "[" + ", ".join(str(v) for v in value) + "]"  # type: ignore[union-attr]
    if a.type == AttributeProto.FLOATS:
        return "[" + ", ".join(format_float(v) for v in value) + "]"  # type: ignore[union-attr]
    if a.type == AttributeProto.STRINGS:
        return "[" + ", ".join(repr(v.decode("utf-8", "replace")) for v in value) + "]"  # type: ignore[union-attr]
    if a.type == AttributeProto.TENSOR:
        return format_tensor_summary(a.t)
    if a.type == AttributeProto.TENSORS:
        return f"{len(a.tensors)} tensors"
    if a.type == AttributeProto.SPARSE_TENSOR:
        return f"sparse tensor {dtype_name(a.sparse_tensor.values.data_type)}{list(a.sparse_tensor.dims)}"
    if a.type == AttributeProto.TYPE_PROTO:
        t = type_from_proto(a.tp)
        return str(t) if t else "type"
    return str(value)


def format_tensor_summary(t: TensorProto, first: int = 6) -> str:
    head = f"tensor {dtype_name(t.data_type)}{format_shape(tuple(t.dims))}"
    if t.data_location == TensorProto.EXTERNAL:
        return head + " (external data)"
    try:
        arr = numpy_helper.to_array(t).reshape(-1)
    except Exception:
        return head
    vals = ", ".join(
        format_float(float(v)) if np.issubdtype(arr.dtype, np.floating) else str(v)
        for v in arr[:first]
    )
    more = ", ..." if arr.size > first else ""
    return f"{head} = [{vals}{more}]"


# -- a Constant node's value --------------------------------------------------------------------

#: the attributes a Constant holds its value in: name → (attribute type, element type, is a list);
#: element type 0 for the tensor kinds, which carry their own
_CONSTANT_KINDS: dict[str, tuple[int, int, bool]] = {
    "value": (AttributeProto.TENSOR, 0, False),
    "sparse_value": (AttributeProto.SPARSE_TENSOR, 0, False),
    "value_int": (AttributeProto.INT, TensorProto.INT64, False),
    "value_ints": (AttributeProto.INTS, TensorProto.INT64, True),
    "value_float": (AttributeProto.FLOAT, TensorProto.FLOAT, False),
    "value_floats": (AttributeProto.FLOATS, TensorProto.FLOAT, True),
    "value_string": (AttributeProto.STRING, TensorProto.STRING, False),
    "value_strings": (AttributeProto.STRINGS, TensorProto.STRING, True),
}


@dataclass(frozen=True)
class ConstantValue:
    """A Constant node's value as its attribute gives it, known before any shape inference, e.g.
    ``ConstantValue(TensorProto.INT64, (3,), <value_ints attribute>)`` for
    ``value_ints=[1, 2, 3]``."""

    dtype: int  # TensorProto data type: INT64 for value_int(s), FLOAT for value_float(s), ...
    shape: tuple[int, ...]  # () for value_int, value_float, value_string
    attribute: AttributeProto = field(repr=False, compare=False)

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    def array(self, max_elements: int) -> np.ndarray | None:
        """The values, as ``numpy_helper.to_array`` reads them (strings as str), when there are
        at most ``max_elements`` (larger ones are weights, not shapes or axes) and they can be
        read; None for a sparse value, data stored outside the file, or a tensor whose data
        does not match its dims (stripped weights)."""
        if self.elements > max_elements:
            return None
        t = self.tensor()
        if t is None or t.data_location == TensorProto.EXTERNAL:
            return None
        try:
            return numpy_helper.to_array(t)
        except Exception:  # raw data that does not match the dims
            return None

    def tensor(self) -> TensorProto | None:
        """The value as a tensor: the attribute's own for ``value``, one made of the number or
        list for the other kinds; None for a sparse value."""
        a = self.attribute
        if a.type == AttributeProto.TENSOR:
            return a.t
        if a.type == AttributeProto.SPARSE_TENSOR:
            return None
        values = onnx.helper.get_attribute_value(a)
        return onnx.helper.make_tensor(
            "", self.dtype, self.shape, values if isinstance(values, list) else [values]
        )


def constant_value(node: onnx.NodeProto) -> ConstantValue | None:
    """The value of a Constant node (ai.onnx) from its attribute; None for any other node or a
    Constant with no value attribute of the right type (a malformed node)."""
    if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
        return None
    for a in node.attribute:
        kind = _CONSTANT_KINDS.get(a.name)
        if kind is None or a.type != kind[0]:
            continue
        if a.type == AttributeProto.TENSOR:
            return ConstantValue(a.t.data_type, tuple(a.t.dims), a)
        if a.type == AttributeProto.SPARSE_TENSOR:
            sparse = a.sparse_tensor
            return ConstantValue(sparse.values.data_type, tuple(sparse.dims), a)
        count = len(a.ints) + len(a.floats) + len(a.strings)
        return ConstantValue(kind[1], (count,) if kind[2] else (), a)
    return None
