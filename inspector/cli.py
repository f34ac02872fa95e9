"""`onnx-inspector` subcommands: each parses its arguments, calls the core, and formats the result.

Nothing is computed here that the window does not also get from the core. Heavy modules (onnx,
PySide6) are imported inside the subcommands, so ``--help`` starts fast and imports neither
onnxruntime nor torch. Exit codes follow ``shared/cli-contract.md``: 0 fine, 1 error findings or a
failed run, 2 unreadable input or wrong arguments (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Wrong arguments or unreadable input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's default prints the whole usage; the contract wants one clear line.
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _open(path: str):  # -> Model; typed loosely to keep onnx out of import time
    from inspector.core.graph import open_model
    from inspector.core.loader import ModelLoadError

    try:
        return open_model(path)
    except ModelLoadError as e:
        raise UsageError(str(e)) from e


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _table(rows: Sequence[tuple[str, str]], indent: str = "  ") -> str:
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{indent}{k.ljust(width)}  {v}" for k, v in rows)


def _shape_text(shape: list[Any] | None) -> str:
    if shape is None:
        return "?"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def cmd_info(args: argparse.Namespace) -> int:
    """Print the model's properties: IR version, opsets, producer, inputs/outputs, op counts."""
    from inspector.core.summary import model_summary

    summary = model_summary(_open(args.model))
    if args.json:
        _print_json(summary)
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
    lines = [_table(rows, ""), "inputs:"]
    lines += [
        _table([(i["name"], f"{i['dtype']}{_shape_text(i['shape'])}") for i in summary["inputs"]])
        or "  (none)"
    ]
    lines += ["outputs:"]
    lines += [
        _table([(o["name"], f"{o['dtype']}{_shape_text(o['shape'])}") for o in summary["outputs"]])
        or "  (none)"
    ]
    lines += ["op counts:", _table([(k, str(v)) for k, v in summary["op_counts"].items()])]
    print("\n".join(lines))
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    """Draw the graph (the same scene the window draws) to a PNG or SVG file."""
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"cannot write '{out.name}': the output must end in .png or .svg")
    if not out.parent.exists():
        raise UsageError(f"cannot write '{out}': folder '{out.parent}' does not exist")
    if args.width < 16 or args.width > 32768:
        raise UsageError(f"--width {args.width} is out of range; use 16 to 32768 pixels")
    model = _open(args.model)
    if out.resolve() == Path(args.model).resolve():
        raise UsageError("refusing to overwrite the model file; choose another output path")
    from inspector.core.diagram import draw_graph
    from inspector.ui.graph_view.render import render_to_file

    drawn = draw_graph(model, model.graph)
    diagram = drawn.diagram
    render_to_file(diagram, drawn.layout, out, width=args.width, dark=args.dark)
    if args.json:
        _print_json({"output": str(out), "boxes": diagram.box_count, "edges": diagram.edge_count})
    else:
        print(f"wrote {out} ({diagram.box_count} boxes, {diagram.edge_count} edges)")
    return EXIT_OK


def _desktop(args: argparse.Namespace, install: bool) -> int:
    if not sys.platform.startswith("linux"):
        raise UsageError(
            "the desktop entry is for Linux; on Windows and macOS the installer registers "
            "the file type (see packaging/)"
        )
    from inspector.desktop import install as desktop

    scope = "system" if args.system else "user"
    try:
        report = (desktop.install if install else desktop.uninstall)(scope)
    except desktop.DesktopInstallError as e:
        raise UsageError(str(e)) from e
    manifest = desktop.locations(scope).manifest
    if args.json:
        _print_json({"scope": scope, "manifest": str(manifest), **report.as_json()})
        return EXIT_OK
    who = "all users" if scope == "system" else "this user"
    if install:
        print(f"installed for {who}: {len(report.files)} files (listed in {manifest})")
    elif report.files:
        print(f"uninstalled for {who}: removed {len(report.files)} files")
    else:
        print(f"nothing to uninstall for {who} (no {manifest})")
    for line in report.ran:
        print(f"  ran   {line}")
    for line in report.notes:
        print(f"  note  {line}")
    return EXIT_OK


