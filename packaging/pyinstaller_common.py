"""What the Windows and macOS PyInstaller specs share: the entry point, data files and exclusions.

Imported by ``windows/onnx-inspector.spec`` and ``macos/onnx-inspector.spec`` (PyInstaller runs a
spec as Python with ``SPECPATH`` set; the specs put this folder on ``sys.path``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from inspector import __version__  # noqa: E402
from inspector.commands import SUBCOMMANDS  # noqa: E402
from inspector.desktop import identity  # noqa: E402, F401 (re-exported to the specs)

VERSION = __version__
ICONS = ROOT / "resources" / "icons"


def analysis_options() -> dict[str, Any]:
    """Keyword arguments for PyInstaller's ``Analysis``.

    ``resources/`` goes to ``resources/`` beside the ``inspector`` package in the bundle, where
    ``inspector.resource_path`` looks when ``inspector.resources`` is not an installed package.
    torch and onnxscript are left out: only the export wizard uses them, and they would add
    gigabytes; people who export install the wheel with ``[export]`` instead.
    """
    return {
        "scripts": [str(ROOT / "inspector" / "__main__.py")],
        "pathex": [str(ROOT)],
        "datas": [(str(ROOT / "resources"), "resources")],
        # The CLI imports each subcommand's module by its name in the registry (importlib), which
        # the static analysis cannot follow.
        "hiddenimports": [
            "inspector.cli",
            *(f"inspector.cli.{c.module}" for c in SUBCOMMANDS),
            "inspector.ui.app",
            "inspector.desktop.identity",
        ],
        "excludes": ["torch", "tkinter", "matplotlib", "IPython"],  # onnxscript: the fixes use it
    }


def pyinstaller_command(spec: Path, build: Path) -> list[str]:
    """The PyInstaller run both build scripts start with: ``spec`` into ``build``/dist."""
    return [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--distpath",
        str(build / "dist"),
        "--workpath",
        str(build / "work"),
        str(spec),
    ]
