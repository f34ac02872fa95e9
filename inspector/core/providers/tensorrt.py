"""TensorRT's verdict per node, from onnx-tensorrt's operator support matrix (``docs/operators.md``).

The matrix says, per ai.onnx op: supported or not, the data types, and restrictions in prose.
A node is "no" when its op is missing from the matrix, marked N, or its data tensor's type is not
listed; "restricted" when the matrix documents a restriction (the verdict quotes it: whether the
node meets it is not checked, so it is documented support, never more); "yes" otherwise; and
"unknown" when the model's opset is outside the range the matrix covers.

Known limitations: only the data tensor's type (the first input or output bound to the op's
widest type parameter) is compared with the listed types, as the matrix lists one type set per op; the
type notes above the matrix (DOUBLE cast down, UINT8 only at network edges, quantized types only
through Q/DQ) are not applied.
"""

from __future__ import annotations

import onnx

from inspector.core.checks.runtime_registry import normalize_domain
from inspector.core.graph import Model, TensorType, infer_proto_types
from inspector.core.providers.verdict import NO, RESTRICTED, UNKNOWN, YES, Verdict


def trt_verdicts(model: Model, table: dict, source: str) -> dict:
    """(graph path, node index) → :class:`Verdict` for every node of ``model``."""
    ops: dict[str, list] = table["ops"]
    low, high = table["opsets"] or (None, None)
    opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx"))
    outside = low is not None and opset is not None and not low <= opset <= high
    inferred: dict[str, TensorType] = {}
    if not model.types_inferred:
        inferred, _ = infer_proto_types(model.proto)
    out = {}
    graphs = [*model.graph.iter_graphs(), *(f.graph for f in model.functions)]
    for g in graphs:
        for n in g.nodes:
            out[(g.path, n.index)] = _verdict(
                n, g, ops, inferred, outside, opset, low, high, source
            )
    return out


def _data_tensor(n, opset: int | None) -> str | None:
    """The tensor whose type the matrix's one type set describes: the first input (else output)
    bound to the op's widest type parameter in its schema. Not simply the first input:
    ConstantOfShape's is its int64 shape and Where's its bool condition, while the matrix lists
    the types of the values they produce and select."""
    try:
        schema = onnx.defs.get_schema(n.op_type, opset or onnx.defs.onnx_opset_version(), "")
    except onnx.defs.SchemaError:
        schema = None
    if schema is not None and schema.type_constraints:
        widest = max(schema.type_constraints, key=lambda c: len(c.allowed_type_strs))
        for kind, names in (("in", n.inputs), ("out", n.outputs)):
            params = schema.inputs if kind == "in" else schema.outputs
            for i, formal in enumerate(params):
                if formal.type_str == widest.type_param_str and i < len(names) and names[i]:
                    return names[i]
    return next((i for i in n.inputs if i), None) or next((o for o in n.outputs if o), None)


def _verdict(n, g, ops, inferred, outside, opset, low, high, source) -> Verdict:
    domain = normalize_domain(n.domain)
    if domain:
        return Verdict(
            NO, f"{domain}.{n.op_type} is outside TensorRT's ai.onnx support matrix", source
        )
    row = ops.get(n.op_type)
    if row is None:
        return Verdict(NO, f"{n.op_type} is not in TensorRT's operator support matrix", source)
    supported, types, restriction = row
    if not supported:
        return Verdict(NO, f"TensorRT's support matrix marks {n.op_type} unsupported", source)
    if outside:
        return Verdict(
            UNKNOWN,
            f"the model imports opset {opset}; TensorRT's matrix covers opsets {low} to {high}",
            source,
        )
    name = _data_tensor(n, opset)
    value = g.values.get(name) if name else None
    t = (value.declared or value.inferred or inferred.get(name)) if value is not None else None
    if t is not None and types and t.dtype not in ("undefined", "?"):
        elem = {"float32": "float", "float64": "double"}.get(t.dtype, t.dtype)
        if elem not in types:
            return Verdict(
                NO,
                f"TensorRT's matrix lists {n.op_type} for {', '.join(types)}, not {elem}",
                source,
            )
    if restriction:
        return Verdict(RESTRICTED, f"documented support; restriction: {restriction}", source)
    return Verdict(YES, "documented support in TensorRT's operator support matrix", source)
