"""Verdicts for providers whose support is read from their ONNX Runtime source: XNNPACK's kernel
registrations (op and version range), QNN's op builders (op types) and OpenVINO's supported-op
list (op types, the OpenVINO version and devices).

These lists say which ops a provider may take, not every condition it checks: XNNPACK's
partitioner checks shapes, attributes and constant weights per node, QNN's op builders validate
types and attributes against the QNN backend, OpenVINO's ``data_ops.cc`` holds per-op conditions.
So a listed op is "restricted" (documented support, with the condition named), an op outside the
list is "no", and nothing is claimed beyond that.

Known limitations: types are not checked (the registrations keep them in code); QNN and
OpenVINO lists carry no versions, so every version of a listed op is taken as listed.
"""

from __future__ import annotations

from inspector.core.checks.runtime_registry import OPEN_END, Registry, normalize_domain
from inspector.core.graph import Model
from inspector.core.providers.verdict import NO, RESTRICTED, Verdict

_CONDITION = {
    "XnnpackExecutionProvider": "XNNPACK's partitioner also checks the node's shapes, attributes "
    "and constant weights",
    "QNNExecutionProvider": "QNN's op builder also validates the node's types and attributes "
    "against the QNN backend",
    "OpenVINOExecutionProvider": "the OpenVINO provider also checks per-op conditions "
    "(data_ops.cc)",
}


def list_verdicts(
    provider: str, model: Model, entry: dict, schemas: Registry | None, source: str
) -> dict:
    """(graph path, node index) → :class:`Verdict` for every node of ``model``."""
    kind, table = entry["kind"], entry["table"]
    name = provider.removesuffix("ExecutionProvider")
    condition = _CONDITION[provider]
    opsets = {normalize_domain(d): v for d, v in model.opset_imports.items()}
    out = {}
    graphs = [*model.graph.iter_graphs(), *(f.graph for f in model.functions)]
    for g in graphs:
        for n in g.nodes:
            domain = normalize_domain(n.domain)
            if kind == "kernels":
                rows = table.get(domain, {}).get(n.op_type)
                schema = (
                    schemas.schema_for(domain, n.op_type, opsets.get(domain, 0))
                    if schemas
                    else None
                )
                if not rows:
                    v = Verdict(NO, f"{n.op_type} is not among {name}'s registered kernels", source)
                elif schema is not None and not any(
                    a == schema.since or (a < schema.since <= b and b != OPEN_END)
                    for a, b, _ in rows
                ):
                    have = ", ".join(f"{a}+" if b == OPEN_END else f"{a}-{b}" for a, b, _ in rows)
                    v = Verdict(
                        NO,
                        f"{name} has {n.op_type} kernels for versions {have}, not {schema.since}",
                        source,
                    )
                else:
                    v = Verdict(RESTRICTED, f"registered kernel; {condition}", source)
            elif kind == "qnn":
                v = (
                    Verdict(RESTRICTED, f"documented support (an op builder); {condition}", source)
                    if n.op_type in table
                    else Verdict(NO, f"QNN has no op builder for {n.op_type}", source)
                )
            else:
                row = table.get(n.op_type)
                v = (
                    Verdict(
                        RESTRICTED,
                        f"documented support from OpenVINO {row[0]} on {', '.join(row[1])}; "
                        f"{condition}",
                        source,
                    )
                    if row
                    else Verdict(NO, f"{n.op_type} is not in OpenVINO's supported-op list", source)
                )
            out[(g.path, n.index)] = v
    return out