def cmd_install_desktop(args: argparse.Namespace) -> int:
    """Make ONNX Inspector open .onnx files on this Linux desktop.

    Installs a menu entry, the application/x-onnx MIME type for *.onnx, and icons, refreshes the
    MIME and desktop databases, and (for --user) makes ONNX Inspector the type's default
    application. Running it again is harmless; uninstall-desktop removes exactly what it wrote.
    """
    return _desktop(args, install=True)


def cmd_uninstall_desktop(args: argparse.Namespace) -> int:
    """Remove what install-desktop wrote, and restore the previous default application."""
    return _desktop(args, install=False)


def _add_desktop_scope(p: argparse.ArgumentParser) -> None:
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "--user", action="store_true", help="for this user, under ~/.local/share (default)"
    )
    scope.add_argument(
        "--system", action="store_true", help="for all users, under /usr/local/share (needs root)"
    )


def _node_ref(index: int | None) -> str:
    """How the table names an unnamed node (its position) or a model-level finding."""
    return f"#{index}" if index is not None else "(model)"


def cmd_check(args: argparse.Namespace) -> int:
    """Check what the chosen runtime cannot run, and every other static check, without running it.

    Prints every finding (runtime support, dtype/shape, model validity); exit 1 if any is an error.
    """
    if args.runtime != "onnxruntime":
        raise UsageError(f"--runtime {args.runtime} is not supported; use --runtime onnxruntime")
    if args.opset is not None and args.opset < 7:
        raise UsageError(f"--opset {args.opset} is too old; onnxruntime has kernels from opset 7")
    if args.save_converted and args.opset is None:
        raise UsageError("--save-converted needs --opset N (the opset to convert to)")
    for out in (args.save_converted, args.save_dynamic):
        if out and Path(out).resolve() == Path(args.model).resolve():
            raise UsageError("refusing to overwrite the model file; give a new path to save to")
    model = _open(args.model)
    from inspector.core.checks import RuntimeTarget, run_checks, sort_findings
    from inspector.core.findings import has_errors

    if args.save_converted:
        from inspector.core.rewrites.retarget import save_retargeted

        try:
            saved = save_retargeted(model, args.opset, args.save_converted)
        except Exception as e:  # the converter's own error: say it in one line
            from inspector.core.findings import error_line

            msg = error_line(e)
            raise UsageError(f"cannot convert to opset {args.opset}: {msg}") from e
        print(f"wrote {saved}", file=sys.stderr)
    dynamic = None
    if args.save_dynamic:
        from inspector.core.findings import error_line
        from inspector.core.rewrites.dynamic_batch import save_dynamic_batch

        try:
            # written only once the copy ran at two batch sizes; a failed proof is a finding
            dynamic = save_dynamic_batch(args.model, args.save_dynamic, model=model)
        except (ValueError, OSError) as e:  # the destination refused, or not writable
            raise UsageError(f"cannot make the batch dynamic: {error_line(e)}") from e
        print(dynamic.message, file=sys.stderr)

    findings = run_checks(model, RuntimeTarget(args.runtime, args.provider, args.opset))
    if dynamic is not None:
        findings = sort_findings(findings + dynamic.findings)
    if args.json:
        report: dict[str, Any] = {"findings": [f.to_dict() for f in findings]}
        if dynamic is not None:
            report["save_dynamic"] = dynamic.to_dict()
        _print_json(report)
    elif not findings:
        print(f"no findings for {args.provider}")
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


