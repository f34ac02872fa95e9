"""`onnx-inspector render MODEL -o OUT.png|OUT.svg`: the graph drawn to a file.

The CLI contract asks for the same scene as the window, so this is the one subcommand that reaches
into ``inspector.ui`` (its off-screen renderer); pyproject.toml's import contracts name that import
as their only exception.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from inspector.cli.common import EXIT_OK, UsageError, open_model, print_json


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
    """The image is readable whatever the graph's shape: every op type is drawn at least 9 px
    tall. A graph wider than --width is cut between boxes into strips stacked top to bottom, a
    deep one into columns side by side (dashed lines mark the cuts); pieces past 16,000 px of
    height continue in OUT-2.png, OUT-3.png, ... An SVG is always one file."""
    out = Path(args.output)
    from inspector.scene.render import PAGE_ASPECT, image_path_problem, render_graph

    problem = image_path_problem(out, named_as_folder=args.output.endswith(("/", os.sep)))
    if problem:
        raise UsageError(problem)
    if args.width < 16 or args.width > 32768:
        raise UsageError(f"--width {args.width} is out of range; use 16 to 32768 pixels")
    if args.depth is not None and args.depth < 0:
        raise UsageError(f"--depth {args.depth} is out of range; use 0 or more")
    model = open_model(args.model)
    target, model_file = out.resolve(), Path(args.model).resolve()
    page_name = re.compile(re.escape(target.stem) + r"-\d+" + re.escape(target.suffix))
    if target == model_file or (
        target.parent == model_file.parent and page_name.fullmatch(model_file.name)
    ):
        raise UsageError("refusing to overwrite the model file; choose another output path")
    _check_writable(out)
    from inspector.core.collapse import draw_collapsible

    # The image's height follows the graph: a default depth is chosen for a tall page.
    page = (float(args.width), PAGE_ASPECT * args.width)
    drawn = draw_collapsible(model, model.graph, viewport=page, depth=args.depth)
    diagram = drawn.diagram
    if diagram.box_count == 0:
        print(
            "note: the graph has no nodes, inputs or outputs: the image is empty", file=sys.stderr
        )
    elif args.depth is not None and drawn.folding.hierarchy.source == "none":
        print(
            "note: the model has no layer groups (no name scopes, no repeated blocks); "
            "--depth has nothing to collapse",
            file=sys.stderr,
        )
    try:
        rendering = render_graph(diagram, drawn.layout, out, width=args.width, dark=args.dark)
    except OSError as e:  # a later page (OUT-2.png) or a disk that filled up while painting
        raise UsageError(f"{e}; check the folder and the free space, or choose another path") from e
    files = rendering.files
    if not rendering.legible:
        print(
            f"note: {diagram.box_count:,} boxes would take more than ten images to draw readably; "
            "drawn whole in one image instead, too small to read (--depth N collapses groups)",
            file=sys.stderr,
        )
    stale = _stale_pages(target, len(files))
    if stale:
        print(
            f"note: {_count(len(stale), 'older page')} ({stale[0].name}"
            f"{' …' if len(stale) > 1 else ''}) from an earlier render of {out.name} "
            "left as they were; delete them if they are not wanted",
            file=sys.stderr,
        )
    groups = (
        len(drawn.folding.box_ids(drawn.expanded)[1]) if diagram is not drawn.folding.full else 0
    )
    if args.json:
        print_json(
            {
                "output": str(out),
                "files": [str(f) for f in files],
                "legible": rendering.legible,
                "boxes": diagram.box_count,
                "edges": diagram.edge_count,
                "collapsed_groups": groups,
            }
        )
    else:
        shown = (
            str(files[0])
            if len(files) == 1
            else f"{files[0]} … {files[-1].name} ({len(files)} images)"
        )
        counts = [_count(diagram.box_count, "box"), _count(diagram.edge_count, "edge")]
        if groups:
            counts.append(_count(groups, "collapsed group"))
        print(f"wrote {shown} ({', '.join(counts)})")
    return EXIT_OK


def _stale_pages(target: Path, pages: int) -> list[Path]:
    """``OUT-N.png`` files in the output's folder numbered past the pages just written: an
    earlier, longer render's (they are never deleted: the name could be the user's own file)."""
    page = re.compile(re.escape(target.stem) + r"-(\d+)" + re.escape(target.suffix))
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    found = [(int(m[1]), name) for name in names if (m := page.fullmatch(name))]
    return [target.parent / name for number, name in sorted(found) if number > max(pages, 1)]


def _count(n: int, noun: str) -> str:
    """``"1 edge"``, ``"3 boxes"``."""
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {noun}{'es' if noun.endswith('x') else 's'}"


def _check_writable(out: Path) -> None:
    """A :class:`UsageError` now, before the minutes of layout and painting, if ``out`` cannot
    be written (no permission, a read-only disk, a special folder such as /proc): Qt would only
    say "could not write" once the image is painted, without saying why."""
    existed = out.exists()
    if existed and not out.is_file():  # a pipe or a device: opening it to write could block
        raise UsageError(f"cannot write '{out}': it is not a regular file; choose another path")
    try:
        with open(out, "ab"):  # appends nothing: an existing file is left as it is
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise UsageError(
            f"cannot write '{out}': {reason.lower()}; choose another output path"
        ) from e
    if not existed:
        out.unlink(missing_ok=True)
