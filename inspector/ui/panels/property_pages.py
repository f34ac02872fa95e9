"""The pages of the properties panel: a node, a tensor, the model, as :class:`Page` rich text.

Plain functions of the core's graph model (never a protobuf) and of what the panel already knows
(statistics, whether docs are loading), so they are quick and have no side effects.

Known limitations: a ``graphs`` attribute (a list of graphs) has no "open" link; at most
``MAX_ROWS`` inputs, consumers or ops are listed, with a count of the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inspector.core.graph import Graph, Model, Node, Value
from inspector.core.opdocs import FormalParameter, OpDoc, op_doc
from inspector.core.summary import model_summary
from inspector.core.tensor_stats import TensorStats
from inspector.core.tensor_types import Dim, TensorType, format_shape
from inspector.core.text import format_float
from inspector.ui.panels.page import FindingLike, Page, esc, mono, muted

MAX_ROWS = 200


def placeholder(text: str) -> Page:
    """A page with one muted line (nothing selected, or nothing to show)."""
    page = Page()
    page.paragraph(esc(text), "muted")
    return page


def node_page(
    model: Model, graph: Graph, node: Node, findings: Sequence[FindingLike], loading_docs: bool
) -> Page:
    """A node's page; ``loading_docs``: its operator's documentation is still being loaded."""
    page = Page()
    page.findings(findings)
    opset = model.opset_for(node.domain)
    domain = node.domain or "ai.onnx"
    doc = None if loading_docs else op_doc(node.op_type, node.domain, opset)
    page.heading(node.op_type, f"{domain} · opset {opset}" if opset else domain)
    rows = [
        ("Name", esc(node.name) if node.name else muted("(unnamed)")),
        (
            "Index",
            f"#{node.index}" + (f" in {esc(' › '.join(graph.path))}" if graph.path else ""),
        ),
        ("Domain", esc(domain)),
        (
            "Opset",
            str(opset)
            if opset is not None
            else '<span class="differs">not imported by the model</span>',
        ),
        ("Schema", _schema_text(node.op_type, doc, loading_docs)),
    ]
    if node.doc_string:
        rows.append(("Doc string", esc(node.doc_string)))
    page.key_values(rows)
    if doc is not None and doc.summary:
        page.paragraph(esc(doc.summary))
    _attributes_section(page, node, doc)
    _edges_section(page, graph, "Inputs", node.inputs, doc.inputs if doc else ())
    _edges_section(page, graph, "Outputs", node.outputs, doc.outputs if doc else ())
    if doc is not None:
        _operator_section(page, doc)
    return page


def value_page(
    graph: Graph,
    value: Value,
    findings: Sequence[FindingLike],
    stats: TensorStats | str | None,
    captured: Mapping[str, Any] | None = None,
) -> Page:
    """A tensor's page; ``stats``: an initializer's statistics, why there are none, or None while
    they are computed; ``captured``: the statistics of its values in the last inference run
    (dtype, shape, min, max, mean, std, nan, inf, first_values), when they were captured."""
    page = Page()
    page.findings(findings)
    page.heading(value.name, "tensor")
    rows = [
        ("Declared", _type_html(value.declared)),
        ("Inferred", _type_html(value.inferred, value.declared)),
        ("Type from", esc(value.type_source)),
        ("Role", esc(_role(value))),
    ]
    if value.producer is not None:
        rows.append(("Producer", _node_link(page, graph.nodes[value.producer])))
    consumers = [_node_link(page, graph.nodes[i]) for i in value.consumers[:MAX_ROWS]]
    more = len(value.consumers) - len(consumers)
    rows.append(
        (
            "Consumers",
            ", ".join(consumers) + (muted(f" … and {more:,} more") if more else "")
            if consumers
            else muted("none"),
        )
    )
    page.key_values(rows)
    init = value.initializer
    if init is not None:
        page.section("Initializer")
        where = (
            f"{esc(init.external.file.name)}, offset {init.external.offset:,}"
            if init.external is not None
            else "in the model file"
        )
        page.key_values(
            [
                ("Type", mono(init.dtype)),
                ("Shape", mono(_shape_text(init.shape))),
                ("Elements", f"{init.numel:,}"),
                ("Size", esc(_bytes_text(init.nbytes))),
                ("Stored", where),
            ]
        )
        page.section("Statistics")
        _stats_block(page, stats)
    if captured:
        page.section("Values in the last run")
        keys = ("dtype", "shape", "min", "max", "mean", "std", "nan", "inf", "first_values")
        page.key_values(
            [(k.replace("_", " "), mono(str(captured[k]))) for k in keys if k in captured]
        )
        page.paragraph(
            esc(
                "Captured by exposing every intermediate tensor as an output, which changes "
                "which fusions ONNX Runtime runs: values can differ slightly from a normal run."
            ),
            "muted",
        )
    return page


def model_page(model: Model, findings: Sequence[FindingLike]) -> Page:
    """The model's properties: those of :func:`inspector.core.summary.model_summary`."""
    s = model_summary(model)
    page = Page()
    page.findings(findings)
    page.heading(model.path.name if model.path else "model", "model")
    opsets = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in s["opset_imports"].items())
    producer = " ".join(p for p in (s["producer"]["name"], s["producer"]["version"]) if p)
    rows = [
        ("File", esc(s["file"] or "")),
        ("Size", esc(_bytes_text(s["file_size"]))),
        ("IR version", str(s["ir_version"])),
        ("Opsets", esc(opsets)),
        ("Producer", esc(producer) if producer else muted("not recorded")),
        ("Graph", esc(s["graph_name"]) if s["graph_name"] else muted("(unnamed)")),
        ("Nodes", f"{s['node_count']:,}"),
        (
            "Parameters",
            f"{_count_text(s['parameter_count'])} ({s['parameter_count']:,}), "
            f"{esc(_bytes_text(s['initializer_bytes']))}",
        ),
    ]
    if s["external_data_bytes"]:
        rows.insert(2, ("External data", esc(_bytes_text(s["external_data_bytes"]))))
    if s["domain"]:
        rows.append(("Domain", esc(s["domain"])))
    if s["model_version"]:
        rows.append(("Model version", str(s["model_version"])))
    if s["shape_inference_error"]:
        rows.append(
            ("Shape inference", f'<span class="differs">{esc(s["shape_inference_error"])}</span>')
        )
    page.key_values(rows)
    if s["doc_string"]:
        page.paragraph(esc(s["doc_string"]))
    if s["metadata_props"]:
        page.section("Metadata", len(s["metadata_props"]))
        page.key_values((k, esc(v)) for k, v in s["metadata_props"].items())
    for title, items in (("Inputs", s["inputs"]), ("Outputs", s["outputs"])):
        page.section(title, len(items))
        page.table(
            ("name", "type", "shape"),
            [
                (
                    page.link(io["name"], "value", io["name"], "Show this tensor"),
                    mono(io["dtype"] or "?"),
                    mono(_shape_text(io["shape"])),
                )
                for io in items
            ],
        )
    ops = list(s["op_counts"].items())
    page.section("Operators", len(ops))
    page.table(
        ("op", "count"),
        [(esc(op), f"{n:,}") for op, n in ops[:MAX_ROWS]],
        len(ops) - min(len(ops), MAX_ROWS),
        full_width=False,
    )
    if model.functions:
        page.section("Functions", len(model.functions))
        page.table(
            ("function", "nodes"),
            [
                (
                    page.link(
                        f"{f.domain}:{f.name}" if f.domain else f.name,
                        "graph",
                        f.graph.path,
                        "Show this function's body",
                    ),
                    f"{len(f.graph.nodes):,}",
                )
                for f in model.functions
            ],
        )
    if s["subgraphs"]:
        subgraphs = s["subgraphs"][:MAX_ROWS]
        page.section("Subgraphs", len(s["subgraphs"]))
        page.table(
            ("subgraph", "nodes"),
            [
                (
                    page.link(
                        " › ".join(g["path"]), "graph", tuple(g["path"]), "Show this subgraph"
                    ),
                    f"{g['node_count']:,}",
                )
                for g in subgraphs
            ],
            len(s["subgraphs"]) - len(subgraphs),
        )
    return page


