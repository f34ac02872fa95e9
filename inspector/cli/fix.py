"""`onnx-inspector fix MODEL --to-float16 ... -o OUT.onnx`: the core's ``apply_fix`` (a child
process): convert, re-check, compare with the original; this module parses and lays out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inspector.cli.common import EXIT_FINDINGS, EXIT_OK, UsageError, print_json, seed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the .onnx file (never written)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--to-float16",
        action="store_true",
        help="float32 tensors become float16 (ONNX Runtime's converter; inputs and outputs "
        "keep their types)",
    )
    which.add_argument("--to-float32", action="store_true", help="float16 tensors become float32")
    which.add_argument(
        "--cast-inputs",
        metavar="DTYPE",
        help="float inputs of another type take DTYPE (float32, float16 or float64), cast back "
        "inside",
    )
    which.add_argument("--opset", type=int, metavar="N", help="convert to ai.onnx opset N")
    which.add_argument(
        "--dynamic",
        metavar="NAME:DIM:SYMBOL",
        help="make a fixed dim of an input dynamic, e.g. image:0:batch (dim 0 only)",
    )
    which.add_argument(
        "--simplify",
        action="store_true",
        help="fold constants and remove dead or redundant nodes (onnxscript's optimizer)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT.onnx", help="the new file to write"
    )
    parser.add_argument(
        "--keep-float32",
        action="append",
        default=[],
        metavar="OP",
        help="with --to-float16: keep this op type in float32 (repeatable)",
    )
    parser.add_argument("--rtol", type=float, help="relative tolerance (default per fix)")
    parser.add_argument("--atol", type=float, help="absolute tolerance (default per fix)")
    parser.add_argument(
        "--seed", type=seed, default=0, help="seed of the random inputs (default 0)"
    )


def run(args: argparse.Namespace) -> int:
    """Writes a NEW file (never the model's own), runs every check on it, runs it and the
    original on the same random inputs and compares every output against the tolerance
    (defaults: float16 and float32 rtol 1e-2 atol 1e-3; cast-inputs 1e-4/1e-6; opset, dynamic,
    simplify 1e-3/1e-5). The file is kept only when it holds: no error finding the original did
    not have, and every output within tolerance (or the original itself does not run, then with
    a warning). Exit 0: kept; 1: rejected or the conversion failed, nothing written; 2: bad
    arguments or an unreadable model.
    """
    from inspector.core.fixes import FixSpec, FixSpecError, SameFileError, apply_fix

    if args.keep_float32 and not args.to_float16:
        raise UsageError("--keep-float32 goes with --to-float16")
    try:
        spec = _spec(args, FixSpec)
    except FixSpecError as e:
        raise UsageError(str(e)) from e
    src, out = Path(args.model), Path(args.output)
    if src.is_file():
        from inspector.core.fixes.apply import refuse_same_file

        try:
            refuse_same_file(src, out)
        except SameFileError as e:
            raise UsageError(str(e)) from e
    _readable(src)
    try:
        report = apply_fix(src, spec, out, args.rtol, args.atol, args.seed)
    except OSError as e:  # the destination's folder cannot be made or written
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from e
    if args.json:
        print_json(report.to_dict())
    else:
        _print(report)
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _spec(args: argparse.Namespace, fix_spec: type):  # -> FixSpec
    if args.to_float16:
        return fix_spec("float16", op_block_list=tuple(args.keep_float32))
    if args.to_float32:
        return fix_spec("float32")
    if args.cast_inputs is not None:
        return fix_spec("cast-inputs", dtype=args.cast_inputs)
    if args.opset is not None:
        return fix_spec("opset", opset=args.opset)
    if args.dynamic is not None:
        return fix_spec("dynamic", dynamic=args.dynamic)
    return fix_spec("simplify")


def _readable(path: Path) -> None:
    """Exit 2 with the loader's one line when the model cannot be read (before any child)."""
    from inspector.core.graph import open_model
    from inspector.core.loader import ModelLoadError

    try:
        open_model(path, infer=False)
    except ModelLoadError as e:
        raise UsageError(str(e)) from e


def _print(report) -> None:  # report: FixReport
    print(f"{report.fix}: {report.verdict}")
    if report.output:
        print(f"wrote {report.output}")
    elif report.change:
        print("nothing written", file=sys.stderr)
    for f in report.findings[1:] + [c for c in report.checks if c not in report.findings]:
        where = f.node or (f"#{f.node_index}" if f.node_index is not None else "")
        hint = f"  [hint: {f.hint}]" if f.hint else ""
        print(f"  {f.severity.value:<7} {f.code:<22} {where:<16} {f.message}{hint}")
