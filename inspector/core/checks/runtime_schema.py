"""The runtime's own schema check of a node, and the function bodies only the runtime defines.

``schema_problem`` restates what ONNX Runtime checks when it resolves a graph
(``Graph::InferAndVerifyTypeMatch`` and ``OpSchema::Verify``), using the schemas the installed
onnxruntime registers (:mod:`.runtime_registry`): every required attribute is present; each input's
type is one its formal parameter takes; every input bound to one type parameter has the same type.
The runtime applies it to every node, but only two cases are the runtime's business here: nodes of
domains whose schemas only the runtime defines (``com.microsoft``: onnx cannot check those), and
the nodes of an ONNX function body the runtime inlines (onnx never sees those at the call's types).

``ort_function`` builds the bodies of the ``com.microsoft`` ops whose schemas define one in
onnxruntime's C++ (the Python bindings do not expose them): a transcription of each builder, with
its source file in onnxruntime (``onnxruntime/core/graph/contrib_ops/``).
"""

from __future__ import annotations

import math

import onnx
from onnx import helper

from inspector.core.checks.runtime_registry import SchemaVersion


def schema_problem(
    schema: SchemaVersion,
    op: str,
    ins: tuple[str | None, ...],
    attribute_names: set[str],
) -> str | None:
    """What the runtime's schema check rejects in a node of ``op`` with input types ``ins``
    (onnxruntime type strings; None where unknown, "" where left out), or None."""
    missing = [a for a in schema.required if a not in attribute_names]
    if missing:
        return f"required attribute '{missing[0]}' is missing"
    if not schema.input_types:
        return None
    bound: dict[str, str] = {}
    last = len(schema.inputs) - 1
    for i, actual in enumerate(ins):
        if not actual:
            continue  # left out, or of unknown type
        formal = i if i <= last else (last if schema.inputs[last][1] else None)
        if formal is None:
            continue  # more inputs than the schema has: the arity check is onnx's
        param = schema.inputs[formal][0]
        allowed = schema.input_types[formal]
        if allowed and actual not in allowed:
            return (
                f"input {i} of {op} is {_short(actual)}, which its schema does not take for "
                f"{param} ({', '.join(sorted(_short(t) for t in allowed))})"
            )
        first = bound.setdefault(param, actual)
        if first != actual and schema.input_homogeneous[formal]:
            return f"{op}'s type parameter {param} is bound to both {_short(first)} and {_short(actual)}"
    return None


def _short(t: str) -> str:
    return t[7:-1] if t.startswith("tensor(") and t.count("(") == 1 else t


# --------------------------------------------------------------------------- runtime-only bodies


def ort_function(
    node: onnx.NodeProto, domain: str, elem_type: int | None
) -> tuple[onnx.FunctionProto, str] | None:
    """The body onnxruntime inlines for a ``com.microsoft`` op that has no kernel for its types,
    and the source file that defines it; None when the runtime defines no body for the op (or the
    first input's element type, which every one of these builders needs, is unknown)."""
    if domain != "com.microsoft" or elem_type is None:
        return None
    build = _BUILDERS.get(node.op_type)
    if build is None:
        return None
    body, source = build(node, elem_type)
    inputs = ["X", "bias"] if any("bias" in ins for _, ins, _ in body) else ["X"]
    fn = helper.make_function(
        "com.microsoft",
        node.op_type,
        inputs,
        ["Y"],
        [_node(op, ins, out, elem_type) for op, ins, out in body],
        [helper.make_opsetid("", 13)],
    )
    return fn, source


def _node(op: str, ins: tuple[str, ...], out: str, elem_type: int) -> onnx.NodeProto:
    if op == "Constant":  # ins holds the value, as text
        value = helper.make_tensor(out, elem_type, [], [float(ins[0])])
        return helper.make_node("Constant", [], [out], value=value)
    return helper.make_node(op, list(ins), [out])


def _gelu(node: onnx.NodeProto, _elem: int) -> tuple[list, str]:
    # contrib_defs.cc, Gelu: x * 0.5 * (1 + erf(x * sqrt(0.5)))
    return [
        ("Constant", (repr(0.5),), "Half"),
        ("Constant", (repr(1.0),), "One"),
        ("Constant", (repr(math.sqrt(0.5)),), "C"),
        ("Mul", ("C", "X"), "CX"),
        ("Erf", ("CX",), "ERFCX"),
        ("Add", ("ERFCX", "One"), "ERFCXPlus1"),
        ("Mul", ("ERFCXPlus1", "Half"), "PhiX"),
        ("Mul", ("X", "PhiX"), "Y"),
    ], "contrib_defs.cc (Gelu)"


def _quick_gelu(node: onnx.NodeProto, _elem: int) -> tuple[list, str]:
    # contrib_defs.cc, QuickGelu: x * sigmoid(alpha * x)
    alpha = next((a.f for a in node.attribute if a.name == "alpha"), 1.702)
    return [
        ("Constant", (repr(alpha),), "Alpha"),
        ("Mul", ("Alpha", "X"), "CX"),
        ("Sigmoid", ("CX",), "SIGMOIDCX"),
        ("Mul", ("X", "SIGMOIDCX"), "Y"),
    ], "contrib_defs.cc (QuickGelu)"


def _fast_gelu(node: onnx.NodeProto, _elem: int) -> tuple[list, str]:
    # bert_defs.cc, FastGelu: 0.5 * x * (1 + tanh(x * (0.797885 + 0.035677 * x * x)))
    has_bias = len(node.input) > 1 and bool(node.input[1])
    return [
        ("Constant", (repr(0.5),), "a"),
        ("Constant", (repr(0.797885),), "b"),
        ("Constant", (repr(0.035677),), "c"),
        ("Constant", (repr(1.0),), "one"),
        ("Add", ("X", "bias"), "X_bias") if has_bias else ("Identity", ("X",), "X_bias"),
        ("Mul", ("X_bias", "X_bias"), "T1"),
        ("Mul", ("c", "T1"), "T2"),
        ("Add", ("b", "T2"), "T3"),
        ("Mul", ("X_bias", "T3"), "T4"),
        ("Tanh", ("T4",), "T5"),
        ("Add", ("one", "T5"), "T6"),
        ("Mul", ("X_bias", "T6"), "T7"),
        ("Mul", ("a", "T7"), "Y"),
    ], "bert_defs.cc (FastGelu)"


_BUILDERS = {"Gelu": _gelu, "QuickGelu": _quick_gelu, "FastGelu": _fast_gelu}
