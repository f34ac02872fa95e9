"""What every subcommand shares: exit codes, the one-line usage error, opening a model, output.

Exit codes follow ``shared/cli-contract.md``: 0 fine, 1 error findings or a failed run, 2
unreadable input or wrong arguments (one line on stderr, never a traceback). Heavy modules are
imported inside the functions, so building the parser imports neither onnx nor onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

from inspector.core.text import printable

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


def seed(text: str) -> int:
    """An argparse type: a seed of the random inputs, a whole number from 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: a seed is 0 or more")
    return value


class UsageError(Exception):
    """Wrong arguments or unreadable input: printed as one line, exit code 2."""


class ArgParser(argparse.ArgumentParser):
    """The parser of the command and of each subcommand: a usage error is one line, not the usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's default prints the whole usage; the contract wants one clear line.
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def open_model(path: str):  # -> Model; typed loosely to keep onnx out of import time
    """The model at ``path``, or a :class:`UsageError` saying why it cannot be read."""
    from inspector.core.graph import open_model
    from inspector.core.loader import ModelLoadError

    try:
        return open_model(path)
    except ModelLoadError as e:
        raise UsageError(str(e)) from e


def print_json(data: Any) -> None:
    """``--json`` output: indented, one document, anything unusual written as its ``str``."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def table(rows: Sequence[tuple[str, str]], indent: str = "  ") -> str:
    """Two columns for people, the first padded to its widest entry on a terminal. Names come
    from the model: a tab or newline in one is shown escaped, so each row stays one line and the
    columns stay aligned (also for CJK and emoji names, two terminal columns a character)."""
    keys = [printable(k) for k, _ in rows]
    width = max(map(terminal_width, keys), default=0)
    return "\n".join(
        f"{indent}{k}{' ' * (width - terminal_width(k))}  {printable(v)}"
        for k, (_, v) in zip(keys, rows, strict=True)
    )


def terminal_width(text: str) -> int:
    """How many terminal columns ``text`` takes: East Asian wide and fullwidth characters (CJK,
    most emoji) two, combining marks none, anything else one."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )
