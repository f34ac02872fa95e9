"""Node-against-schema checks for the ``structure`` family, as onnx.checker makes them
(``OpSchema::Verify`` and ``check_node``), but for every node instead of stopping at the first.

Every node: an op type, an input or an output, an opset import for its domain (its name as
written, as the checker looks it up), attributes named, typed, not repeated, holding one value of their type.
Nodes of ops onnx has a schema for at that opset: not deprecated; input and output counts in the
schema's range, no empty name in a required (single) slot; attributes known to the schema (names
starting with ``__`` are implementation details, as onnx skips them) and of its type; every
required attribute present. onnx.checker rejects each of these; ONNX Runtime most.

Ops onnx has no schema for (custom domains, ``com.microsoft``) and calls of model-local functions
get only the checks every node gets: the ``runtime_support`` family says whether the runtime
knows them.
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

# the attribute fields that hold a value, and the type each stands for
_VALUE_TYPES = {
    "f": AttributeProto.FLOAT,
    "i": AttributeProto.INT,
    "s": AttributeProto.STRING,
    "t": AttributeProto.TENSOR,
    "g": AttributeProto.GRAPH,
    "sparse_tensor": AttributeProto.SPARSE_TENSOR,
    "tp": AttributeProto.TYPE_PROTO,
    "floats": AttributeProto.FLOATS,
    "ints": AttributeProto.INTS,
    "strings": AttributeProto.STRINGS,
    "tensors": AttributeProto.TENSORS,
    "graphs": AttributeProto.GRAPHS,
    "sparse_tensors": AttributeProto.SPARSE_TENSORS,
    "type_protos": AttributeProto.TYPE_PROTOS,
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
    room: int  # how many can be given (``hi`` after a variadic one)

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
        variadic = bool(formal) and formal[-1].option == _VARIADIC
        return _Slots(
            kind,
            lo,
            hi,
            tuple(f.name for f in formal),
            tuple(f.option == _SINGLE for f in formal),
            variadic,
            hi if variadic else len(formal),
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
    """Every fault of one node against onnx's rules and its schema, as (code, message, hint).

    ``opsets`` maps each imported domain (an ``"ai.onnx"`` import as ``""``) to its version.
    onnx.checker looks the node's own domain up as written, so a node in ``"ai.onnx"`` has no
    import for it (ONNX Runtime takes it as ``""``)."""
    out: list[Fault] = []
    op, ins, outs = node.op_type, node.inputs, node.outputs
    if not op:
        out.append(("invalid-node", f"node #{node.index} has no op_type", "set its op_type"))
    if not ins and not outs:
        out.append(("invalid-node", f"{node_label(node)} has no inputs and no outputs", ""))
    domain = normalize_domain(node.domain)
    version = opsets.get(domain)
    if node.domain not in opsets:
        out.append(_not_imported(node, domain, version))
    rules = None
    if version is not None and op and (domain, op) not in local_functions:
        rules = _rules(op, version, domain)
    if rules is not None and rules.schema.deprecated:
        out.append(
            (
                "deprecated-op",
                f"{node_label(node)}: {op} is deprecated at {rules.where}",
                "replace it with the op that superseded it (see the operator's documentation)",
            )
        )
        rules = None
    if rules is not None:
        for slots, given in ((rules.inputs, ins), (rules.outputs, outs)):
            n = len(given)  # the usual case first, without a call
            if not (slots.lo <= n <= slots.hi and n <= slots.room and "" not in given):
                out += slots.faults(node, given, rules.where)
    attributes = node.proto.attribute
    if attributes or (rules is not None and rules.required):
        out += _attribute_faults(node, node_label(node), attributes, rules)
    return out


def _not_imported(node: Node, domain: str, version: int | None) -> Fault:
    name = domain or "ai.onnx"
    if version is None:
        return (
            "domain-not-imported",
            f"{node_label(node)} is in domain '{node.domain}', which the model does not import",
            f"add an opset import for {name} (onnx.helper.make_opsetid)",
        )
    return (
        "domain-not-imported",
        f"{node_label(node)} is in domain '{node.domain}', which the model imports only as ''",
        "write the node's domain as '', the default domain",
    )


def _attribute_faults(node: Node, label: str, attributes, rules: _Rules | None) -> list[Fault]:
    """Each attribute well formed (every node), then against the schema (``rules``, if any)."""
    out: list[Fault] = []
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
        if a.type == AttributeProto.UNDEFINED:
            out.append(("invalid-attribute", f"{label}: attribute '{name}' has no type", ""))
            continue
        held = [_VALUE_TYPES[f.name] for f, _ in a.ListFields() if f.name in _VALUE_TYPES]
        if len(held) > 1 or (held and held[0] != a.type):
            kinds = ", ".join(AttributeProto.AttributeType.Name(t) for t in held)
            out.append(
                (
                    "invalid-attribute",
                    f"{label}: attribute '{name}' is typed "
                    f"{AttributeProto.AttributeType.Name(a.type)} but holds {kinds}",
                    "store one value, of the type it declares",
                )
            )
            continue
        if rules is not None:
            out += _schema_attribute_faults(node, label, a, rules)
    if rules is not None:
        for name in sorted(rules.required - seen):
            out.append(
                (
                    "missing-attribute",
                    f"{label}: {node.op_type} requires attribute '{name}'",
                    f"set '{name}'",
                )
            )
    return out


def _schema_attribute_faults(node: Node, label: str, a, rules: _Rules) -> list[Fault]:
    name = a.name
    want = rules.types.get(name)
    if want is None:
        if name.startswith("__"):
            return []
        known = ", ".join(sorted(rules.types)) or "none"
        return [
            (
                "unknown-attribute",
                f"{label}: {node.op_type} at {rules.where} has no attribute '{name}' "
                f"(it has: {known})",
                f"remove '{name}'",
            )
        ]
    if a.type != want:
        return [
            (
                "attribute-type-mismatch",
                f"{label}: attribute '{name}' is {AttributeProto.AttributeType.Name(a.type)}; "
                f"{node.op_type} wants {AttributeProto.AttributeType.Name(want)}",
                f"store '{name}' as {AttributeProto.AttributeType.Name(want).lower()}",
            )
        ]
    field = _NEEDS_FIELD.get(want)
    if field and not a.ref_attr_name and not a.HasField(field):
        return [("invalid-attribute", f"{label}: attribute '{name}' holds no value", "")]
    return []
