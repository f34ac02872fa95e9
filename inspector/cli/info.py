"""`onnx-inspector info MODEL`: the model's properties, from the core's ``model_summary``.

The same summary the window's model page shows; this module only lays it out.
"""

from __future__ import annotations

import argparse
from typing import Any

from inspector.cli.common import EXIT_OK, open_model, print_json, table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the .onnx file")


def run(args: argparse.Namespace) -> int:
    from inspector.core.hierarchy import build_hierarchy
    from inspector.core.summary import model_summary
    from inspector.core.tensor_types import format_shape

    model = open_model(args.model)
    summary = model_summary(model)
    hierarchy = build_hierarchy(model.graph)
    summary["groups"] = hierarchy.to_dict()
    if args.json:
        print_json(summary)
        return EXIT_OK
    opsets = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in summary["opset_imports"].items())
    producer = " ".join(x for x in summary["producer"].values() if x) or "(unknown)"
    rows = [
        ("file", f"{summary['file']} ({summary['file_size']:,} bytes)"),
        ("ir version", str(summary["ir_version"])),
        ("opsets", opsets),
        ("producer", producer),
        ("nodes", f"{summary['node_count']:,}"),
        ("parameters", f"{summary['parameter_count']:,} ({summary['initializer_bytes']:,} bytes)"),
    ]
    if summary["functions"]:
        rows.append(("functions", ", ".join(f["name"] for f in summary["functions"])))
    if summary["subgraphs"]:
        rows.append(("subgraphs", str(len(summary["subgraphs"]))))
    lines = [table(rows, ""), "inputs:"]
    lines += [
        table([(i["name"], f"{i['dtype']}{format_shape(i['shape'])}") for i in summary["inputs"]])
        or "  (none)"
    ]
    lines += ["outputs:"]
    lines += [
        table([(o["name"], f"{o['dtype']}{format_shape(o['shape'])}") for o in summary["outputs"]])
        or "  (none)"
    ]
    lines += ["op counts:", table([(k, str(v)) for k, v in summary["op_counts"].items()])]
    lines += group_lines(summary["groups"])
    print("\n".join(lines))
    return EXIT_OK


GROUP_LEVELS = 3  # levels of the hierarchy the human summary shows
GROUP_LINES = 24


def group_lines(groups: dict[str, Any]) -> list[str]:
    """The hierarchy for people: a few levels, each run of alike siblings (``layers.0`` …
    ``layers.31`` with the same node count) on one line, at most ``GROUP_LINES`` lines."""
    if groups["source"] == "none":
        return ["groups: none (no name scopes, no repeated blocks)"]
    rows: list[tuple[str, str]] = []

    def walk(tree: list[dict[str, Any]], level: int) -> None:
        for first, run in _alike_runs(tree):
            label = first["name"] if len(run) == 1 else f"{first['name']} … {run[-1]['name']}"
            each = " each" if len(run) > 1 else ""
            count = f"×{len(run)}  " if len(run) > 1 else ""
            nodes = f"{first['nodes']:,} node{'' if first['nodes'] == 1 else 's'}"
            params = f"{first['params']:,} param{'' if first['params'] == 1 else 's'}"
            rows.append(("  " * level + label, f"{count}{nodes}{each}, {params}{each}"))
            if level + 1 < GROUP_LEVELS:
                walk(first["children"], level + 1)

    walk(groups["tree"], 0)
    shown = rows[:GROUP_LINES]
    lines = [f"groups (from {groups['source']}):", table(shown)]
    if len(rows) > len(shown):
        lines.append(f"  … {len(rows) - len(shown)} more lines (--json has the whole tree)")
    return lines


def _alike_runs(tree: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Consecutive siblings whose names differ only in a trailing number and whose node and
    parameter counts agree, as (first, run); any other sibling is a run of one."""
    runs: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for g in tree:
        if runs:
            first, run = runs[-1]
            if (
                _stem(g["name"]) is not None
                and _stem(g["name"]) == _stem(first["name"])
                and (g["nodes"], g["params"]) == (first["nodes"], first["params"])
            ):
                run.append(g)
                continue
        runs.append((g, [g]))
    return runs


def _stem(name: str) -> str | None:
    """``"layers.12"`` → ``"layers."``, ``"block 3"`` → ``"block "``; None without a number."""
    stripped = name.rstrip("0123456789")
    return stripped if stripped != name else None
