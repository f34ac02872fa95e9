"""Build the Windows installer: PyInstaller one-folder app, then Inno Setup.

Run on Windows from the repository root, in a virtual environment with the project installed::

    python -m pip install . pyinstaller
    python packaging/windows/build.py

Needs Inno Setup 6 (``ISCC.exe`` on ``PATH`` or in its default folder). Writes
``build/windows/dist/onnx-inspector/`` (the app) and
``build/windows/installer/onnx-inspector-VERSION-setup.exe``. ``--dry-run`` prints the commands
without running them, on any system.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pyinstaller_common import ICONS, ROOT, VERSION, identity, pyinstaller_command  # noqa: E402

BUILD = ROOT / "build" / "windows"
ISCC_DEFAULT = Path(os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)")) / (
    r"Inno Setup 6\ISCC.exe"
)


def commands(iscc: str = "iscc") -> list[list[str]]:
    """The build's commands, in order."""
    return [
        pyinstaller_command(HERE / "onnx-inspector.spec", BUILD),
        [
            iscc,
            f"/DAppVersion={VERSION}",
            f"/DDistDir={BUILD / 'dist' / identity.APP_ID}",
            f"/DIconFile={ICONS / f'{identity.APP_ID}.ico'}",
            f"/O{BUILD / 'installer'}",
            str(HERE / "onnx-inspector.iss"),
        ],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    iscc = shutil.which("iscc") or str(ISCC_DEFAULT)
    steps = commands(iscc)
    if args.dry_run:
        for cmd in steps:
            print(subprocess.list2cmdline(cmd))
        return 0
    if sys.platform != "win32":
        print("build.py: builds a Windows installer; run it on Windows (or use --dry-run)")
        return 2
    if not Path(iscc).exists():
        print("build.py: Inno Setup 6 not found; install it from https://jrsoftware.org/isinfo.php")
        return 2
    for cmd in steps:
        subprocess.run(cmd, check=True, cwd=ROOT)
    print(f"built {BUILD / 'installer' / f'onnx-inspector-{VERSION}-setup.exe'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
