"""`onnx-inspector export SOURCE --out OUT.onnx`: the arguments become the core's
``ExportConfig`` (which validates them), the core's ``export_model`` runs the export in a child
process, and this module lays out its result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inspector.cli.common import EXIT_FINDINGS, EXIT_OK, UsageError, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="SOURCE.py (with --factory), a .pt2, or a TorchScript file")
    parser.add_argument(
        "--factory", help="the function or class in SOURCE.py that builds the model"
    )
    parser.add_argument("--out", required=True, help="the OUT.onnx file to write")
    parser.add_argument("--force", action="store_true", help="overwrite OUT.onnx if it exists")
    parser.add_argument(
        "--source-kind", choices=("python", "torchscript", "exported_program"), help="override"
    )
    parser.add_argument("--weights", help="a state dict to load (torch.load(weights_only=True))")
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME:DTYPE:SHAPE",
        help="an example input, e.g. image:float32:1,3,224,224 (repeatable; needed when the "
        "source brings none, as a TorchScript file)",
    )
    parser.add_argument(
        "--dynamic-batch", action="store_true", help="dim 0 of every input is 'batch'"
    )
    parser.add_argument(
        "--dynamic",
        action="append",
        default=[],
        metavar="NAME:DIM:SYMBOL",
        help="a dynamic dim, e.g. tokens:1:seq (repeatable)",
    )
    parser.add_argument("--opset", type=int, help="the ai.onnx opset (default: the exporter's)")
    parser.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    parser.add_argument(
        "--translations",
        metavar="FILE.py",
        help="dynamo: a file defining custom_translation_table {torch.ops.aten.OP.OVERLOAD: "
        "onnxscript function}, e.g. what --write-stubs wrote",
    )
    parser.add_argument(
        "--write-stubs",
        metavar="FILE.py",
        help="if ops have no ONNX translation, write their translations (working where known, "
        "else stubs to fill in) to FILE.py, for --translations",
    )
    parser.add_argument(
        "--cast-float64",
        action="store_true",
        help="cast float64 inputs, weights and buffers to float32 before exporting",
    )
    parser.add_argument(
        "--float32-io",
        action="store_true",
        help="float32 inputs and outputs around float16 weights (Casts inside the file)",
    )
    parser.add_argument("--no-validate", action="store_true", help="skip the validation checklist")
    parser.add_argument(
        "--script", metavar="OUT.py", help="also write a script repeating the export"
    )
    parser.add_argument("--log", metavar="FILE", help="write the exporter's whole log to FILE")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")


def run(args: argparse.Namespace) -> int:
    """SOURCE is a .py file with a factory (--factory NAME: a function or class returning the
    model, or (model, example inputs)), a torch.export .pt2 archive, or a TorchScript file
    (--source-kind torchscript). Loading a model runs its code. Validation: onnx checker, the
    static checks, the opset, dynamic dims, and ONNX Runtime parity with PyTorch at the example
    inputs and at sizes 1, 3 and 7 of every dynamic dim. Exit 0: exported and validated; 1: the
    export failed or validation found errors; 2: bad arguments or unreadable source.
    """
    import importlib.util

    from inspector.core.export.config import ConfigError, DynamicDim, ExportConfig, InputSpec

    source, out = Path(args.source), Path(args.out)
    kind = args.source_kind or {".py": "python", ".pt2": "exported_program"}.get(
        source.suffix.lower()
    )
    if kind is None:
        raise UsageError(
            f"'{source.name}' is not a .py or .pt2 file; a TorchScript file needs "
            "--source-kind torchscript (a full-model pickle is never loaded: save a state dict "
            "and pass it with --weights)"
        )
    try:
        dynamic = [DynamicDim.parse(text) for text in args.dynamic]
        inputs = [InputSpec.parse(text) for text in args.input]
    except ConfigError as e:
        raise UsageError(str(e)) from e
    config = ExportConfig(
        source=str(source),
        output=str(out),
        source_kind=kind,
        factory=args.factory or "",
        weights=args.weights or "",
        inputs=inputs,
        dynamic=dynamic,
        dynamic_batch=args.dynamic_batch,
        exporter=args.exporter,
        opset=args.opset,
        translations=args.translations or "",
        cast_float64=args.cast_float64,
        float32_io=args.float32_io,
        validate=not args.no_validate,
    )
    problems = config.problems()
    if problems:
        raise UsageError("; ".join(problems))
    if out.exists() and not args.force:
        raise UsageError(f"'{out}' exists; pass --force to overwrite it")
    stubs = Path(args.write_stubs) if args.write_stubs else None
    if stubs is not None:
        if stubs.suffix != ".py" or not stubs.parent.is_dir():
            raise UsageError(f"--write-stubs needs a .py file in an existing folder: '{stubs}'")
        if stubs.resolve() in (source.resolve(), out.resolve()):
            raise UsageError(f"--write-stubs '{stubs}' would replace the model's file")
        if stubs.exists() and not args.force:
            raise UsageError(f"'{stubs}' exists; pass --force to overwrite it")
    if importlib.util.find_spec("torch") is None:
        raise UsageError("exporting needs PyTorch: pip install 'onnx-inspector[export]'")
    from inspector.core.export.runner import export_model

    result = export_model(config, timeout=args.timeout)
    if args.log:
        Path(args.log).write_text(result.log + "\n", encoding="utf-8")
    if args.script and result.ok:
        from inspector.core.export.validate import write_script

        write_script(config, args.script, result.input_names)
    if stubs is not None and result.stubs:
        stubs.write_text(result.stubs, encoding="utf-8")
    code = EXIT_OK if result.ok and not result.has_errors else EXIT_FINDINGS
    if args.json:
        print_json(
            {
                "ok": result.ok,
                "onnx": result.onnx,
                "findings": result.finding_dicts(),
                "opset": result.opset,
                "checklist": result.checklist,
                "stubs": result.stubs or None,
            }
        )
        return code
    lines = [f"exported {result.onnx} (opset {result.opset})" if result.ok else "export failed"]
    for row in result.checklist:
        lines.append(f"  {row['status']:<8} {row['name']}  {row['detail']}".rstrip())
    from inspector.core.export.adjust import offered_fixes

    offered = offered_fixes(result.findings, config, result.input_names, result.opset)
    for f, where, fixes in zip(result.findings, result.source_lines, offered, strict=True):
        lines.append(f"{f.severity.value}  {f.code}  {f.message}")
        if where:
            lines.append(f"    at {where}")
        if f.hint:
            lines.append(f"    hint: {f.hint}")
        for fix in fixes:  # what the wizard's buttons do, as this command's options
            lines.append(f"    retry: {fix.cli}")
    if args.script and result.ok:
        lines.append(f"wrote the export script {args.script}")
    if stubs is not None and result.stubs:
        lines.append(f"wrote translations to {stubs}: pass it back with --translations")
    elif result.stubs:
        lines.append("translations for the ops without one: --write-stubs FILE.py writes them")
    print("\n".join(lines))
    return code
