"""`python -m inspector` / `onnx-inspector`: the window when no subcommand is given, else the CLI."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from inspector.commands import NAMES

    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] in NAMES or args[0] in ("-h", "--help")):
        from inspector.cli import main as cli_main

        return cli_main(args)
    if args and _looks_like_a_command(args[0]):
        import difflib

        close = difflib.get_close_matches(args[0], NAMES, n=1)
        guess = f" (did you mean {close[0]}?)" if close else ""
        print(
            f"onnx-inspector: unknown command {args[0]!r}{guess}; the commands are "
            f"{', '.join(NAMES)}; to open a file of that name, give its path (./{args[0]})",
            file=sys.stderr,
        )
        return 2
    from inspector.ui.app import run_app

    return run_app(args)


def _looks_like_a_command(arg: str) -> bool:
    """A bare word that is no file here (``chek``): a mistyped command, not a model to open."""
    return not (arg.startswith("-") or "." in arg or os.sep in arg or os.path.exists(arg))


if __name__ == "__main__":
    sys.exit(main())
