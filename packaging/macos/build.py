"""Build "ONNX Inspector.app" (PyInstaller) and a disk image to ship it in.

Run on macOS from the repository root, in a virtual environment with the project installed::

    python -m pip install . pyinstaller
    python packaging/macos/build.py

Writes ``build/macos/dist/ONNX Inspector.app`` and ``build/macos/onnx-inspector-VERSION.dmg``
(``hdiutil`` ships with macOS). The app is not signed or notarised: Gatekeeper asks once, on
first open (right-click > Open). ``--dry-run`` prints the commands without running them.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pyinstaller_common import ROOT, VERSION, identity, pyinstaller_command  # noqa: E402

BUILD = ROOT / "build" / "macos"


def commands() -> list[list[str]]:
    """The build's commands, in order."""
    app = BUILD / "dist" / f"{identity.APP_NAME}.app"
    return [
        pyinstaller_command(HERE / "onnx-inspector.spec", BUILD),
        [
            "hdiutil",
            "create",
            "-volname",
            identity.APP_NAME,
            "-srcfolder",
            str(app),
            "-ov",
            "-format",
            "UDZO",
            str(BUILD / f"{identity.APP_ID}-{VERSION}.dmg"),
        ],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    if args.dry_run:
        for cmd in commands():
            print(shlex.join(cmd))
        return 0
    if sys.platform != "darwin":
        print("build.py: builds a macOS app; run it on macOS (or use --dry-run)")
        return 2
    for cmd in commands():
        subprocess.run(cmd, check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
