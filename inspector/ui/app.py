"""Start the window: parse the launch arguments, make the QApplication, open the files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from inspector import __version__, resource_path


def parse_launch_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="onnx-inspector",
        description="Open ONNX models in ONNX Inspector (with no file: a bundled sample model). "
        "Subcommands: info, render (see `onnx-inspector COMMAND --help`).",
    )
    parser.add_argument("files", nargs="*", help=".onnx files to open, one tab each")
    parser.add_argument("--version", action="version", version=f"onnx-inspector {__version__}")
    return parser.parse_args(list(argv))


def run_app(argv: Sequence[str]) -> int:
    args = parse_launch_args(argv)
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from inspector.ui.main_window import MainWindow
    from inspector.ui.settings import Settings
    from inspector.ui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ONNX Inspector")
    app.setOrganizationName("ONNX Inspector")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("onnx-inspector")
    icon = resource_path("icon.svg")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    settings = Settings()
    apply_theme(app, settings.theme)
    window = MainWindow(settings)
    window.show()
    files = list(args.files)
    if not files and settings.reopen_last_session:
        files = settings.last_session
    if not files:
        files = [str(resource_path("sample.onnx"))]
    window.open_files(files)
    return app.exec()
