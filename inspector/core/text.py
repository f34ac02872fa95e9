"""Text from a model file made safe to print: names and paths are the file's bytes, not ours.

A model can name a tensor ``"\\x1b[2J"`` (an escape sequence that clears the terminal), put a
right-to-left override in a node name, or hold invalid UTF-8 (which the protobuf runtime hands
back as ``bytes``, or as lone surrogates in a file name). :func:`printable` shows such text
escaped, so a message stays one readable line and a terminal shows what is really there.

No imports beyond the standard library: the CLI applies it to its output before anything heavy
is imported.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

# C0 and C1 control characters, DEL, lone surrogates (undecodable file-name bytes), and the
# bidirectional overrides and isolates that reorder what a terminal or editor shows.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_UNSAFE_OR_NEWLINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
        return f"\\x{c - 0xDC00:02x}"
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: str | bytes, one_line: bool = True) -> str:
    """``text`` with control characters, lone surrogates and bidi overrides escaped (``\\x1b``);
    bytes are decoded as UTF-8 with replacement characters. With ``one_line`` newlines and tabs
    are escaped too, else they are kept (for multi-line output)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return (_UNSAFE_OR_NEWLINE if one_line else _UNSAFE).sub(_escape, text)


# ANSI escape sequences a terminal program writes: CSI (colours, cursor moves: ESC [ ... final),
# OSC (titles, hyperlinks: ESC ] ... BEL or ESC \) and the two-character ones (ESC c, ESC 7).
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_]|[0-9a-z])")


def strip_ansi(text: str) -> str:
    """``text`` without the colour and cursor escape sequences a terminal program writes (the
    exporter's rich logs): a log shown in a window reads as plain text."""
    return _ANSI.sub("", text)


class PrintableStream:
    """A text stream whose writes pass through :func:`printable` (newlines and tabs kept): the
    CLI's stdout and stderr, so nothing a model names can move the cursor or clear the screen."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(printable(text, one_line=False))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def format_float(x: float) -> str:
    """A float as every panel and message shows it: 6 significant digits."""
    return f"{x:.6g}"
