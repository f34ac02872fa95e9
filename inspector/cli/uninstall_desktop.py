"""`onnx-inspector uninstall-desktop [--user|--system]`: undo ``install-desktop``."""

from __future__ import annotations

import argparse

from inspector.cli import install_desktop

add_arguments = install_desktop.add_arguments  # the same --user/--system choice


def run(args: argparse.Namespace) -> int:
    return install_desktop.apply(args, install=False)
