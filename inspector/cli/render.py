"""`onnx-inspector render MODEL -o OUT.png|OUT.svg`: the graph drawn to a file.

The CLI contract asks for the same scene as the window, so this is the one subcommand that reaches
into ``inspector.ui`` (its off-screen renderer); pyproject.toml's import contracts name that import
as their only exception.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inspector.cli.common import EXIT_OK, UsageError, open_model, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("-o", "--output", required=True, help="OUT.png or OUT.svg")
    parser.add_argument(
        "--width", type=int, default=1600, help="image width in pixels (default 1600)"
    )
    parser.add_argument("--dark", action="store_true", help="use the dark theme")


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"cannot write '{out.name}': the output must end in .png or .svg")
    if not out.parent.exists():
        raise UsageError(f"cannot write '{out}': folder '{out.parent}' does not exist")
    if args.width < 16 or args.width > 32768:
        raise UsageError(f"--width {args.width} is out of range; use 16 to 32768 pixels")
    model = open_model(args.model)
    if out.resolve() == Path(args.model).resolve():
        raise UsageError("refusing to overwrite the model file; choose another output path")
    from inspector.core.diagram import draw_graph
    from inspector.scene.render import render_to_file

    drawn = draw_graph(model, model.graph)
    diagram = drawn.diagram
    render_to_file(diagram, drawn.layout, out, width=args.width, dark=args.dark)
    if args.json:
        print_json({"output": str(out), "boxes": diagram.box_count, "edges": diagram.edge_count})
    else:
        print(f"wrote {out} ({diagram.box_count} boxes, {diagram.edge_count} edges)")
    return EXIT_OK
