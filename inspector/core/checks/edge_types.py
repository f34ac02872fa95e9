"""Edge types for the ``edges`` check, and the dtype half of it: schema type constraints.

The walker in :mod:`inspector.core.checks.edges` keeps every edge's type as a serialized
``onnx.TypeProto`` (the form onnx's per-node inference takes and returns, so nothing is converted
on the hot path); :func:`parse_type` turns those bytes into an :class:`EdgeType` once per distinct
type. :func:`check_dtypes` binds a node's actual input types to its schema's type parameters
("T", "T1", ...) and reports where two inputs under one parameter disagree or a type is not in
the parameter's allowed list.

Known limitations: map and opaque types are compared as strings only; a sparse tensor is never
said to clash with a dense one under the same parameter (schemas rarely allow both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import onnx
from onnx import TensorProto, defs

from inspector.core.tensor_types import Shape, dtype_name, format_shape


@dataclass(frozen=True, slots=True)
class EdgeType:
    """One edge's type. ``type_str`` is spelled as onnx schemas spell it (``"tensor(float)"``)."""

    type_str: str
    elem: int  # TensorProto element type of a tensor; 0 for other kinds or unknown
    shape: Shape | None  # None: rank unknown (or not a tensor)

    @property
    def dtype(self) -> str:
        """``"float32"`` for a tensor; the schema spelling (``"seq(tensor(float))"``) otherwise."""
        return (
            dtype_name(self.elem)
            if self.elem and self.type_str.startswith("tensor(")
            else self.type_str
        )

    def __str__(self) -> str:
        if self.shape is None:
            return self.dtype
        return self.dtype + format_shape(self.shape)


def schema_elem_name(elem: int) -> str:
    """The element type as schemas spell it: FLOAT → ``"float"``, DOUBLE → ``"double"``."""
    if elem == TensorProto.FLOAT:
        return "float"
    if elem == TensorProto.DOUBLE:
        return "double"
    try:
        return TensorProto.DataType.Name(elem).lower()
    except ValueError:
        return f"dtype{elem}"


def _type_str(tp: onnx.TypeProto) -> str:
    which = tp.WhichOneof("value")
    if which == "tensor_type":
        return f"tensor({schema_elem_name(tp.tensor_type.elem_type)})"
    if which == "sparse_tensor_type":
        return f"sparse_tensor({schema_elem_name(tp.sparse_tensor_type.elem_type)})"
    if which == "sequence_type":
        return f"seq({_type_str(tp.sequence_type.elem_type)})"
    if which == "optional_type":
        return f"optional({_type_str(tp.optional_type.elem_type)})"
    if which == "map_type":
        key = schema_elem_name(tp.map_type.key_type)
        return f"map({key}, {_type_str(tp.map_type.value_type)})"
    return "?"


_PARSED: dict[bytes, EdgeType | None] = {}
_BUILT: dict[tuple[int, Shape | None], bytes] = {}


def parse_type(data: bytes | None) -> EdgeType | None:
    """Serialized ``TypeProto`` → :class:`EdgeType` (memoised: a model has few distinct types)."""
    if data is None:
        return None
    t = _PARSED.get(data, _PARSED)
    if t is _PARSED:
        if len(_PARSED) > 65536:
            _PARSED.clear()
        tp = onnx.TypeProto.FromString(data)
        which = tp.WhichOneof("value")
        if which is None:
            t = None
        elif which in ("tensor_type", "sparse_tensor_type"):
            tt = getattr(tp, which)
            elem = tt.elem_type
            shape: Shape | None = None
            if tt.HasField("shape"):
                shape = tuple(
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                    for d in tt.shape.dim
                )
            # An elem type of 0 means the producer's type is unknown, not "undefined".
            t = EdgeType(_type_str(tp), elem, shape) if elem else None
        else:
            t = EdgeType(_type_str(tp), 0, None)
        _PARSED[data] = t
    return t  # type: ignore[return-value]


def tensor_type_bytes(elem: int, shape: Shape | None) -> bytes:
    """A serialized tensor ``TypeProto`` (memoised): symbols stay symbols, ``None`` is unknown."""
    key = (elem, shape)
    b = _BUILT.get(key)
    if b is None:
        tp = onnx.TypeProto()
        tt = tp.tensor_type
        tt.elem_type = elem
        if shape is not None:
            tt.shape.SetInParent()  # rank 0 is a known shape, not a missing one
            for d in shape:
                dim = tt.shape.dim.add()
                if isinstance(d, int):
                    dim.dim_value = d
                elif d:
                    dim.dim_param = d
        b = _BUILT[key] = tp.SerializeToString()
    return b


# ------------------------------------------------------------------------------ schema constraints

SINGLE, OPTIONAL, VARIADIC = 0, 1, 2
_OPTION = {
    defs.OpSchema.FormalParameterOption.Single: SINGLE,
    defs.OpSchema.FormalParameterOption.Optional: OPTIONAL,
    defs.OpSchema.FormalParameterOption.Variadic: VARIADIC,
}


@dataclass(frozen=True, slots=True)
class Formal:
    name: str  # "A", "B", "inputs"
    type_str: str  # a parameter ("T") or a literal type ("tensor(int64)")
    option: int  # SINGLE, OPTIONAL or VARIADIC
    homogeneous: bool  # for a variadic: all its actual inputs share one type


