"""The window's compare actions: File > Compare With…, Shift+drop, and opening a compare tab.

A mixin of :class:`~inspector.ui.main_window.MainWindow` (as ``ModelFileActions`` is): it uses
the window's comparisons, tabs, settings and message bar.

Dropping files with Shift held compares instead of opening: two files are compared with each
other (the first dropped is A), one file with the model of the tab shown (A). A plain drop opens
tabs as before; a prompt on every drop would slow down the common case.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMenu

from inspector.ui.compare.view import CompareView
from inspector.ui.model_files import MODEL_FILTER


class CompareActions:
    """Compare actions (mixed into the main window)."""

    def add_compare_actions(self, menu: QMenu) -> None:
        menu.addAction(
            self._action(
                "Compare &With…",
                self.compare_dialog,
                "Ctrl+Shift+D",
                "Show the current model and another side by side, with what differs coloured "
                "(or drop a file on the window with Shift held)",
            )
        )
        self.comparisons.opened.connect(self._comparison_opened)
        self.comparisons.open_failed.connect(self._comparison_failed)

    def compare_dialog(self) -> None:
        """Compare the current tab's model with a file the user picks; with no model shown,
        the user picks both files."""
        view = self.current_view()
        if view is not None:
            path, _ = QFileDialog.getOpenFileName(
                self,
                f"Compare {view.document.path.name} with",
                self.settings.last_dir,
                MODEL_FILTER,
            )
            if path:
                self.compare_files(str(view.document.path), path)
            return
        files, _ = QFileDialog.getOpenFileNames(
            self, "Choose two models to compare", self.settings.last_dir, MODEL_FILTER
        )
        if len(files) == 2:
            self.compare_files(*files)
        elif files:
            self.messages.show_message("Choose exactly two models to compare (A, then B).")

    def compare_dropped(self, files: list[str]) -> bool:
        """Compare what was dropped with Shift held; False if it cannot be (then it opens)."""
        view = self.current_view()
        if len(files) == 2:
            self.compare_files(*files)
        elif len(files) == 1 and view is not None:
            self.compare_files(str(view.document.path), files[0])
        else:
            return False
        return True

    def compare_files(self, path_a: str, path_b: str, note: str = "") -> None:
        """Open a compare tab of ``path_a`` (A) against ``path_b`` (B) once both are read."""
        self.settings.last_dir = str(Path(path_b).parent)
        self.statusBar().showMessage(f"Comparing {Path(path_a).name} with {Path(path_b).name}…")
        self.comparisons.open(path_a, path_b, note)

    def current_compare_view(self) -> CompareView | None:
        w = self.tabs.currentWidget()
        return w if isinstance(w, CompareView) else None

    def _comparison_opened(self, comp_id: int) -> None:
        comp = self.comparisons.comparisons[comp_id]
        view = CompareView(self.comparisons, comp_id, self.tabs)
        index = self.tabs.addTab(view, f"{comp.a.path.name} ↔ {comp.b.path.name}")
        self.tabs.setTabToolTip(index, f"A: {comp.a.path}\nB: {comp.b.path}")
        self.tabs.setCurrentIndex(index)
        self.statusBar().clearMessage()

    def _comparison_failed(self, message: str) -> None:
        self.statusBar().clearMessage()
        self.messages.show_message(message)
