"""`onnx-inspector render MODEL -o OUT.png|OUT.svg`: the graph drawn to a file.

The CLI contract asks for the same scene as the window, so this is the one subcommand that reaches
into ``inspector.ui`` (its off-screen renderer); pyproject.toml's import contracts name that import
as their only exception.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inspector.cli.common import EXIT_OK, UsageError, open_model, print_json

#: Height over width of the page a default depth is chosen for (the image grows with the graph).
RENDER_PAGE_ASPECT = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("-o", "--output", required=True, help="OUT.png or OUT.svg")
    parser.add_argument(
        "--width", type=int, default=1600, help="image width in pixels (default 1600)"
    )
    parser.add_argument("--dark", action="store_true", help="use the dark theme")
    parser.add_argument(
        "--depth",
        type=int,
        default=None,
        help="draw the layer groups collapsed below depth N (0: top-level groups as boxes); "
        "default: the depth the window would open at for this image width",
    )


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"cannot write '{out.name}': the output must end in .png or .svg")
    if not out.parent.exists():
        raise UsageError(f"cannot write '{out}': folder '{out.parent}' does not exist")
    if args.width < 16 or args.width > 32768:
        raise UsageError(f"--width {args.width} is out of range; use 16 to 32768 pixels")
    if args.depth is not None and args.depth < 0:
        raise UsageError(f"--depth {args.depth} is out of range; use 0 or more")
    model = open_model(args.model)
    if out.resolve() == Path(args.model).resolve():
        raise UsageError("refusing to overwrite the model file; choose another output path")
    from inspector.core.collapse import draw_collapsible
    from inspector.scene.render import render_to_file

    # The image's height follows the graph: a default depth is chosen for a tall page.
    page = (float(args.width), RENDER_PAGE_ASPECT * args.width)
    drawn = draw_collapsible(model, model.graph, viewport=page, depth=args.depth)
    diagram = drawn.diagram
    render_to_file(diagram, drawn.layout, out, width=args.width, dark=args.dark)
    groups = (
        len(drawn.folding.box_ids(drawn.expanded)[1]) if diagram is not drawn.folding.full else 0
    )
    if args.json:
        print_json(
            {
                "output": str(out),
                "boxes": diagram.box_count,
                "edges": diagram.edge_count,
                "collapsed_groups": groups,
            }
        )
    else:
        print(
            f"wrote {out} ({diagram.box_count} boxes, {diagram.edge_count} edges"
            + (f", {groups} collapsed groups)" if groups else ")")
        )
    return EXIT_OK
