"""Opening models in the window under test and waiting for its background work."""

from __future__ import annotations

from pathlib import Path

from inspector.ui.document_view import DocumentView
from inspector.ui.main_window import MainWindow


def open_and_wait(qtbot, window: MainWindow, path: Path, checked: bool = False) -> DocumentView:
    """Open ``path`` in a new tab; wait for shape inference (it runs after the first paint, and
    the panels show inferred types) and, with ``checked``, for the static checks too."""
    before = window.tabs.count()
    window.open_files([str(path)])
    qtbot.waitUntil(
        lambda: window.tabs.count() > before and not window.session.loading, timeout=60000
    )
    view = window.current_view()
    assert view is not None
    qtbot.waitUntil(lambda: view.document.model.types_inferred, timeout=60000)
    if checked:
        qtbot.waitUntil(lambda: view.document.checked, timeout=120000)
    return view