@dataclass(frozen=True, slots=True)
class Signature:
    """A schema's inputs, outputs and type constraints, read once per schema."""

    op_type: str
    inputs: tuple[Formal, ...]
    outputs: tuple[Formal, ...]
    allowed: dict[str, frozenset[str]]  # parameter → allowed type strings

    def input_formal(self, slot: int) -> Formal | None:
        """The formal parameter an actual input slot binds to (variadics take the rest)."""
        if slot < len(self.inputs):
            return self.inputs[slot]
        if self.inputs and self.inputs[-1].option == VARIADIC:
            return self.inputs[-1]
        return None

    def input_label(self, slot: int) -> str:
        """``"B"``, or ``"inputs[2]"`` for the third actual input of a variadic."""
        f = self.input_formal(slot)
        if f is None:
            return f"#{slot}"
        if f.option == VARIADIC:
            return f"{f.name}[{slot - len(self.inputs) + 1}]"
        return f.name


_SIGNATURES: dict[tuple[str, str, int], Signature] = {}


def signature(schema: defs.OpSchema) -> Signature:
    # Not id(schema): onnx hands out a fresh Python wrapper per lookup, and ids get reused.
    key = (schema.domain, schema.name, schema.since_version)
    sig = _SIGNATURES.get(key)
    if sig is None:

        def formal(p: defs.OpSchema.FormalParameter) -> Formal:
            return Formal(p.name, p.type_str, _OPTION.get(p.option, SINGLE), p.is_homogeneous)

        sig = _SIGNATURES[key] = Signature(
            schema.name,
            tuple(formal(p) for p in schema.inputs),
            tuple(formal(p) for p in schema.outputs),
            {c.type_param_str: frozenset(c.allowed_type_strs) for c in schema.type_constraints},
        )
    return sig


@dataclass(frozen=True, slots=True)
class DtypeClash:
    """A dtype problem at one node input. ``expected`` is what the slot should carry, if known."""

    slot: int  # the culprit input
    kind: str  # "disagree" (another input under the same parameter differs) or "not-accepted"
    expected: str | None  # schema spelling of the type it should have ("tensor(float)")
    other_slot: int | None  # for "disagree": an input that has the expected type
    accepted: tuple[str, ...] = ()  # for "not-accepted": what the parameter allows


def check_dtypes(
    sig: Signature,
    types: Sequence[EdgeType | None],
    model_counts: dict[str, int],
    constant_slots: frozenset[int],
) -> tuple[dict[str, str], list[DtypeClash]]:
    """Bind the actual input types to type parameters; return (bindings, clashes).

    Which input of a disagreeing pair is the culprit (the edge the finding goes on): the type in
    the minority among the node's inputs under that parameter; on a tie, the type rarer in the
    whole model (``model_counts``: a float64 constant in a float32 model, a float16 input among
    float32 weights); then a constant input; then the later input.
    """
    groups: dict[str, list[int]] = {}
    clashes: list[DtypeClash] = []
    for slot, t in enumerate(types):
        if t is None:
            continue
        f = sig.input_formal(slot)
        if f is None:
            continue
        if f.option == VARIADIC and not f.homogeneous:
            continue  # e.g. Loop's carried values: each may differ
        allowed = sig.allowed.get(f.type_str)
        if allowed is None:
            # A literal type in the schema: the input must be exactly that.
            if f.type_str.startswith(("tensor(", "seq(")) and t.type_str != f.type_str:
                clashes.append(DtypeClash(slot, "not-accepted", f.type_str, None, (f.type_str,)))
            continue
        if t.type_str not in allowed:
            clashes.append(DtypeClash(slot, "not-accepted", None, None, tuple(sorted(allowed))))
            continue
        groups.setdefault(f.type_str, []).append(slot)
    bindings: dict[str, str] = {}
    for param, slots in groups.items():
        by_type: dict[str, list[int]] = {}
        for s in slots:
            by_type.setdefault(types[s].type_str, []).append(s)  # type: ignore[union-attr]
        if len(by_type) == 1:
            bindings[param] = next(iter(by_type))
            continue

        ranked = sorted(
            by_type,
            key=lambda ts, members=by_type: (
                len(members[ts]),
                model_counts.get(ts, 0),
                -sum(1 for s in members[ts] if s in constant_slots),
                -max(members[ts]),
            ),
            reverse=True,
        )
        expected = ranked[0]
        bindings[param] = expected
        other = by_type[expected][0]
        for ts in ranked[1:]:
            for s in by_type[ts]:
                clashes.append(DtypeClash(s, "disagree", expected, other))
    return bindings, clashes


def elem_of(type_str: str) -> int:
    """``"tensor(float)"`` → ``TensorProto.FLOAT``; 0 for anything that is not a tensor."""
    if not type_str.startswith("tensor(") or not type_str.endswith(")"):
        return 0
    name = type_str[7:-1]
    return _ELEM_BY_NAME.get(name, 0)


_ELEM_BY_NAME = {schema_elem_name(v): v for v in TensorProto.DataType.values() if v}


def dtype_of(type_str: str) -> str:
    """``"tensor(float)"`` → ``"float32"`` (the user-facing spelling); other kinds unchanged."""
    e = elem_of(type_str)
    return dtype_name(e) if e else type_str
