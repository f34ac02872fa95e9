"""`python -m inspector` / `onnx-inspector`: the window when no subcommand is given, else the CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from inspector.commands import NAMES

    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] in NAMES or args[0] in ("-h", "--help")):
        from inspector.cli import main as cli_main

        return cli_main(args)
    from inspector.ui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