# ---------------------------------------------------------------------------------- pieces


def _shape_text(shape: Sequence[Dim] | None) -> str:
    """``[1,batch,?]``; "rank unknown" where the core says ``None``."""
    return "rank unknown" if shape is None else format_shape(tuple(shape))


def _type_html(t: TensorType | None, declared: TensorType | None = None) -> str:
    """``float32 [1,3,224,224]`` in the fixed font (the space is where a narrow panel may wrap
    it); marked when it differs from ``declared``."""
    if t is None:
        return muted("unknown")
    text = mono(t.dtype if t.shape is None else f"{t.dtype} {format_shape(t.shape)}")
    if declared is not None and declared != t:
        return f'<span class="differs" title="differs from the declared type">{text}</span>'
    return text


def _edge_types_html(declared: TensorType | None, inferred: TensorType | None) -> str:
    """One cell for both types, each tagged by where it comes from (one line when they agree),
    to keep a node's inputs and outputs readable in a narrow dock."""
    if declared is None and inferred is None:
        return muted("type unknown")
    if declared == inferred:
        return _type_html(declared) + muted(" declared, inferred")
    lines = []
    if declared is not None:
        lines.append(_type_html(declared) + muted(" declared"))
    if inferred is not None:
        lines.append(_type_html(inferred, declared) + muted(" inferred"))
    return "<br>".join(lines)


def _role(value: Value) -> str:
    roles = [
        r
        for r, on in (
            ("graph input", value.is_input),
            ("graph output", value.is_output),
            ("initializer", value.initializer is not None),
        )
        if on
    ]
    if roles:
        return ", ".join(roles)
    return "intermediate" if value.producer is not None else "from an outer scope or unset"


def _node_link(page: Page, node: Node) -> str:
    label = node.name or f"#{node.index}"
    return page.link(label, "node", node.index, f"{node.op_type} #{node.index}") + muted(
        f" {node.op_type}"
    )


