"""Model properties: what `info --json` prints and the model panel shows (one function for both)."""

from __future__ import annotations

from typing import Any

from inspector.core.graph import Graph, Model, TensorType
from inspector.core.tensor_types import Dim


def _dims(t: TensorType | None) -> list[Dim] | None:
    return list(t.shape) if t is not None and t.shape is not None else None


def _io(graph: Graph, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        t = graph.values[name].type
        out.append({"name": name, "dtype": t.dtype if t else None, "shape": _dims(t)})
    return out


def model_summary(model: Model) -> dict[str, Any]:
    """The model's properties as plain JSON-ready data (the contract of ``info --json``)."""
    params, param_bytes = model.parameter_stats()
    subgraphs = [
        {"path": list(g.path), "name": g.name, "node_count": len(g.nodes)}
        for g in model.graph.iter_graphs()
        if g.path
    ]
    return {
        "file": str(model.path) if model.path else None,
        "file_size": model.file_size,
        "external_data_bytes": model.external_bytes,
        "ir_version": model.ir_version,
        "opset_imports": dict(model.opset_imports),
        "producer": {"name": model.producer_name, "version": model.producer_version},
        "domain": model.domain,
        "model_version": model.model_version,
        "doc_string": model.doc_string,
        "metadata_props": dict(model.metadata),
        "graph_name": model.graph.name,
        "inputs": _io(model.graph, model.graph.inputs),
        "outputs": _io(model.graph, model.graph.outputs),
        "node_count": model.node_count,
        "op_counts": model.op_counts(),
        "parameter_count": params,
        "initializer_bytes": param_bytes,
        "functions": [
            {"domain": f.domain, "name": f.name, "node_count": len(f.graph.nodes)}
            for f in model.functions
        ],
        "subgraphs": subgraphs,
        "shape_inference_error": model.inference_error or None,
    }