def _run_feeds(
    args: argparse.Namespace, model: Any
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(feeds, expected outputs or None) from --inputs, --input, --random and --expected."""
    from inspector.core.inference.inputs import (
        FeedError,
        build_feeds,
        input_specs,
        load_array,
        load_expected,
        load_feeds,
    )

    feeds: dict[str, Any] = {}
    expected = None
    try:
        if args.inputs:
            loaded = load_feeds(model, args.inputs)
            feeds.update(loaded.feeds)
            expected = loaded.expected
        for item in args.input:
            name, sep, file = item.partition("=")
            if not sep or not name or not file:
                raise UsageError(f"--input {item!r}: write it as NAME=FILE (.npy or .pb)")
            feeds[name] = load_array(file)
        if args.expected:
            expected = load_expected(model, args.expected)
    except FeedError as e:
        raise UsageError(str(e)) from e
    specs = input_specs(model)
    missing = [s for s in specs if s.name not in feeds]
    if missing and (args.random or not (args.inputs or args.input)):
        # Random is the default when no feed is given; with feeds, only --random fills the rest.
        feeds = build_feeds(specs, args.seed, given=feeds)
    elif missing:
        names = ", ".join(s.name for s in missing)
        raise UsageError(f"no value for input(s) {names}; give --input NAME=FILE or add --random")
    return feeds, expected


def cmd_run(args: argparse.Namespace) -> int:
    """Run the model through ONNX Runtime (in a child process) on random or loaded inputs.

    Inputs are random by default (integer indices within their table, masks 0/1, seeded); load
    them with --inputs (a test_data_set_N folder, which also brings the expected outputs, or an
    .npz by input name) or --input NAME=FILE. Prints each output's statistics, the latency over
    --repeat runs, the comparison with expected outputs, and the findings; exit 1 if the run
    failed or the outputs disagree with the expected ones.
    """
    if args.repeat < 1:
        raise UsageError(f"--repeat {args.repeat}: give at least 1 timed run")
    model_path = Path(args.model)
    save = Path(args.save_outputs) if args.save_outputs else None
    if save is not None:
        if save.suffix.lower() != ".npz":
            raise UsageError(f"cannot write '{save.name}': --save-outputs must end in .npz")
        if not save.parent.exists():
            raise UsageError(f"cannot write '{save}': folder '{save.parent}' does not exist")
        if model_path.exists() and save.resolve() == model_path.resolve():
            raise UsageError("refusing to overwrite the model file; choose another output path")
    model = _open(args.model)
    feeds, expected = _run_feeds(args, model)
    from inspector.core.inference.runner import RunOptions, run_model

    options = RunOptions(provider=args.provider, repeat=args.repeat)
    result = run_model(args.model, feeds, options, expected=expected, model=model)
    if save is not None and result.outputs:
        result.save_outputs(save)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(_run_text(result, save))
    code = EXIT_OK if result.ok else EXIT_FINDINGS
    result.close()
    return code


def _run_text(result: Any, saved: Path | None) -> str:
    """The run for people: outputs, latency, match, findings."""

    def num(x: Any) -> str:
        return "-" if x is None else f"{x:.6g}" if isinstance(x, float) else str(x)

    lines = [f"status: {result.status}"]
    if result.outputs:
        lines.append("outputs:")
        lines.append(
            _table(
                [
                    (
                        o.name,
                        f"{o.stats['dtype']}{_shape_text(o.stats['shape'])}  min {num(o.stats['min'])}"
                        f"  max {num(o.stats['max'])}  mean {num(o.stats['mean'])}  std {num(o.stats['std'])}"
                        f"  nan {o.stats['nan']}  inf {o.stats['inf']}",
                    )
                    if o.stats
                    else (o.name, o.kind)
                    for o in result.outputs
                ]
            )
        )
    if result.latency_ms:
        lat = result.latency_ms
        lines.append(
            f"latency over {len(result.latencies_ms)} runs: mean {lat['mean']:.3f} ms, "
            f"median {lat['median']:.3f} ms, p90 {lat['p90']:.3f} ms, min {lat['min']:.3f} ms"
        )
    if result.match is not None:
        m = result.match
        lines.append(
            f"expected outputs: {'match' if m.ok else 'DIFFER'} (rtol {m.rtol:g}, atol {m.atol:g})"
        )
        lines.append(
            _table(
                [
                    (
                        c.name,
                        ("ok" if c.ok else "differs")
                        + (
                            f"  max abs {c.max_abs:.3g}  max rel {c.max_rel:.3g}"
                            if c.max_abs is not None
                            else ""
                        )
                        + (f"  {c.message}" if c.message and not c.ok else ""),
                    )
                    for c in m.outputs
                ]
            )
        )
    for f in result.findings:
        where = f.node or (f"#{f.node_index}" if f.node_index is not None else f.tensor or "")
        hint = f"  [hint: {f.hint}]" if f.hint else ""
        lines.append(f"{f.severity.value}  {f.code}  {where}  {f.message}{hint}")
    if saved is not None and result.outputs:
        lines.append(f"wrote {saved}")
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> int:
    """Export a PyTorch model to ONNX in a child process, then validate the file.

    SOURCE is a .py file with a factory (--factory NAME: a function or class returning the
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
        validate=not args.no_validate,
    )
    problems = config.problems()
    if problems:
        raise UsageError("; ".join(problems))
    if out.exists() and not args.force:
        raise UsageError(f"'{out}' exists; pass --force to overwrite it")
    if importlib.util.find_spec("torch") is None:
        raise UsageError("exporting needs PyTorch: pip install 'onnx-inspector[export]'")
    from inspector.core.export.runner import export_model

    result = export_model(config, timeout=args.timeout)
    if args.log:
        Path(args.log).write_text(result.log + "\n", encoding="utf-8")
    if args.script and result.ok:
        from inspector.core.export.validate import write_script

        write_script(config, args.script, result.input_names)
    code = EXIT_OK if result.ok and not result.has_errors else EXIT_FINDINGS
    if args.json:
        _print_json(
            {
                "ok": result.ok,
                "onnx": result.onnx,
                "findings": result.finding_dicts(),
                "opset": result.opset,
                "checklist": result.checklist,
            }
        )
        return code
    lines = [f"exported {result.onnx} (opset {result.opset})" if result.ok else "export failed"]
    for row in result.checklist:
        lines.append(f"  {row['status']:<8} {row['name']}  {row['detail']}".rstrip())
    for f, where in zip(result.findings, result.source_lines, strict=True):
        lines.append(f"{f.severity.value}  {f.code}  {f.message}")
        if where:
            lines.append(f"    at {where}")
        if f.hint:
            lines.append(f"    hint: {f.hint}")
    if args.script and result.ok:
        lines.append(f"wrote the export script {args.script}")
    print("\n".join(lines))
    return code


Command = Callable[[argparse.Namespace], int]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = _Parser(
        prog="onnx-inspector",
        description="See an ONNX model's graph, and what will go wrong with it. "
        "With no command, opens the window (on the given .onnx files, or a sample model).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands: dict[str, Command] = {}

    def add(name: str, fn: Command) -> argparse.ArgumentParser:
        doc = (fn.__doc__ or "").strip()
        p = sub.add_parser(name, help=doc.splitlines()[0], description=doc)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        commands[name] = fn
        return p

    p = add("info", cmd_info)
    p.add_argument("model", help="the .onnx file")
    p = add("check", cmd_check)
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--runtime", default="onnxruntime", help="the runtime (default onnxruntime)")
    p.add_argument(
        "--provider",
        default="CPUExecutionProvider",
        help="the execution provider (default CPUExecutionProvider)",
    )
    p.add_argument("--opset", type=int, help="check the model as converted to this ai.onnx opset")
    p.add_argument(
        "--save-converted",
        metavar="OUT.onnx",
        help="with --opset: also write the converted model to this new file",
    )
    p.add_argument(
        "--save-dynamic",
        metavar="OUT.onnx",
        help="also write a copy whose fixed batch (dim 0 of the inputs where it behaves as a "
        "batch) is 'batch', kept only once it ran at two batch sizes; exit 1 if it did not",
    )
    p = add("run", cmd_run)
    p.add_argument("model", help="the .onnx file")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="the value of one input, from a .npy or TensorProto .pb (repeatable)",
    )
    p.add_argument(
        "--inputs",
        metavar="DIR_OR_NPZ",
        help="a test_data_set_N folder (also gives expected outputs) or an .npz by name",
    )
    p.add_argument(
        "--random",
        action="store_true",
        help="random values for every input not given (the default with no inputs)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument(
        "--provider",
        default="CPUExecutionProvider",
        help="the execution provider (default CPUExecutionProvider)",
    )
    p.add_argument(
        "--repeat", type=int, default=10, help="timed runs after one warm-up (default 10)"
    )
    p.add_argument(
        "--expected",
        metavar="DIR",
        help="expected outputs: a test_data_set_N folder, an .npz or a folder of .npy",
    )
    p.add_argument("--save-outputs", metavar="OUT.npz", help="write the outputs to an .npz")
    p = add("render", cmd_render)
    p.add_argument("model", help="the .onnx file")
    p.add_argument("-o", "--output", required=True, help="OUT.png or OUT.svg")
    p.add_argument("--width", type=int, default=1600, help="image width in pixels (default 1600)")
    p.add_argument("--dark", action="store_true", help="use the dark theme")
    p = add("export", cmd_export)
    p.add_argument("source", help="SOURCE.py (with --factory), a .pt2, or a TorchScript file")
    p.add_argument("--factory", help="the function or class in SOURCE.py that builds the model")
    p.add_argument("--out", required=True, help="the OUT.onnx file to write")
    p.add_argument("--force", action="store_true", help="overwrite OUT.onnx if it exists")
    p.add_argument(
        "--source-kind", choices=("python", "torchscript", "exported_program"), help="override"
    )
    p.add_argument("--weights", help="a state dict to load (torch.load(weights_only=True))")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME:DTYPE:SHAPE",
        help="an example input, e.g. image:float32:1,3,224,224 (repeatable; needed when the "
        "source brings none, as a TorchScript file)",
    )
    p.add_argument("--dynamic-batch", action="store_true", help="dim 0 of every input is 'batch'")
    p.add_argument(
        "--dynamic",
        action="append",
        default=[],
        metavar="NAME:DIM:SYMBOL",
        help="a dynamic dim, e.g. tokens:1:seq (repeatable)",
    )
    p.add_argument("--opset", type=int, help="the ai.onnx opset (default: the exporter's)")
    p.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    p.add_argument("--no-validate", action="store_true", help="skip the validation checklist")
    p.add_argument("--script", metavar="OUT.py", help="also write a script repeating the export")
    p.add_argument("--log", metavar="FILE", help="write the exporter's whole log to FILE")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")
    _add_desktop_scope(add("install-desktop", cmd_install_desktop))
    _add_desktop_scope(add("uninstall-desktop", cmd_uninstall_desktop))
    return parser, commands


SUBCOMMANDS = ("info", "run", "check", "render", "export", "install-desktop", "uninstall-desktop")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, commands = build_parser()
    from inspector.core.text import PrintableStream

    streams = sys.stdout, sys.stderr
    # Names and paths come from the model: escape control characters before they reach a terminal.
    sys.stdout, sys.stderr = PrintableStream(sys.stdout), PrintableStream(sys.stderr)
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_OK
        return commands[args.command](args)
    except UsageError as e:
        print(f"onnx-inspector: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `info | head`: the reader has gone; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # else the final flush complains at exit
        return EXIT_OK
    except Exception as e:  # the last net: every expected failure above says its own line
        if os.environ.get("ONNX_INSPECTOR_DEBUG"):
            raise
        from inspector.core.findings import error_line

        msg = (
            "not enough memory for this model; close other programs or use a bigger machine"
            if isinstance(e, MemoryError)
            else f"internal error ({type(e).__name__}: {error_line(e)}): a bug in ONNX Inspector,"
            " not in your file; please report it with the model (ONNX_INSPECTOR_DEBUG=1 shows "
            "the traceback)"
        )
        print(f"onnx-inspector: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        sys.stdout, sys.stderr = streams
