"""Function bodies as ONNX Runtime inlines them: an operator's schema function (its fallback when no
kernel takes the node's types) and model-local functions, typed for one call site.

onnxruntime inlines a schema function when no kernel matches, and always inlines model-local
functions; the ops of the body are then looked up like any other node. To check them the body
needs types, which only exist per call: the body is wrapped in a small model whose inputs carry the
call site's types, and onnx shape inference types every value in it.

Known limitations: the schema function comes from the installed ``onnx``, which may be a release
ahead of the onnx compiled into onnxruntime; a body whose inference fails is checked without types
(op and opset only, never a type finding).
"""

from __future__ import annotations

from collections.abc import Callable

import onnx
from onnx import helper

from inspector.core.graph import TensorType, infer_proto_types

_ELEM_OF_NAME: dict[str, int] = {}


def elem_type(dtype: str) -> int | None:
    """The TensorProto element type of a graph-model dtype name (None if not a plain tensor)."""
    if not _ELEM_OF_NAME:
        from inspector.core.tensor_types import dtype_name

        for v in onnx.TensorProto.DataType.values():
            _ELEM_OF_NAME[dtype_name(v)] = v
    return _ELEM_OF_NAME.get(dtype)


def value_info(name: str, t: TensorType | None) -> onnx.ValueInfoProto:
    """A typed graph input for ``t`` when it is a plain tensor; untyped otherwise."""
    if t is not None and t.dtype.startswith("sequence("):
        inner = value_info(name, TensorType(t.dtype[9:-1], None))
        if inner.type.WhichOneof("value") is None:
            return inner
        return helper.make_value_info(name, helper.make_sequence_type_proto(inner.type))
    elem = elem_type(t.dtype) if t is not None else None
    if t is None or elem is None:
        return onnx.ValueInfoProto(name=name)
    shape = None if t.shape is None else [d if d is not None else None for d in t.shape]
    return helper.make_tensor_value_info(name, elem, shape)


def has_typed_function(op_type: str, domain: str, since: int) -> bool:
    """Whether onnx defines a context-dependent function body (one built from the input types)
    for this op version."""
    try:
        schema = onnx.defs.get_schema(op_type, since, domain)
    except onnx.defs.SchemaError:
        return False
    return bool(schema.has_context_dependent_function)


def schema_function(
    node: onnx.NodeProto,
    domain: str,
    since: int,
    opset: int,
    input_types: list[TensorType | None],
    since_at: Callable[[str, str, int], int | None] | None = None,
) -> onnx.FunctionProto | None:
    """The function body onnx defines for this op at ``opset`` (context-dependent ones built for
    the node's attributes and input types), or None when the op has none the runtime would use.
    ``since_at(domain, op, opset)`` gives the runtime's schema since-version, to validate a
    static body against ``opset``."""
    try:
        schema = onnx.defs.get_schema(node.op_type, since, domain)
    except onnx.defs.SchemaError:
        return None
    try:
        if schema.has_context_dependent_function:
            versions = [v for v in schema.context_dependent_function_opset_versions if v <= opset]
            if not versions:
                return None
            type_protos = [value_info("", t).type for t in input_types]
            if any(
                tp.WhichOneof("value") is None and name
                for tp, name in zip(type_protos, node.input, strict=False)
            ):
                # onnx's builders crash (SIGSEGV, measured) on an untyped input; without every
                # given input's type the body cannot be built, so no fallback is predicted. An
                # optional input left out gets an empty type, as onnxruntime passes it.
                return None
            types = [tp.SerializeToString() for tp in type_protos]
            data = schema.get_context_dependent_function_with_opset_version(
                max(versions), node.SerializeToString(), types
            )
        elif schema.has_function:
            versions = [v for v in schema.function_opset_versions if v <= opset]
            if not versions:
                return None
            data = schema.get_function_with_opset_version(max(versions))
            fn = onnx.FunctionProto.FromString(data)
            # Like onnx's OpSchema::GetFunction(validate=true), which onnxruntime calls: a static
            # body written for opset f is used at a newer opset only if none of its ops changed
            # in between (measured: Swish-24's body is refused at opset 28, Relu has none at 14).
            if since_at is not None and any(
                since_at(n.domain, n.op_type, max(versions)) != since_at(n.domain, n.op_type, opset)
                for n in fn.node
            ):
                return None
            return fn
        else:
            return None
    except Exception:  # onnx could not build the body for these attributes/types
        return None
    return onnx.FunctionProto.FromString(data) if data else None


def body_types(
    fn: onnx.FunctionProto,
    call: onnx.NodeProto,
    input_types: list[TensorType | None],
    opsets: dict[str, int],
    local_functions: tuple[onnx.FunctionProto, ...] = (),
) -> dict[str, TensorType]:
    """Value name → type inside ``fn`` when called by ``call`` with ``input_types``."""
    key = (
        fn.SerializeToString(),
        call.SerializeToString(),
        tuple(input_types),
        tuple(sorted(opsets.items())),
        tuple(f.SerializeToString() for f in local_functions),
    )
    types = _BODY_TYPES.get(key)
    if types is None:
        if len(_BODY_TYPES) > 4096:  # a bound, not an LRU: call signatures repeat heavily
            _BODY_TYPES.clear()
        types = _BODY_TYPES[key] = _infer_body(fn, call, input_types, opsets, local_functions)
    return types


_BODY_TYPES: dict[tuple, dict[str, TensorType]] = {}


def resolved_body(fn: onnx.FunctionProto, call: onnx.NodeProto) -> list[onnx.NodeProto]:
    """The body's nodes with every attribute given by reference (``@name``) replaced by the
    call's value, or the function's default; one neither gives is left out, as the runtime does
    when it inlines."""
    call_attrs = {a.name: a for a in call.attribute}
    defaults = {a.name: a for a in fn.attribute_proto}
    nodes = []
    for n in fn.node:
        if not any(a.ref_attr_name for a in n.attribute):
            nodes.append(n)
            continue
        m = onnx.NodeProto()
        m.CopyFrom(n)
        resolved = []
        for a in m.attribute:
            if a.ref_attr_name:
                src = call_attrs.get(a.ref_attr_name) or defaults.get(a.ref_attr_name)
                if src is None:
                    continue
                b = onnx.AttributeProto()
                b.CopyFrom(src)
                b.name = a.name
                resolved.append(b)
            else:
                resolved.append(a)
        del m.attribute[:]
        m.attribute.extend(resolved)
        nodes.append(m)
    return nodes


def _infer_body(
    fn: onnx.FunctionProto,
    call: onnx.NodeProto,
    input_types: list[TensorType | None],
    opsets: dict[str, int],
    local_functions: tuple[onnx.FunctionProto, ...],
) -> dict[str, TensorType]:
    nodes = resolved_body(fn, call)
    inputs = [value_info(name, t) for name, t in zip(fn.input, input_types, strict=False)]
    graph = helper.make_graph(
        nodes, "body", inputs, [onnx.ValueInfoProto(name=o) for o in fn.output]
    )
    merged = dict(opsets)
    for o in fn.opset_import:
        merged.setdefault(o.domain, o.version)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in merged.items()]
    )
    model.functions.extend(local_functions)
    types, _error = infer_proto_types(model)
    return types
