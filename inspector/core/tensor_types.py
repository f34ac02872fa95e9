"""Tensor types as the graph model shows them: dtypes by name, shapes with symbolic dims.

Read from an ``onnx.TypeProto`` (a value's declared or inferred type); shared by the graph model
(:mod:`inspector.core.graph`), attribute formatting (:mod:`inspector.core.attributes`) and the
checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import TensorProto

Dim = int | str | None  # a fixed size, a symbol ("batch"), or unknown
Shape = tuple[Dim, ...]

_DTYPE_NAMES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.DOUBLE: "float64",
    TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "bfloat16",
    TensorProto.INT8: "int8",
    TensorProto.INT16: "int16",
    TensorProto.INT32: "int32",
    TensorProto.INT64: "int64",
    TensorProto.UINT8: "uint8",
    TensorProto.UINT16: "uint16",
    TensorProto.UINT32: "uint32",
    TensorProto.UINT64: "uint64",
    TensorProto.BOOL: "bool",
    TensorProto.STRING: "string",
    TensorProto.COMPLEX64: "complex64",
    TensorProto.COMPLEX128: "complex128",
}


def dtype_name(elem_type: int) -> str:
    """``TensorProto.FLOAT`` → ``"float32"``; newer types by their ONNX name (``"float8e4m3fn"``)."""
    if elem_type in _DTYPE_NAMES:
        return _DTYPE_NAMES[elem_type]
    if elem_type == TensorProto.UNDEFINED:
        return "undefined"
    try:
        return TensorProto.DataType.Name(elem_type).lower()
    except ValueError:
        return f"dtype({elem_type})"


def format_shape(shape: Shape | None, box: bool = False) -> str:
    """``(1, "seq", None)`` → ``"[1,seq,?]"``; unknown rank → ``"?"``. ``box``: the compact form
    a graph box uses for a weight, ``"1×seq×?"`` (``"scalar"`` for rank 0)."""
    if shape is None:
        return "?"
    dims = ["?" if d is None else str(d) for d in shape]
    if box:
        return "×".join(dims) if dims else "scalar"
    return "[" + ",".join(dims) + "]"


@dataclass(frozen=True)
class TensorType:
    """A value's type: ``dtype`` is ``"float32"``, or ``"sequence(float32)"`` etc. for non-tensors."""

    dtype: str
    shape: Shape | None  # None: rank unknown

    def __str__(self) -> str:
        return f"{self.dtype}{format_shape(self.shape)}" if self.shape is not None else self.dtype


_MISSING = object()
_TYPE_CACHE: dict[bytes, TensorType | None] = {}


def cached_type_from_proto(tp: onnx.TypeProto) -> TensorType | None:
    """:func:`type_from_proto`, memoised on the serialized type: a 100k-node export has ~100k
    value_infos but a few hundred distinct types, and TensorType is immutable, so it is shared."""
    key = tp.SerializeToString()
    t = _TYPE_CACHE.get(key, _MISSING)
    if t is _MISSING:
        if len(_TYPE_CACHE) > 65536:
            _TYPE_CACHE.clear()
        t = _TYPE_CACHE[key] = type_from_proto(tp)
    return t  # type: ignore[return-value]


def type_from_proto(tp: onnx.TypeProto) -> TensorType | None:
    which = tp.WhichOneof("value")
    if which == "tensor_type" or which == "sparse_tensor_type":
        tt = getattr(tp, which)
        shape: Shape | None = None
        if tt.HasField("shape"):
            shape = tuple(
                d.dim_value if d.HasField("dim_value") else (proto_text(d.dim_param) or None)
                for d in tt.shape.dim
            )
        dt = dtype_name(tt.elem_type)
        return TensorType(dt if which == "tensor_type" else f"sparse({dt})", shape)
    if which == "sequence_type":
        inner = type_from_proto(tp.sequence_type.elem_type)
        return TensorType(f"sequence({inner.dtype if inner else '?'})", None)
    if which == "optional_type":
        inner = type_from_proto(tp.optional_type.elem_type)
        return TensorType(f"optional({inner.dtype if inner else '?'})", None)
    if which == "map_type":
        val = type_from_proto(tp.map_type.value_type)
        key = dtype_name(tp.map_type.key_type)
        return TensorType(f"map({key},{val.dtype if val else '?'})", None)
    return None


def proto_text(value: str | bytes) -> str:
    """A string field of the protobuf as text: the runtime returns ``bytes`` for invalid UTF-8."""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
