"""The window's actions that write files or open tools: Save Converted, Save with Dynamic Batch,
Export from PyTorch, About. A mixin of :class:`~inspector.ui.main_window.MainWindow`: it uses the
window's session, task runner, message bar and tabs, and never writes the user's model file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from inspector import __version__
from inspector.core.findings import error_line
from inspector.core.tasks import CancelToken, ProgressFn
from inspector.ui.message_bar import Level
from inspector.ui.wizard import ExportWizard

MODEL_FILTER = "ONNX models (*.onnx *.onnx.data *.pb);;All files (*)"


class ModelFileActions:
    """File menu actions on the current model (mixed into the main window)."""

    def _save_converted_dialog(self) -> None:
        view = self.current_view()
        opset = self.session.target.opset
        if view is None or opset is None:
            self.messages.show_message(
                "Choose a target opset in the toolbar first; the model is converted to it."
            )
            return
        src = view.document.path
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save converted model as",
            str(src.with_name(f"{src.stem}_opset{opset}.onnx")),
            MODEL_FILTER,
        )
        if path:
            self.save_converted_to(path)

    def save_converted_to(self, path: str) -> None:
        """Convert the current model to the target opset and write it to ``path`` (a new file;
        the model's own file is refused). Runs in the background; the status bar says the end."""
        from inspector.core.rewrites.retarget import save_retargeted

        view = self.current_view()
        opset = self.session.target.opset
        if view is None or opset is None:
            return
        model = view.document.model
        self._write_in_background(
            "save-converted",
            lambda _progress, _cancel: save_retargeted(model, opset, path),
            lambda out: self.statusBar().showMessage(f"Wrote {out}", 8000),
            f"Could not convert {view.document.path.name} to opset {opset}",
        )

    def export_from_pytorch(self) -> ExportWizard:
        """Open the export wizard; the model it exports opens in a tab, with its checks."""
        wizard = ExportWizard(self.runner, self, self.settings)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.model_exported.connect(lambda path: self.open_files([path]))
        wizard.open()
        return wizard

    def _make_dynamic_dialog(self) -> None:
        view = self.current_view()
        if view is None:
            return
        if not any(f.code == "fixed-batch-dim" for f in view.document.findings):
            self.messages.show_message(
                f"{view.document.path.name} has no input whose fixed dim 0 behaves as a batch "
                "(or its checks have not finished yet)."
            )
            return
        src = view.document.path
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save with dynamic batch as",
            str(src.with_name(f"{src.stem}_dynamic.onnx")),
            MODEL_FILTER,
        )
        if path:
            self.make_dynamic_to(path)

    def make_dynamic_to(self, path: str) -> None:
        """Write the current model with its batch dims made dynamic to ``path`` (a new file), kept
        only once the copy ran at two batch sizes (:func:`save_dynamic_batch`, in the background;
        the runs are child processes). The message bar says what was proven, or why nothing was
        written; a proven copy opens in a new tab."""
        from inspector.core.rewrites.dynamic_batch import DynamicBatchResult, save_dynamic_batch

        view = self.current_view()
        if view is None:
            return
        doc = view.document
        src = doc.path
        # the open model once its types are inferred (the batch analysis reads shapes), else the
        # worker opens the file itself
        model = doc.model if doc.model.types_inferred else None

        def done(result: DynamicBatchResult) -> None:
            self.messages.show_message(result.message, Level.INFO if result.ok else Level.WARNING)
            if result.path is not None:
                self.open_files([str(result.path)])

        self._write_in_background(
            "make-dynamic",
            lambda progress, cancel: save_dynamic_batch(
                src, path, model=model, progress=progress, cancel=cancel
            ),
            done,
            f"Could not save {src.name} with a dynamic batch",
        )

    def _write_in_background(
        self,
        key: str,
        write: Callable[[ProgressFn, CancelToken], Any],
        done: Callable[[Any], None],
        failure: str,
    ) -> None:
        """Run ``write(progress, cancel)`` (which writes a new file) on the task runner; its
        progress shows in the status bar, and a failure in the message bar as ``failure: <the
        error's first line>``."""
        self.runner.submit(
            key,
            write,
            done,
            lambda err: self.messages.show_message(
                f"{failure}: {error_line(err.exception)}", Level.ERROR, err.details
            ),
            lambda _fraction, message: self.statusBar().showMessage(message, 8000),
        )

    def about_text(self) -> str:
        """The About box's text: this program's version and those of what it runs on."""
        from importlib.metadata import PackageNotFoundError, version

        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        def installed(package: str) -> str:
            # read from the package metadata: importing torch just to print its version is slow
            try:
                return version(package)
            except PackageNotFoundError:
                return "not installed"

        return (
            f"<b>ONNX Inspector {__version__}</b><br>See an ONNX model's graph, and what will go "
            f"wrong with it, before you deploy it.<br><br>onnx {installed('onnx')}<br>"
            f"onnxruntime {installed('onnxruntime')}<br>torch {installed('torch')}<br>"
            f"Qt {qVersion()}, PySide6 {pyside_version}"
        )

    def _about(self) -> None:
        QMessageBox.about(self, "About ONNX Inspector", self.about_text())
