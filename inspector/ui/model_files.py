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
        from inspector.core.checks.runtime_retarget import save_retargeted

        view = self.current_view()
        opset = self.session.target.opset
        if view is None or opset is None:
            return
        model = view.document.model
        self._write_in_background(
            "save-converted",
            lambda: save_retargeted(model, opset, path),
            lambda out: self.statusBar().showMessage(f"Wrote {out}", 8000),
            f"Could not convert {view.document.path.name} to opset {opset}",
        )

    def export_from_pytorch(self) -> ExportWizard:
        """Open the export wizard; the model it exports opens in a tab, with its checks."""
        wizard = ExportWizard(self.runner, self)
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
                f"{view.document.path.name} has no fixed batch dim to make dynamic "
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
        """Write the current model with its fixed batch dims renamed to 'batch' to ``path`` (a
        new file), then open it in a new tab, where inference and the checks show the effect."""
        from inspector.core.checks.shape_dynamic import make_dim_dynamic

        view = self.current_view()
        if view is None:
            return
        src = view.document.path
        self._write_in_background(
            "make-dynamic",
            lambda: make_dim_dynamic(src, path),
            lambda _result: self.open_files([path]),
            f"Could not save {src.name} with a dynamic batch",
        )

    def _write_in_background(
        self, key: str, write: Callable[[], Any], done: Callable[[Any], None], failure: str
    ) -> None:
        """Run ``write`` (which writes a new file) on the task runner; a failure is said in the
        message bar as ``failure: <the error's first line>``."""
        self.runner.submit(
            key,
            lambda _p, _c: write(),
            done,
            lambda err: self.messages.show_message(f"{failure}: {error_line(err.exception)}"),
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
