"""`onnx-inspector` subcommands: each parses its arguments, calls the core, and formats the result.

Nothing is computed here that the window does not also get from the core. Heavy modules (onnx,
PySide6) are imported inside the subcommands, so ``--help`` starts fast and imports neither
onnxruntime nor torch. Exit codes follow ``shared/cli-contract.md``: 0 fine, 1 error findings or a
failed run, 2 unreadable input or wrong arguments (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
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
    p = add("render", cmd_render)
    p.add_argument("model", help="the .onnx file")
    p.add_argument("-o", "--output", required=True, help="OUT.png or OUT.svg")
    p.add_argument("--width", type=int, default=1600, help="image width in pixels (default 1600)")
    p.add_argument("--dark", action="store_true", help="use the dark theme")
    _add_desktop_scope(add("install-desktop", cmd_install_desktop))
    _add_desktop_scope(add("uninstall-desktop", cmd_uninstall_desktop))
    return parser, commands


SUBCOMMANDS = ("info", "render", "install-desktop", "uninstall-desktop")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, commands = build_parser()
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
