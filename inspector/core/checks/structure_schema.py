"""Node-against-schema checks for the ``structure`` family, as onnx.checker makes them
(``OpSchema::Verify`` and ``check_node``), but for every node instead of stopping at the first.

Per node: an op type; an opset import for its domain; for ops onnx has a schema for at that
opset, not deprecated; the input and output counts within the schema's range, no empty name in
a required (single) slot; attributes named, typed, not repeated, known to the schema (names
starting with ``__`` are implementation details, as onnx skips them) and of the schema's type;
every required attribute present. ONNX Runtime rejects all of these at session creation too.

Ops onnx has no schema for (custom domains, ``com.microsoft``) and calls of model-local functions
are not checked against a schema: the ``runtime_support`` family says whether the runtime knows
them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from onnx import AttributeProto, defs

from inspector.core.checks.edges import node_label
from inspector.core.checks.runtime_registry import normalize_domain
from inspector.core.graph import Node

_SINGLE = defs.OpSchema.FormalParameterOption.Single
_VARIADIC = defs.OpSchema.FormalParameterOption.Variadic
_NEEDS_FIELD = {
    AttributeProto.TENSOR: "t",
    AttributeProto.SPARSE_TENSOR: "sparse_tensor",
    AttributeProto.GRAPH: "g",
    AttributeProto.TYPE_PROTO: "tp",
}

Fault = tuple[str, str, str]  # (code, message, hint)


@dataclass(frozen=True)
class _Slots:
    """A schema's inputs or outputs, as the count checks need them."""

    kind: str  # "input" | "output"
    lo: int
    hi: int
    names: tuple[str, ...]  # formal parameter names
    single: tuple[bool, ...]  # whether each formal parameter is required (not optional)
    variadic: bool  # whether the last one is variadic

    def faults(self, node: Node, given: list[str], where: str) -> list[Fault]:
        n = len(given)
        lo, hi, kind = self.lo, self.hi, self.kind
        code = f"wrong-{kind}-count"
        if n < lo or n > hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi if hi < 2**31 - 1 else 'any number'}"
            return [
                (
                    code,
                    f"{node_label(node)} has {n} {kind}s; {node.op_type} at {where} takes {want}",
                    f"give it {want} {kind}s",
                )
            ]
        if (n <= len(self.names) or self.variadic) and "" not in given:
            return []  # the usual case
        out: list[Fault] = []
        for k, name in enumerate(given):
            if k >= len(self.names):
                if not self.variadic:
                    out.append(
                        (code, f"{node_label(node)} has more {kind}s ({n}) than declared", "")
                    )
                break
            if not name and self.single[k]:
                out.append(
                    (
                        code,
                        f"{node_label(node)}: {kind} {k} ({self.names[k]}) is required but "
                        "given as ''",
                        f"connect a tensor to {kind} {self.names[k]}",
                    )
                )
        return out


@dataclass(frozen=True)
class _Rules:
    """What one schema asks of a node (cached: a 100k-node model has a few dozen)."""

    schema: defs.OpSchema
    where: str  # "ai.onnx opset 17"
    inputs: _Slots
    outputs: _Slots
    types: dict[str, int]  # attribute name → AttributeProto type
    required: frozenset[str]


@functools.cache
def schema_at(op: str, version: int, domain: str) -> defs.OpSchema | None:
    """onnx's schema of ``op`` in force at ``domain`` opset ``version`` (None: no such op)."""
    try:
        return defs.get_schema(op, version, domain)
    except defs.SchemaError:
        return None


@functools.cache
def _rules(op: str, version: int, domain: str) -> _Rules | None:
    schema = schema_at(op, version, domain)
    if schema is None:
        return None

    def slots(kind: str, lo: int, hi: int, formal: list) -> _Slots:
        return _Slots(
            kind,
            lo,
            hi,
            tuple(f.name for f in formal),
            tuple(f.option == _SINGLE for f in formal),
            bool(formal) and formal[-1].option == _VARIADIC,
        )

    specs = schema.attributes
    return _Rules(
        schema,
        f"{domain or 'ai.onnx'} opset {version}",
        slots("input", schema.min_input, schema.max_input, schema.inputs),
        slots("output", schema.min_output, schema.max_output, schema.outputs),
        {name: int(spec.type.value) for name, spec in specs.items()},
        frozenset(name for name, spec in specs.items() if spec.required),
    )


def node_faults(
    node: Node, opsets: dict[str, int], local_functions: set[tuple[str, str]]
) -> list[Fault]:
    """Every schema fault of one node, as (code, message, hint) tuples."""
    if not node.op_type:
        return [("invalid-node", f"node #{node.index} has no op_type", "set its op_type")]
    domain = normalize_domain(node.domain)
    version = opsets.get(domain)
    if version is None:
        name = domain or "ai.onnx"
        return [
            (
                "domain-not-imported",
                f"{node_label(node)} is in domain {name}, which the model does not import",
                f"add an opset import for {name} (onnx.helper.make_opsetid)",
            )
        ]
    if (domain, node.op_type) in local_functions:
        return []
    rules = _rules(node.op_type, version, domain)
    if rules is None:
        return []
    if rules.schema.deprecated:
        return [
            (
                "deprecated-op",
                f"{node_label(node)}: {node.op_type} is deprecated at {rules.where}",
                "replace it with the op that superseded it (see the operator's documentation)",
            )
        ]
    out = rules.inputs.faults(node, node.inputs, rules.where)
    out += rules.outputs.faults(node, node.outputs, rules.where)
    attributes = node.proto.attribute
    if attributes or rules.required:
        out += _attribute_faults(node, attributes, rules)
    return out


def _attribute_faults(node: Node, attributes, rules: _Rules) -> list[Fault]:
    out: list[Fault] = []
    label = node_label(node)
    types = rules.types
    seen: set[str] = set()
    for a in attributes:
        name = a.name
        if not name:
            out.append(("invalid-attribute", f"{label} has an attribute with no name", ""))
            continue
        if name in seen:
            out.append(("invalid-attribute", f"{label}: attribute '{name}' appears twice", ""))
            continue
        seen.add(name)
        want = types.get(name)
        if want is None:
            if not name.startswith("__"):
                known = ", ".join(sorted(types)) or "none"
                out.append(
                    (
                        "unknown-attribute",
                        f"{label}: {node.op_type} at {rules.where} has no attribute '{name}' "
                        f"(it has: {known})",
                        f"remove '{name}'",
                    )
                )
            continue
        if a.type == AttributeProto.UNDEFINED:
            out.append(("invalid-attribute", f"{label}: attribute '{name}' has no type", ""))
            continue
        if a.type != want:
            got = AttributeProto.AttributeType.Name(a.type)
            out.append(
                (
                    "attribute-type-mismatch",
                    f"{label}: attribute '{name}' is {got}; {node.op_type} wants "
                    f"{AttributeProto.AttributeType.Name(want)}",
                    f"store '{name}' as {AttributeProto.AttributeType.Name(want).lower()}",
                )
            )
            continue
        field = _NEEDS_FIELD.get(want)
        if field and not a.ref_attr_name and not a.HasField(field):
            out.append(("invalid-attribute", f"{label}: attribute '{name}' holds no value", ""))
    for name in sorted(rules.required - seen):
        out.append(
            (
                "missing-attribute",
                f"{label}: {node.op_type} requires attribute '{name}'",
                f"set '{name}'",
            )
        )
    return out
