"""`onnx-inspector diff A B`: what differs between two models, from the core's ``diff_models``.

The same diff the window's side-by-side comparison shows; this module only lays it out.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from inspector.cli.common import EXIT_FINDINGS, EXIT_OK, UsageError, open_model, print_json, seed

if TYPE_CHECKING:  # the CLI starts without onnx: heavy modules are imported when used
    from inspector.core.diff import ModelDiff
    from inspector.core.diff.numeric import NumericDiff
    from inspector.core.graph import Model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A.onnx", help="the reference model")
    parser.add_argument("b", metavar="B.onnx", help="the model to compare with it")
    parser.add_argument(
        "--run",
        action="store_true",
        help="also run both models on the same inputs and compare every output and matched "
        "tensor: the first node where they part is named",
    )
    parser.add_argument(
        "--inputs",
        metavar="DIR_OR_NPZ",
        help="with --run: the inputs (as `run --inputs` takes them; random for the rest)",
    )
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random inputs")
    parser.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (1e-3)")
    parser.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (1e-5)")


def run(args: argparse.Namespace) -> int:
    """Pairs the two main graphs' nodes (by name where names agree, else by op type, position
    and neighbours) and prints each node added, removed or changed (attributes, input/output
    dtypes and shapes, initializer values with their largest difference, opset in force) and
    each model-level change. With --run, also runs both models on the same inputs (random,
    seeded, or --inputs) in a child process and compares every output and, captured, every
    matched tensor within --rtol/--atol: each output that differs, and the first node where the
    models part, are findings. Exit 0 when the models are the same (and, with --run, compute
    the same), 1 when they differ, 2 when one cannot be read."""
    from inspector.core.diff import diff_models
    from inspector.core.diff.numeric import describe_gap

    if args.inputs and not args.run:
        raise UsageError("--inputs compares outputs: add --run")
    a, b = open_model(args.a), open_model(args.b)
    diff = diff_models(a, b)
    findings, numeric = list(diff.findings), None
    if args.run:
        numeric = _numeric(args, a, b, diff)
        findings += numeric.findings
    same = diff.same and (numeric is None or numeric.same)
    if args.json:
        print_json(
            {
                "same": same,
                "matched": diff.matched,
                "matched_by_name": diff.matched_by_name,
                "matched_by_structure": diff.matched_by_structure,
                "removed": len(diff.removed),
                "added": len(diff.added),
                "changed": len(diff.changed),
                "findings": [f.to_dict() for f in findings],
                "numeric": numeric
                and {k: v for k, v in numeric.to_dict().items() if k != "findings"},
            }
        )
    else:
        na, nb = len(a.graph.nodes), len(b.graph.nodes)
        print(
            f"{diff.matched} of {na} nodes in A matched to {nb} in B "
            f"({diff.matched_by_name} by name, {diff.matched_by_structure} by structure); "
            f"{len(diff.changed)} changed, {len(diff.removed)} removed, {len(diff.added)} added"
        )
        for gap in numeric.outputs if numeric else ():
            verdict = "same" if gap.ok else "differs"
            print(f"output {gap.a_name}: {verdict}, {describe_gap(gap)}")
        if same:
            print("the models are the same")
        rows = [
            (
                f.code.removeprefix("diff-"),
                _ref(f.node_index),
                _ref(f.other_node_index),
                f.op_type or "-",
                f.message,
            )
            for f in findings
        ]
        if rows:
            rows.insert(0, ("", "A", "B", "op", ""))
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for r in rows:
                print(
                    "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
                )
    return EXIT_OK if same else EXIT_FINDINGS


def _numeric(args: argparse.Namespace, a: Model, b: Model, structure: ModelDiff) -> NumericDiff:
    """Both models run on the same inputs, intermediates captured (``--run``)."""
    from inspector.core.diff.numeric import compare_outputs
    from inspector.core.inference.inputs import FeedError

    try:
        return compare_outputs(
            args.a,
            args.b,
            inputs=args.inputs,
            seed=args.seed,
            rtol=args.rtol,
            atol=args.atol,
            intermediates=True,
            models=(a, b),
            structure=structure,
        )
    except FeedError as e:
        raise UsageError(str(e)) from e


def _ref(index: int | None) -> str:
    return f"#{index}" if index is not None else "-"
