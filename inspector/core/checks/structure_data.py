"""Tensor data checks for the ``structure`` family: does each stored tensor hold exactly the
bytes its dims and dtype say?

Rules, as onnx.checker 1.23 and ONNX Runtime 1.32 apply them (measured, see the tests):

* ``raw_data`` must hold ``ceil(numel * bits / 8)`` bytes: bits are 4 for (u)int4 and
  float4e2m1, 2 for (u)int2, 6 for float6, else 8 x the numpy item size (float8: 8). Too short:
  both reject. Too long (any excess, whole elements or not): only ONNX Runtime rejects, and only
  when the tensor is used (it drops unused initializers first).
* A typed field (``float_data``, ``int32_data``, ...) must hold ``numel`` values (x2 for complex;
  packed 4-bit and 2-bit types hold 2 and 4 values per entry). Too few: both reject; too many:
  ONNX Runtime, when used.
* Strings never go in ``raw_data``; exactly one data field (none for a 0-element tensor); the field
  that matches the dtype; no negative dims; a dtype and a name: onnx.checker rejects each.
* A sparse tensor's values are a 1-D tensor of NNZ entries, its int64 indices are ``[NNZ]``
  (linear, strictly increasing) or ``[NNZ, rank]``, each inside the dense shape.

Tensors stored externally are left to the loader, which validates their location and length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from onnx import SparseTensorProto, TensorProto, helper, numpy_helper

from inspector.core.tensor_types import dtype_name

_SUB_BYTE_BITS = {
    TensorProto.INT4: 4,
    TensorProto.UINT4: 4,
    TensorProto.FLOAT4E2M1: 4,
    TensorProto.INT2: 2,
    TensorProto.UINT2: 2,
    TensorProto.FLOAT6E2M3: 6,
    TensorProto.FLOAT6E3M2: 6,
}


def _bits_per_element() -> dict[int, int]:
    """data_type → bits per element for every fixed-size type this onnx knows."""
    out = {}
    for dt in TensorProto.DataType.values():
        if dt in (TensorProto.UNDEFINED, TensorProto.STRING):
            continue
        try:
            out[dt] = _SUB_BYTE_BITS.get(dt) or helper.tensor_dtype_to_np_dtype(dt).itemsize * 8
        except Exception:  # a data_type this onnx cannot map to numpy
            continue
    return out


_BITS = _bits_per_element()
# values per typed-field entry for the packed types (float6 keeps one value per entry)
_PER_ENTRY = {
    TensorProto.INT4: 2,
    TensorProto.UINT4: 2,
    TensorProto.FLOAT4E2M1: 2,
    TensorProto.INT2: 4,
    TensorProto.UINT2: 4,
}
_INT64_MAX = 2**63 - 1
_BY_NAME = TensorProto.DESCRIPTOR.fields_by_name
_DATA_FIELDS = tuple(
    _BY_NAME[f]
    for f in (
        "float_data",
        "int32_data",
        "string_data",
        "int64_data",
        "raw_data",
        "double_data",
        "uint64_data",
    )
)
_RAW, _NAME, _DIMS = _BY_NAME["raw_data"], _BY_NAME["name"], _BY_NAME["dims"]
_DATA_TYPE, _LOCATION = _BY_NAME["data_type"], _BY_NAME["data_location"]


@dataclass(frozen=True)
class DataFault:
    """One fault of a stored tensor. ``runtime_only``: onnx.checker accepts it and ONNX Runtime
    rejects it only when the tensor is used (data longer than the dims need)."""

    code: str  # "initializer-size-mismatch" | "initializer-invalid"
    message: str
    hint: str
    runtime_only: bool = False


def raw_size_matches(t: TensorProto) -> bool:
    """Whether ``t``'s raw_data has exactly the size its dims and dtype need, in three protobuf
    reads. Enough for a tensor onnx.checker has accepted (it checks every other rule); False
    means: ask :func:`tensor_faults`."""
    raw = t.raw_data
    bits = _BITS.get(t.data_type)
    return bool(raw and bits) and len(raw) == -(-math.prod(t.dims) * bits // 8)


def tensor_faults(t: TensorProto, what: str, named: bool = False) -> list[DataFault]:
    """Every fault of one stored tensor; ``what`` names it in messages ("initializer 'w'");
    ``named``: the tensor must have a name (an initializer; a Constant's value need not)."""
    fields = dict(t.ListFields())  # one protobuf call reads every set field
    raw = fields.get(_RAW)
    named_ok = _NAME in fields or not named
    if raw and named_ok and len(fields) == 2 + (_NAME in fields) + (_DIMS in fields):
        # the usual initializer: name, dims, data_type and raw_data, nothing else
        dims = list(fields.get(_DIMS, ()))  # one pass over the protobuf container
        bits = _BITS.get(fields.get(_DATA_TYPE, 0))
        if bits and min(dims, default=1) > 0 and len(raw) == -(-math.prod(dims) * bits // 8):
            return []
    dt = fields.get(_DATA_TYPE, TensorProto.UNDEFINED)
    dims = fields.get(_DIMS, ())
    present = [f for f in _DATA_FIELDS if len(fields.get(f, ()))]
    out: list[DataFault] = []
    if named and not fields.get(_NAME):
        out.append(_invalid("an initializer has no name", "give it a unique name"))
    dims = list(dims)
    if dt == TensorProto.UNDEFINED:
        out.append(_invalid(f"{what} has no data_type", "set its data_type"))
        return out
    if any(d < 0 for d in dims):
        out.append(_invalid(f"{what} has a negative dim {dims}", "fix its dims"))
        return out
    if fields.get(_LOCATION) == TensorProto.EXTERNAL:
        return out
    numel = math.prod(dims)
    names = [f.name for f in present]
    if numel == 0:
        if present:
            out.append(_invalid(f"{what} has 0 elements (dims {dims}) but holds data", ""))
        return out
    if not present:
        out.append(
            _invalid(
                f"{what} holds no data for its {numel} elements",
                "store its values (raw_data or the typed field), or make it a graph input",
            )
        )
        return out
    if len(present) > 1:
        out.append(
            _invalid(
                f"{what} holds data in {len(present)} fields ({', '.join(names)}); "
                "a tensor has exactly one",
                "keep one of them",
            )
        )
        return out
    got = len(fields[present[0]])
    if present[0] is _RAW:
        out += _raw_faults(what, dt, dims, numel, got)
    else:
        out += _typed_faults(what, dt, dims, numel, names[0], got)
    return out


def sparse_faults(st: SparseTensorProto, what: str, named: bool = False) -> list[DataFault]:
    """Every fault of a sparse tensor: its values, its indices against its dense dims."""
    values, indices = st.values, st.indices
    dims = list(st.dims)
    out = tensor_faults(values, what, named)
    if len(values.dims) != 1:
        out.append(_invalid(f"{what}: values must be 1-D, not {list(values.dims)}", ""))
        return out
    nnz = values.dims[0]
    if any(d < 0 for d in dims):
        out.append(_invalid(f"{what} has a negative dense dim {dims}", ""))
        return out
    if indices.data_type != TensorProto.INT64:
        out.append(_invalid(f"{what}: indices must be int64", "store the indices as int64"))
        return out
    shape = list(indices.dims)
    linear = len(shape) == 1 and shape[0] == nnz
    coords = len(shape) == 2 and shape[0] == nnz and shape[1] == len(dims)
    if not (linear or coords):
        out.append(
            _invalid(
                f"{what}: indices of shape {shape} do not fit {nnz} values in dense dims {dims} "
                f"(want [{nnz}] or [{nnz}, {len(dims)}])",
                "",
            )
        )
        return out
    index_faults = tensor_faults(indices, f"{what}'s indices")
    if index_faults or nnz == 0:
        return out + index_faults
    idx = numpy_helper.to_array(indices).astype(np.int64)
    if linear:
        size = min(math.prod(dims), _INT64_MAX)  # an int64 index cannot pass a bigger size
        bad = (idx < 0) | (idx >= size)
        if bad.any():
            k = int(np.argmax(bad))
            out.append(_invalid(f"{what}: index {int(idx[k])} at {k} is outside [0, {size})", ""))
        elif nnz > 1 and not (np.diff(idx) > 0).all():
            out.append(_invalid(f"{what}: indices are not strictly increasing", "sort them"))
    else:
        bad = (idx < 0) | (
            idx >= np.minimum(np.asarray(dims, dtype=object), _INT64_MAX).astype(np.int64)
        )
        if bad.any():
            k = int(np.argwhere(bad)[0][0])
            out.append(
                _invalid(f"{what}: index {idx[k].tolist()} at {k} is outside dims {dims}", "")
            )
    return out


def _raw_faults(what: str, dt: int, dims: list[int], numel: int, got: int) -> list[DataFault]:
    if dt == TensorProto.STRING:
        return [_invalid(f"{what} is a string tensor stored in raw_data", "use string_data")]
    bits = _BITS.get(dt)
    if bits is None:
        return [_invalid(f"{what} has an unknown data_type {dt}", "")]
    want = -(-numel * bits // 8)
    if got == want:
        return []
    kind = "short" if got < want else "long"
    extra = "" if got % max(1, bits // 8) == 0 or bits < 8 else ", not a whole number of elements"
    return [
        DataFault(
            "initializer-size-mismatch",
            f"{what}: raw_data holds {got} bytes, its dims {dims} of "
            f"{dtype_name(dt)} need {want} ({kind}{extra})",
            "re-save the tensor from its values, or fix its dims or data_type",
            runtime_only=got > want,
        )
    ]


def _typed_faults(
    what: str, dt: int, dims: list[int], numel: int, field: str, got: int
) -> list[DataFault]:
    try:
        expected_field = helper.tensor_dtype_to_field(dt)
    except Exception:  # a data_type this onnx does not know
        return [_invalid(f"{what} has an unknown data_type {dt}", "")]
    if field != expected_field:
        return [
            _invalid(
                f"{what}: {dtype_name(dt)} values are stored in {field}, not {expected_field}",
                f"store them in {expected_field} (or raw_data)",
            )
        ]
    if dt in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
        want = 2 * numel
    else:
        per = _PER_ENTRY.get(dt, 1)
        want = -(-numel // per)
    if got == want:
        return []
    return [
        DataFault(
            "initializer-size-mismatch",
            f"{what}: {field} holds {got} values, its dims {dims} of {dtype_name(dt)} "
            f"need {want} ({'short' if got < want else 'long'})",
            "re-save the tensor from its values, or fix its dims",
            runtime_only=got > want,
        )
    ]


def _invalid(message: str, hint: str) -> DataFault:
    return DataFault("initializer-invalid", message, hint)
