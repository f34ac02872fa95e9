"""The retarget preview: what ``onnx.version_converter`` makes of the model at another ai.onnx
opset, which nodes it cannot convert, and what the runtime still cannot run after converting.

Nothing here writes a file: :func:`retarget_preview` converts in memory; Save As at another opset
is a rewrite (:mod:`inspector.core.rewrites.retarget`).

``onnx.version_converter`` stops at the first op it cannot convert and does not say which node:
when it fails, each op type is converted alone to find every one it refuses (one finding per op
type, with its count).

Known limitations: an op that converts alone but not in its graph (an adapter that needs a
neighbour's constant) is only named through the converter's own error. Findings
on the converted model are mapped back to the original nodes by their first output name (the
converter keeps output names); a node the converter added keeps its converted-model position
(only in the main graph) and says so in its message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from inspector.core.checks import runtime_support
from inspector.core.checks.runtime_functions import value_info
from inspector.core.checks.target import RuntimeTarget
from inspector.core.findings import Finding, Severity, error_line
from inspector.core.graph import Model, Node, build_model
from inspector.core.loader import LoadedFile
from inspector.core.tasks import CancelToken


@dataclass
class RetargetPreview:
    """The outcome of converting to ``opset``: the converted proto (None if conversion failed),
    the converter's error text, and the findings (conversion failures and runtime support)."""

    opset: int
    converted: onnx.ModelProto | None
    error: str
    findings: list[Finding]


def convert(model: Model, opset: int) -> onnx.ModelProto:
    """The model converted to ai.onnx ``opset`` (raises what the converter raises)."""
    from onnx import version_converter

    return version_converter.convert_version(model.proto, opset)


def retarget_preview(
    model: Model, target: RuntimeTarget, cancel: CancelToken | None = None
) -> RetargetPreview:
    """Convert to ``target.opset`` and check the result for ``target``'s runtime and provider."""
    opset = target.opset if target.opset is not None else model.opset_for("") or 0
    try:
        converted = convert(model, opset)
    except Exception as e:  # the converter raises plain RuntimeError/ValueError with its reason
        error = error_line(e)
        error = error.rsplit("failed: ", 1)[-1]  # drop the C++ file and assertion prefix
        return RetargetPreview(opset, None, error, _conversion_failures(model, opset, error))
    if cancel is not None:
        cancel.check()
    loaded = LoadedFile(
        model.path or Path("converted.onnx"), converted.ByteSize(), converted, {}, 0
    )
    converted_model = build_model(loaded, cancel=cancel)
    found = runtime_support.check(converted_model, replace(target, opset=None), cancel)
    return RetargetPreview(opset, converted, "", _map_back(model, converted_model, found, opset))


def retarget_findings(
    model: Model, target: RuntimeTarget, cancel: CancelToken | None = None
) -> list[Finding]:
    """The preview's findings: what ``run_checks`` reports when the target names an opset."""
    return retarget_preview(model, target, cancel).findings


def _conversion_failures(model: Model, opset: int, error: str) -> list[Finding]:
    """Every op type the converter refuses, not only the first it stopped at: one finding per op
    type, on its first node, with how many nodes have it (a CNN's 239 refused nodes are one row,
    not 239 identical ones). Each op type of the main graph is converted alone, as a one-node
    model with the node's attributes, typed inputs and initializers; when no op refuses alone
    (a failure that needs the whole graph) the converter's own error stands."""
    hint = "convert this op by hand (or re-export the model at that opset)"
    refused = _refused_ops(model, opset)
    if not refused:
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", error))
        refused = {
            n.op_type: (error, [m for m in model.graph.nodes if m.op_type == n.op_type])
            for n in model.graph.nodes
            if n.op_type in words
        }
    if not refused:
        message = f"onnx.version_converter cannot convert to opset {opset}: {error}"
        return [Finding(Severity.ERROR, "retarget-failed", message, hint=hint)]
    out = []
    for op, (reason, nodes) in refused.items():
        first = nodes[0]
        more = f"; {len(nodes)} {op} nodes, the first is marked" if len(nodes) > 1 else ""
        out.append(
            Finding(
                Severity.ERROR,
                "retarget-failed",
                f"onnx.version_converter cannot convert {op} to opset {opset}: {reason}{more}",
                hint=hint,
                node=first.name,
                node_index=first.index,
                op_type=op,
            )
        )
    return out


def _refused_ops(model: Model, opset: int) -> dict[str, tuple[str, list[Node]]]:
    """op type → (the converter's reason, its nodes) for each op type of the main graph that
    the converter refuses on its own."""
    from onnx import helper, version_converter

    by_type: dict[tuple[str, str], list[Node]] = {}
    for n in model.graph.nodes:
        by_type.setdefault((n.domain, n.op_type), []).append(n)
    refused: dict[str, tuple[str, list[Node]]] = {}
    for (_domain, op), nodes in by_type.items():
        node = nodes[0]
        graph = model.graph
        inputs, inits = [], []
        for name in dict.fromkeys(i for i in node.inputs if i):
            value = graph.values.get(name)
            if value is not None and value.initializer is not None:
                inits.append(value.initializer._proto)
                if model.ir_version < 4:  # IR 3 lists every initializer among the inputs
                    inputs.append(value_info(name, value.type))
            else:
                inputs.append(value_info(name, value.type if value is not None else None))
        outputs = [value_info(o, None) for o in node.outputs if o]
        probe = helper.make_model(
            helper.make_graph([node.proto], "probe", inputs, outputs, inits),
            opset_imports=list(model.proto.opset_import),
        )
        probe.ir_version = model.ir_version
        try:
            version_converter.convert_version(probe, opset)
        except Exception as e:  # the converter's reason, without its C++ file prefix
            refused[op] = (error_line(e).rsplit("failed: ", 1)[-1], nodes)
    return refused


def _map_back(
    original: Model, converted: Model, findings: list[Finding], opset: int
) -> list[Finding]:
    by_output = {n.outputs[0]: n.index for n in original.graph.nodes if n.outputs}
    out = []
    for f in findings:
        suffix = f" (after conversion to opset {opset})"
        if f.node_index is not None and not f.path:
            node = converted.graph.nodes[f.node_index]
            index = by_output.get(node.outputs[0]) if node.outputs else None
            if index is None:
                suffix = f" (in a node the conversion to opset {opset} added)"
            else:
                f = replace(f, node_index=index, node=original.graph.nodes[index].name)
        out.append(replace(f, message=f.message + suffix))
    return out
