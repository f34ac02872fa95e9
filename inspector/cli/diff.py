"""`onnx-inspector diff A B`: what differs between two models, from the core's ``diff_models``.

The same diff the window's side-by-side comparison shows; this module only lays it out.
"""

from __future__ import annotations

import argparse

from inspector.cli.common import EXIT_FINDINGS, EXIT_OK, open_model, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A.onnx", help="the reference model")
    parser.add_argument("b", metavar="B.onnx", help="the model to compare with it")


def run(args: argparse.Namespace) -> int:
    """Pairs the two main graphs' nodes (by name where names agree, else by op type, position
    and neighbours) and prints each node added, removed or changed (attributes, input/output
    dtypes and shapes, initializer values with their largest difference, opset in force) and
    each model-level change. Exit 0 when the models are the same, 1 when they differ, 2 when
    one cannot be read."""
    from inspector.core.diff import diff_models

    a, b = open_model(args.a), open_model(args.b)
    diff = diff_models(a, b)
    if args.json:
        print_json(
            {
                "same": diff.same,
                "matched": diff.matched,
                "matched_by_name": diff.matched_by_name,
                "matched_by_structure": diff.matched_by_structure,
                "removed": len(diff.removed),
                "added": len(diff.added),
                "changed": len(diff.changed),
                "findings": [f.to_dict() for f in diff.findings],
            }
        )
    else:
        na, nb = len(a.graph.nodes), len(b.graph.nodes)
        print(
            f"{diff.matched} of {na} nodes in A matched to {nb} in B "
            f"({diff.matched_by_name} by name, {diff.matched_by_structure} by structure); "
            f"{len(diff.changed)} changed, {len(diff.removed)} removed, {len(diff.added)} added"
        )
        if diff.same:
            print("the models are the same")
        rows = [
            (
                f.code.removeprefix("diff-"),
                _ref(f.node_index),
                _ref(f.other_node_index),
                f.op_type or "-",
                f.message,
            )
            for f in diff.findings
        ]
        if rows:
            rows.insert(0, ("", "A", "B", "op", ""))
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for r in rows:
                print(
                    "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
                )
    return EXIT_OK if diff.same else EXIT_FINDINGS


def _ref(index: int | None) -> str:
    return f"#{index}" if index is not None else "-"
