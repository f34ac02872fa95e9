"""The window's compare actions: File > Compare With…, Shift+drop, opening a compare tab, and
the Fix menu, whose every fix opens its result as a compare tab against the original.

A mixin of :class:`~inspector.ui.main_window.MainWindow` (as ``ModelFileActions`` is): it uses
the window's comparisons, tabs, settings and message bar.

Dropping files with Shift held compares instead of opening: two files are compared with each
other (the first dropped is A), one file with the model of the tab shown (A). A plain drop opens
tabs as before; a prompt on every drop would slow down the common case.

A fix (:mod:`inspector.core.fixes`) runs in a child process through the task runner: it
converts into a new file, re-checks it and runs it against the original. A kept file (verdict
verified, or unverified where the original cannot run here) opens as a compare tab whose header
says the verdict; a rejected or failed fix writes nothing and the message bar says why.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMenuBar

from inspector.core.fixes import FixReport, FixSpec, FixSpecError, fix_call
from inspector.core.tasks import CancelToken, ProgressFn
from inspector.ui.compare.view import CompareView
from inspector.ui.message_bar import Level
from inspector.ui.model_files import MODEL_FILTER
from inspector.ui.tasks import TaskError

#: The Fix menu: (text, tip, kind); kinds that need a parameter ask for it.
FIXES = (
    ("Convert to float&16…", "Float tensors become float16 (inputs and outputs stay)", "float16"),
    ("Convert to float&32…", "float16 (and bfloat16) tensors become float32", "float32"),
    ("&Cast float64 Inputs to float32…", "float64 graph inputs become float32", "cast-inputs"),
    ("Convert to &Opset…", "Convert to another ai.onnx opset", "opset"),
    ("Make a Dimension &Dynamic…", "Replace a fixed input dim by a symbol", "dynamic"),
    ("&Simplify…", "Fold constants and remove dead nodes (onnxscript's optimizer)", "simplify"),
)


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

    def add_fix_menu(self, bar: QMenuBar) -> None:
        menu = bar.addMenu("Fi&x")
        for text, tip, kind in FIXES:
            menu.addAction(
                self._action(
                    text,
                    lambda _=False, k=kind: self._fix_dialog(k),
                    tip=f"{tip}; written to a new file, checked, run against the original "
                    "and opened as a comparison",
                )
            )
        menu.addSeparator()
        menu.addAction(
            self._action(
                "&Tolerance…",
                self._tolerance_dialog,
                tip="The output difference a fix may make (default: each fix's own)",
            )
        )
        self.fix_tolerance: tuple[float, float] | None = None

    def _fix_dialog(self, kind: str) -> None:
        view = self.current_view()
        if view is None:
            self.messages.show_message("Open a model first: a fix applies to the model shown.")
            return
        src = view.document.path
        model = view.document.model
        try:
            if kind == "opset":
                current = model.opset_for("") or 17
                opset, ok = QInputDialog.getInt(
                    self, "Convert to opset", "ai.onnx opset:", current + 1, 7, 30
                )
                if not ok:
                    return
                spec = FixSpec(kind, opset=opset)
            elif kind == "dynamic":
                first = model.graph.inputs[0] if model.graph.inputs else "input"
                text, ok = QInputDialog.getText(
                    self, "Make a dimension dynamic", "INPUT:DIM:SYMBOL", text=f"{first}:0:batch"
                )
                if not ok:
                    return
                spec = FixSpec(kind, dynamic=text.strip())
            else:
                spec = FixSpec(kind)
        except FixSpecError as e:
            self.messages.show_message(str(e))
            return
        suffix = spec.option.lstrip("-").replace(" ", "").replace(":", "_").replace("to-", "")
        out, _ = QFileDialog.getSaveFileName(
            self,
            f"Write the model fixed with {spec.option} as",
            str(src.with_name(f"{src.stem}_{suffix}.onnx")),
            MODEL_FILTER,
        )
        if out:
            self.run_fix(str(src), spec, out)

    def _tolerance_dialog(self) -> None:
        now = self.fix_tolerance
        text, ok = QInputDialog.getText(
            self,
            "Tolerance of the fixes",
            "rtol, atol (empty: each fix's default):",
            text=f"{now[0]:g}, {now[1]:g}" if now else "",
        )
        if not ok:
            return
        try:
            parts = [float(x) for x in text.replace(",", " ").split()]
        except ValueError:
            parts = [-1.0]
        if not parts:
            self.fix_tolerance = None
        elif len(parts) == 2 and min(parts) >= 0:
            self.fix_tolerance = (parts[0], parts[1])
        else:
            self.messages.show_message("Give two numbers, rtol and atol (say 0.01, 0.001).")

    def run_fix(self, source: str, spec: FixSpec, out: str) -> None:
        """Apply ``spec`` to ``source`` writing ``out`` (never ``source``) in a child; open the
        result against the original, or say why the fix was rejected."""
        rtol, atol = self.fix_tolerance or (None, None)
        name = Path(source).name

        def prepare(_progress: ProgressFn, _cancel: CancelToken):
            return fix_call(source, spec, out, rtol, atol)

        def done(report: FixReport) -> None:
            self.statusBar().clearMessage()
            if report.output is not None:
                self.compare_files(
                    source,
                    str(report.output),
                    f"{report.fix}: {report.verdict}",
                    (report.rtol, report.atol),  # Compare Outputs then judges as the fix did
                )
                return
            why = [f.message for f in report.findings[1:]] or [report.verdict]
            self.messages.show_message(
                f"The fix {report.fix} of {name}: {report.verdict}",
                Level.ERROR,
                "\n".join(why),
            )

        def failed(err: TaskError) -> None:
            self.statusBar().clearMessage()
            self.messages.show_message(
                f"The fix {spec.option} of {name} did not run: {err.exception}"
            )

        self.statusBar().showMessage(f"Fixing {name} with {spec.option}…")
        self.runner.submit_child(
            f"fix:{out}", prepare, done, failed, what=f"fixing {name} with {spec.option}"
        )

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

    def compare_files(
        self,
        path_a: str,
        path_b: str,
        note: str = "",
        tolerance: tuple[float, float] | None = None,
    ) -> None:
        """Open a compare tab of ``path_a`` (A) against ``path_b`` (B) once both are read."""
        self.settings.last_dir = str(Path(path_b).parent)
        self.statusBar().showMessage(f"Comparing {Path(path_a).name} with {Path(path_b).name}…")
        self.comparisons.open(path_a, path_b, note, tolerance)

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
