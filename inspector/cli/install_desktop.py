"""`onnx-inspector install-desktop [--user|--system]`: the Linux file association.

``uninstall-desktop`` shares the arguments and the report of :func:`apply`.
"""

from __future__ import annotations

import argparse
import sys

from inspector.cli.common import EXIT_OK, UsageError, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--user", action="store_true", help="for this user, under ~/.local/share (default)"
    )
    scope.add_argument(
        "--system", action="store_true", help="for all users, under /usr/local/share (needs root)"
    )


def run(args: argparse.Namespace) -> int:
    """Installs a menu entry, the application/x-onnx MIME type for *.onnx, and icons, refreshes the
    MIME and desktop databases, and (for --user) makes ONNX Inspector the type's default
    application. Running it again is harmless; uninstall-desktop removes exactly what it wrote.
    """
    return apply(args, install=True)


def apply(args: argparse.Namespace, install: bool) -> int:
    """Install or uninstall for the scope ``args`` names, and report what was done."""
    if not sys.platform.startswith("linux"):
        raise UsageError(
            "the desktop entry is for Linux; on Windows and macOS the installer registers "
            "the file type (see packaging/)"
        )
    from inspector.desktop import install as desktop

    scope = "system" if args.system else "user"
    try:
        report = (desktop.install if install else desktop.uninstall)(scope)
    except desktop.DesktopInstallError as e:
        raise UsageError(str(e)) from e
    manifest = desktop.locations(scope).manifest
    if args.json:
        print_json({"scope": scope, "manifest": str(manifest), **report.as_json()})
        return EXIT_OK
    who = "all users" if scope == "system" else "this user"
    if install:
        print(f"installed for {who}: {len(report.files)} files (listed in {manifest})")
    elif report.files:
        print(f"uninstalled for {who}: removed {len(report.files)} files")
    else:
        print(f"nothing to uninstall for {who} (no {manifest})")
    for line in report.ran:
        print(f"  ran   {line}")
    for line in report.notes:
        print(f"  note  {line}")
    return EXIT_OK
