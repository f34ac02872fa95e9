"""Start the window: parse the launch arguments, make the QApplication, open the files.

Files given to a launch go to an already running instance when there is one (see
``inspector.ui.single_instance``); files macOS opens from Finder arrive as ``QFileOpenEvent``s.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent, QIcon
from PySide6.QtWidgets import QApplication

from inspector import __version__, resource_path
from inspector.commands import NAMES
from inspector.ui.single_instance import Outcome, absolute_paths, claim, raise_window

if TYPE_CHECKING:
    from inspector.ui.main_window import MainWindow


def parse_launch_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="onnx-inspector",
        description="Open ONNX models in ONNX Inspector (with no file: a bundled sample model). "
        f"Subcommands: {', '.join(NAMES)} (see `onnx-inspector COMMAND --help`).",
    )
    parser.add_argument("files", nargs="*", help=".onnx files to open, one tab each")
    parser.add_argument(
        "--new-window",
        action="store_true",
        help="open a window of its own instead of handing the files to a running ONNX Inspector",
    )
    parser.add_argument("--version", action="version", version=f"onnx-inspector {__version__}")
    return parser.parse_args(list(argv))


def run_app(argv: Sequence[str]) -> int:
    args = parse_launch_args(argv)
    from inspector.ui import heap
    from inspector.ui.main_window import MainWindow
    from inspector.ui.settings import Settings
    from inspector.ui.theme import apply_theme

    if QApplication.instance() is None:
        from inspector.ui.platform_check import window_problem

        problem = window_problem()
        if problem:  # Qt would abort with a misleading message; say what to do instead
            print(f"onnx-inspector: {problem}", file=sys.stderr)
            return 2
    heap.fix_mmap_threshold()  # before the window allocates: closed models must not stay
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ONNX Inspector")
    app.setOrganizationName("ONNX Inspector")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("onnx-inspector")
    # Before any window: a running instance may take the files, and then this process is done.
    files = absolute_paths(args.files)
    instance = claim(files, hand_off=not args.new_window, parent=app)
    if instance.outcome is Outcome.HANDED_OFF:
        return 0
    icon = resource_path("icon.svg")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    settings = Settings()
    apply_theme(app, settings.theme)
    window = MainWindow(settings)
    window.show()
    window.show_first_run_hint()
    if instance.server is not None:
        instance.server.set_documents_source(
            lambda: [str(d.path) for d in window.session.documents.values()]
        )
        instance.server.files_received.connect(lambda paths: open_and_raise(window, paths))
    app.installEventFilter(FileOpenFilter(window, app))
    if not files and settings.reopen_last_session:
        files = settings.last_session
    if not files:
        files = [str(resource_path("sample.onnx"))]
    window.open_files(files)
    return app.exec()


def open_and_raise(window: MainWindow, paths: list[str]) -> None:
    """Open files another launch handed over (none: it only asked for the window) and show it."""
    if paths:
        window.open_files(paths)
    raise_window(window)


class FileOpenFilter(QObject):
    """Installed on the application: opens the file of each ``QFileOpenEvent`` in ``window``.

    macOS delivers files opened from Finder (or dropped on the Dock icon) this way, not in argv.
    """

    def __init__(self, window: MainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            if event.file():  # empty for a URL that is not a local file
                open_and_raise(self.window, [event.file()])
            return True
        return super().eventFilter(watched, event)