def _number(v: float | int | None) -> str:
    """Ints exactly, floats to 6 significant digits (as attributes are shown)."""
    if v is None:
        return "—"
    return str(v) if isinstance(v, int) else format_float(v)


def _bytes_text(n: int) -> str:
    """1_572_864 → "1.5 MiB (1,572,864 bytes)"."""
    for power, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if n >= 1024**power:
            return f"{n / 1024**power:.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def _count_text(n: int) -> str:
    """2_510_000 → "2.51 M"."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return str(n)


def _schema_text(op_type: str, doc: OpDoc | None, loading: bool) -> str:
    if loading:
        return muted("loading operator documentation…")
    if doc is None:
        return muted("no schema known for this operator")
    text = f"{esc(op_type)}-{doc.since_version} (since opset {doc.since_version})"
    if doc.source != "onnx":
        text += muted(f" from {doc.source}")
    if doc.deprecated:
        text += ' <span class="differs">deprecated</span>'
    return text


def _first_sentence(text: str) -> str:
    head, dot, rest = text.partition(". ")
    return head + "." if dot and rest else text


def _formal_for(params: Sequence[FormalParameter], i: int) -> FormalParameter | None:
    """The formal parameter the ``i``-th actual input/output binds to (variadic takes the rest)."""
    for j, p in enumerate(params):
        if j == i or (p.option == "variadic" and j <= i):
            return p
    return None


def _attributes_section(page: Page, node: Node, doc: OpDoc | None) -> None:
    described = {a.name: a for a in doc.attributes} if doc else {}
    rows = []
    for a in node.attributes:
        tip = described[a.name].description if a.name in described else ""
        value = mono(a.text)
        if a.subgraph is not None:
            value = (
                esc(a.text)
                + " "
                + page.link(
                    "open subgraph",
                    "graph",
                    a.subgraph.path,
                    "Show this subgraph in the graph view",
                )
            )
        rows.append((f'<span title="{esc(tip)}">{esc(a.name)}</span>', value, muted(a.kind)))
    set_names = {a.name for a in node.attributes}
    for d in described.values():  # the defaults in force for attributes the node leaves unset
        if d.name not in set_names and d.default is not None:
            rows.append(
                (
                    f'<span class="muted" title="{esc(d.description)}">{esc(d.name)}</span>',
                    mono(d.default) + muted(" default"),
                    muted(d.type),
                )
            )
    if rows:
        page.section("Attributes", len(node.attributes))
        page.table(("name", "value", "type"), rows)


def _edges_section(
    page: Page, graph: Graph, title: str, names: Sequence[str], formal: Sequence[FormalParameter]
) -> None:
    if not names:
        return
    page.section(title, len(names))
    rows = []
    for i, name in enumerate(names[:MAX_ROWS]):
        p = _formal_for(formal, i)
        param = f'<span title="{esc(p.description)}">{esc(p.name)}</span>' if p else ""
        if not name:
            rows.append((param, muted("(omitted)"), ""))
            continue
        value = graph.values.get(name)
        cell = page.link(name, "value", name, "Show this tensor")
        if value is not None and value.initializer is not None:
            cell += muted(" initializer")
        declared = value.declared if value else None
        inferred = value.inferred if value else None
        rows.append((param, cell, _edge_types_html(declared, inferred)))
    page.table(("", "name", "type"), rows, len(names) - len(rows))


def _operator_section(page: Page, doc: OpDoc) -> None:
    """The schema's formal inputs, outputs and type constraints (descriptions in tooltips)."""
    page.section(f"Operator {doc.op_type}-{doc.since_version}")
    rows = []
    for arrow, params in (("in", doc.inputs), ("out", doc.outputs)):
        for p in params:
            option = "" if p.option == "single" else muted(f" {p.option}")
            rows.append(
                (
                    muted(arrow),
                    f"<b>{esc(p.name)}</b>{option}",
                    mono(p.type_str),
                    f'<span title="{esc(p.description)}">{esc(_first_sentence(p.description))}</span>',
                )
            )
    if rows:
        page.table(("", "parameter", "type", "description"), rows)
    if doc.type_constraints:
        page.table(
            ("type", "allowed"),
            [
                (
                    f"<b>{esc(tc.param)}</b>",
                    f'<span title="{esc(tc.description)}">{mono(", ".join(tc.allowed))}</span>',
                )
                for tc in doc.type_constraints
            ],
        )


def _stats_block(page: Page, stats: TensorStats | str | None) -> None:
    if stats is None:
        page.paragraph(muted("computing statistics…"))
        return
    if isinstance(stats, str):
        page.paragraph(muted(stats))
        return
    rows: list[tuple[str, str]] = []
    if stats.numeric:
        rows += [
            (k, mono(_number(v)))
            for k, v in (
                ("min", stats.min),
                ("max", stats.max),
                ("mean", stats.mean),
                ("std", stats.std),
            )
        ]
    rows += [
        ("NaN", f"{stats.nan_count:,}"),
        ("Inf", f"{stats.inf_count:,}"),
        ("zeros", f"{stats.zero_count:,}"),
        ("first values", mono(", ".join(stats.first_values)) if stats.size else muted("(empty)")),
    ]
    page.key_values(rows)
