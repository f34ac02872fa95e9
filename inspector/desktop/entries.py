"""The text of the freedesktop files: the ``.desktop`` entry and the shared-mime-info definition.

Pure functions of the launch command, so they can be checked without writing anything.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from inspector.desktop import identity

# Desktop Entry Specification, "The Exec key": an argument holding any of these must be quoted.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def launch_command() -> list[str]:
    """The program and arguments that start this installation's window with files appended.

    The ``onnx-inspector-gui`` script next to this interpreter when pip made one (what the CLI
    contract says associations call), else this interpreter with ``-m inspector``. Both are
    absolute: a desktop session's ``PATH`` often lacks the venv or ``~/.local/bin``.
    """
    python = Path(sys.executable).absolute()
    script = python.parent / "onnx-inspector-gui"
    if script.is_file():
        return [str(script)]
    return [str(python), "-m", "inspector"]


def quote_exec_arg(arg: str) -> str:
    """One argument of an ``Exec`` line, quoted and escaped as the spec requires."""
    arg = arg.replace("%", "%%")  # a lone % would start a field code
    if not arg or any(c in _RESERVED for c in arg):
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        arg = f'"{inner}"'
    return arg


def _string_value(text: str) -> str:
    # The generic "string" escapes of a key's value (applied after the Exec quoting above).
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def desktop_entry(command: Sequence[str]) -> str:
    """The ``.desktop`` file for ``command`` (see :func:`launch_command`): opens ``.onnx`` files.

    ``%F`` passes every selected file to one launch, which hands them to a running window. There
    is no ``StartupNotify``: a launch that hands its files over never maps a window of its own,
    so a launcher waiting for one would show a busy cursor until it timed out.
    """
    exec_line = " ".join(quote_exec_arg(a) for a in command) + " %F"
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",  # the newest version validators in current distributions know
        f"Name={identity.APP_NAME}",
        f"GenericName={identity.GENERIC_NAME}",
        f"Comment={identity.COMMENT}",
        f"Icon={identity.APP_ID}",
        f"TryExec={_string_value(command[0])}",
        f"Exec={_string_value(exec_line)}",
        "Terminal=false",
        f"MimeType={identity.MIME_TYPE};",
        # One main category: with two (Development;Science;) menus list the entry twice.
        "Categories=Development;",
        f"Keywords={';'.join(identity.KEYWORDS)};",
    ]
    return "\n".join(lines) + "\n"


def mime_definition() -> str:
    """The shared-mime-info package declaring ``application/x-onnx`` for ``*.onnx``.

    Glob only, no ``<magic>``: an ONNX file is a bare protobuf whose first bytes (``08 xx`` for
    ``ir_version``) are shared by countless other protobufs and binaries, so a magic rule would
    claim unrelated files that have no extension.
    """
    globs = "\n".join(f'    <glob pattern="*.{escape(ext)}"/>' for ext in identity.EXTENSIONS)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">\n'
        f'  <mime-type type="{identity.MIME_TYPE}">\n'
        f"    <comment>{escape(identity.MIME_COMMENT)}</comment>\n"
        "    <acronym>ONNX</acronym>\n"
        "    <expanded-acronym>Open Neural Network Exchange</expanded-acronym>\n"
        f'    <icon name="{identity.MIME_ICON}"/>\n'
        f"{globs}\n"
        "  </mime-type>\n"
        "</mime-info>\n"
    )
