"""`onnx-inspector` subcommands: each parses its arguments, calls the core, and formats the result.

One module per subcommand (``info``, ``check``, ...), named by ``inspector.commands``, the one
list of them: each has ``add_arguments(parser)`` and ``run(args) -> exit code``, and the docstring
of its ``run`` is the rest of its ``--help`` after the registry's summary. What they share
(exit codes, the one-line usage error, output) is in ``inspector.cli.common``.

Nothing is computed here that the window does not also get from the core. Heavy modules (onnx,
PySide6) are imported inside the subcommands, so ``--help`` starts fast and imports neither
onnxruntime nor torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from inspector.cli.common import EXIT_BAD_INPUT, EXIT_OK, ArgParser, UsageError
from inspector.commands import SUBCOMMANDS

Command = Callable[[argparse.Namespace], int]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The parser, with one subparser per registered subcommand, and each name's run function."""
    parser = ArgParser(
        prog="onnx-inspector",
        description="See an ONNX model's graph, and what will go wrong with it. "
        "With no command, opens the window (on the given .onnx files, or a sample model).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgParser)
    commands: dict[str, Command] = {}
    for entry in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{entry.module}")
        details = (module.run.__doc__ or "").strip()
        # argparse folds whitespace, so the summary and the details read as one text
        description = f"{entry.summary}\n\n{details}" if details else entry.summary
        p = sub.add_parser(entry.name, help=entry.summary, description=description)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        module.add_arguments(p)
        commands[entry.name] = module.run
    return parser, commands


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
