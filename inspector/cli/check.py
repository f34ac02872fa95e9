"""`onnx-inspector check MODEL`: every finding of every static check, from the core's
``run_checks``; optionally also writes the model converted to another opset or with a dynamic
batch (the core's rewrites), never over the model itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from inspector.cli.common import EXIT_FINDINGS, EXIT_OK, UsageError, open_model, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument(
        "--runtime", default="onnxruntime", help="the runtime (default onnxruntime)"
    )
    parser.add_argument(
        "--provider",
        action="append",
        metavar="EP",
        help="an execution provider; repeat for an order, as ONNX Runtime takes it (e.g. "
        "--provider TensorrtExecutionProvider --provider CUDAExecutionProvider); the CPU is "
        "always last (default CPUExecutionProvider alone)",
    )
    parser.add_argument(
        "--provider-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a provider option that changes what it runs, e.g. ModelFormat=MLProgram for CoreML "
        "(default NeuralNetwork)",
    )
    parser.add_argument(
        "--optimized",
        action="store_true",
        help="make the partition map of the graph ONNX Runtime places (after its basic "
        "optimizations, built by a session in a child process), as its mobile usability checker "
        "counts; the findings stay on the graph as saved",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="print the deployment matrix instead of the findings: one row per op signature "
        "(domain, op type, since-version, types) with its count and, per provider (the "
        "--provider ones, default every provider), yes / restricted / fallback / no / unknown",
    )
    parser.add_argument(
        "--csv", action="store_true", help="with --matrix: print the matrix as a CSV table"
    )
    parser.add_argument(
        "--runtime-version",
        metavar="1.NN",
        help="judge the model as that ONNX Runtime release would (its opset and IR limits and its "
        "kernel tables, 1.14 on) instead of the installed one, and name the oldest release that "
        "loads it; --json adds runtime_version",
    )
    parser.add_argument(
        "--opset", type=int, help="check the model as converted to this ai.onnx opset"
    )
    parser.add_argument(
        "--save-converted",
        metavar="OUT.onnx",
        help="with --opset: also write the converted model to this new file",
    )
    parser.add_argument(
        "--save-dynamic",
        metavar="OUT.onnx",
        help="also write a copy whose fixed batch (dim 0 of the inputs where it behaves as a "
        "batch) is 'batch', kept only once it ran at two batch sizes; exit 1 if it did not",
    )


def run(args: argparse.Namespace) -> int:
    """Prints every finding (runtime support, dtype/shape, model validity); exit 1 if any is an
    error."""
    if args.runtime != "onnxruntime":
        raise UsageError(f"--runtime {args.runtime} is not supported; use --runtime onnxruntime")
    if args.opset is not None and args.opset < 7:
        raise UsageError(f"--opset {args.opset} is too old; onnxruntime has kernels from opset 7")
    if args.save_converted and args.opset is None:
        raise UsageError("--save-converted needs --opset N (the opset to convert to)")
    for out in (args.save_converted, args.save_dynamic):
        if out and Path(out).resolve() == Path(args.model).resolve():
            raise UsageError("refusing to overwrite the model file; give a new path to save to")
    if args.csv and not args.matrix:
        raise UsageError("--csv prints the deployment matrix; add --matrix")
    if args.matrix:
        return _matrix(args)
    order = args.provider or ["CPUExecutionProvider"]
    _check_options(order, args.provider_option)
    if args.runtime_version is not None:
        from inspector.core.providers.releases import known_releases
        from inspector.core.providers.tables import release_key

        try:
            key = release_key(args.runtime_version)
        except ValueError as e:
            raise UsageError(f"--runtime-version: {e}") from None
        if key not in known_releases():
            known = known_releases()
            raise UsageError(
                f"--runtime-version {args.runtime_version}: no tables for that release; give one "
                f"of {', '.join(known)}"
            )
    model = open_model(args.model)
    from inspector.core.checks import RuntimeTarget, sort_findings
    from inspector.core.findings import error_line, has_errors
    from inspector.core.providers.placement_target import check_target, parse_options

    if args.save_converted:
        from inspector.core.rewrites.retarget import save_retargeted

        try:
            saved = save_retargeted(model, args.opset, args.save_converted)
        except Exception as e:  # the converter's own error: say it in one line
            raise UsageError(f"cannot convert to opset {args.opset}: {error_line(e)}") from e
        print(f"wrote {saved}", file=sys.stderr)
    dynamic = None
    if args.save_dynamic:
        from inspector.core.rewrites.dynamic_batch import save_dynamic_batch

        try:
            # written only once the copy ran at two batch sizes; a failed proof is a finding
            dynamic = save_dynamic_batch(args.model, args.save_dynamic, model=model)
        except (ValueError, OSError) as e:  # the destination refused, or not writable
            raise UsageError(f"cannot make the batch dynamic: {error_line(e)}") from e
        print(dynamic.message, file=sys.stderr)

    target = RuntimeTarget(
        args.runtime,
        order[0],
        args.opset,
        tuple(order[1:]),
        tuple(args.provider_option),
        args.runtime_version,
    )
    findings, placement = check_target(model, target)
    releases = None
    if args.runtime_version is not None:
        from inspector.core.providers.releases import report as release_report

        releases = release_report(model, args.runtime_version)
    if args.optimized:
        from inspector.core.providers.placement_optimized import (
            OptimizeFailed,
            optimized_placement,
        )

        try:
            placement = optimized_placement(args.model, order, parse_options(args.provider_option))
        except OptimizeFailed as e:  # the map of the graph as saved stands; say why
            print(f"the partition map is of the graph as saved: {error_line(e)}", file=sys.stderr)
    if dynamic is not None:
        findings = sort_findings(findings + dynamic.findings)
    if args.json:
        report: dict[str, Any] = {
            "findings": [f.to_dict() for f in findings],
            "placement": placement.to_dict(),
        }
        if dynamic is not None:
            report["save_dynamic"] = dynamic.to_dict()
        if releases is not None:
            report["runtime_version"] = releases
        print_json(report)
        return EXIT_FINDINGS if has_errors(findings) else EXIT_OK
    if len(placement.order) > 1:
        print(placement.summary())
    if releases is not None:
        judged = releases["release"]
        verdict = "loads it" if judged["loads"] else "cannot load it"
        print(f"onnxruntime {judged['release']} {verdict}; {releases['oldest']['summary']}")
    if not findings:
        print(f"no findings for {', '.join(order)}")
    else:
        rows = [
            (
                f.severity.value,
                f.code,
                "/".join([*f.path, f.node or _node_ref(f.node_index)]),
                f.op_type or "-",
                f.message + (f"  [hint: {f.hint}]" if f.hint else ""),
            )
            for f in findings
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return EXIT_FINDINGS if has_errors(findings) else EXIT_OK


def _matrix(args: argparse.Namespace) -> int:
    """``check MODEL --matrix``: the deployment matrix as a table, JSON or CSV; exit 0."""
    from inspector.core.providers.matrix import deployment_matrix
    from inspector.core.providers.placement import short_name
    from inspector.core.providers.placement_target import known_provider, parse_options
    from inspector.core.providers.tables import PROVIDERS

    if args.json and args.csv:
        raise UsageError("--json and --csv are two formats of one matrix; give one of them")
    others = [
        name
        for name, given in (
            ("--opset", args.opset is not None),
            ("--save-converted", args.save_converted),
            ("--save-dynamic", args.save_dynamic),
            ("--optimized", args.optimized),
        )
        if given
    ]
    if others:
        raise UsageError(f"--matrix judges the model as saved; drop {', '.join(others)}")
    providers = args.provider or list(PROVIDERS)
    unknown = [p for p in providers if not known_provider(p)]
    if unknown:
        raise UsageError(
            f"no support data for {', '.join(unknown)}; known providers: {', '.join(PROVIDERS)}"
        )
    _check_options(providers, args.provider_option)
    model = open_model(args.model)
    matrix = deployment_matrix(model, providers, options=parse_options(args.provider_option))
    if args.json:
        print_json(matrix.to_dict())
    elif args.csv:
        sys.stdout.write(matrix.to_csv())
    else:
        head = ("op", "since", "types", "count", *(short_name(p) for p in matrix.providers))
        rows = [head] + [
            (
                f"{r.domain}.{r.op_type}" if r.domain else r.op_type,
                "" if r.since_version is None else str(r.since_version),
                r.types,
                str(r.count),
                *(r.support[p] for p in matrix.providers),
            )
            for r in matrix.rows
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return EXIT_OK


def _check_options(order: list[str], pairs: list[str]) -> None:
    """The provider options, checked before the model is read (a wrong one is a usage error)."""
    from inspector.core.providers.mobile import model_format
    from inspector.core.providers.placement_target import parse_options

    try:
        options = parse_options(pairs)
        for provider in order:
            model_format(provider, options)
    except ValueError as e:
        raise UsageError(str(e)) from e


def _node_ref(index: int | None) -> str:
    """How the table names an unnamed node (its position) or a model-level finding."""
    return f"#{index}" if index is not None else "(model)"
