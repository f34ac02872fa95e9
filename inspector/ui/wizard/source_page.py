"""Page 1 of the export wizard: where the model comes from.

A Python file plus the function or class that builds the model, a TorchScript file, or a
``torch.export`` ``.pt2`` archive; optionally a state dict of weights. The page shows the
export config's problems for these fields (``ExportConfig.problems_by_field``: the file exists,
the name is bound in the file according to ``ast``), and whether torch is installed; the model
itself is loaded by the export's child process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QStringListModel
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from inspector.core.export.config import factory_candidates
from inspector.ui.wizard.support import (
    INSTALL_HINT,
    FieldMessage,
    torch_installed,
)

if TYPE_CHECKING:
    from inspector.ui.wizard.wizard import ExportWizard

#: source kind → (label in the combo, file filter of the Open dialog)
KINDS: dict[str, tuple[str, str]] = {
    "python": ("Python file + factory", "Python files (*.py)"),
    "torchscript": ("TorchScript file", "TorchScript (*.pt *.pth *.ts *.jit *.zip);;All files (*)"),
    "exported_program": ("torch.export archive (.pt2)", "torch.export archives (*.pt2)"),
}
_SUFFIX_KIND = {".py": "python", ".pt2": "exported_program"}

SAFETY_NOTE = (
    "Loading a model runs its code. The Inspector never imports it itself: the model is "
    "loaded and exported in a separate process, which Cancel stops. Weights are loaded with "
    "torch.load(weights_only=True); a .pt file that pickles a whole model is not loaded (it "
    "could run any code): save model.state_dict() and give it here as the weights."
)


class SourcePage(QWizardPage):
    """The model's source file, its kind, the factory name and the optional weights."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Source")
        self.setSubTitle("Choose the PyTorch model to export.")

        self.kind = QComboBox(self)
        for key, (label, _) in KINDS.items():
            self.kind.addItem(label, key)
        self.kind.setToolTip(
            "A Python file with a function or class that returns the model (and optionally "
            "example inputs), a TorchScript file (torch.jit.save), or a torch.export archive "
            "(torch.export.save)"
        )
        self.source = QLineEdit(self)
        self.source.setPlaceholderText("/path/to/model.py")
        self.source.setToolTip("The file the model is loaded from")
        self.browse_source = QPushButton("Browse…", self)
        self.source_message = FieldMessage(self)

        self.factory = QLineEdit(self)
        self.factory.setPlaceholderText("make_model")
        self.factory.setToolTip(
            "A function or class in the file, called without arguments. It returns the model, "
            "or (model, example inputs) where the inputs are a tensor or a tuple of tensors."
        )
        self._names = QStringListModel(self)
        self.factory.setCompleter(QCompleter(self._names, self))
        self.factory_message = FieldMessage(self)

        self.weights = QLineEdit(self)
        self.weights.setPlaceholderText("optional: a state dict saved with torch.save")
        self.weights.setToolTip(
            "Optional. A state dict loaded into the model with torch.load(weights_only=True), "
            "which never runs code from the file"
        )
        self.browse_weights = QPushButton("Browse…", self)
        self.weights_message = FieldMessage(self)

        self.torch_message = FieldMessage(self)
        note = QLabel(SAFETY_NOTE, self)
        note.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Kind:", self.kind)
        form.addRow("File:", _row(self.source, self.browse_source))
        form.addRow("", self.source_message)
        self.factory_label = QLabel("Factory:", self)
        form.addRow(self.factory_label, self.factory)
        form.addRow("", self.factory_message)
        form.addRow("Weights:", _row(self.weights, self.browse_weights))
        form.addRow("", self.weights_message)
        layout = QVBoxLayout(self)
        layout.addWidget(note)  # above the fields: the user must read it before choosing a file
        layout.addLayout(form)
        layout.addWidget(self.torch_message)
        layout.addStretch(1)

        self.kind.currentIndexChanged.connect(self._changed)
        self.source.textChanged.connect(self._source_edited)
        self.factory.textChanged.connect(self._changed)
        self.weights.textChanged.connect(self._changed)
        self.browse_source.clicked.connect(self._browse_source)
        self.browse_weights.clicked.connect(self._browse_weights)
        self._changed()

    # -- what the wizard reads -------------------------------------------------------------

    def source_kind(self) -> str:
        return str(self.kind.currentData())

    def set_source_kind(self, kind: str) -> None:
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))

    def problems(self) -> dict[str, str]:
        """Field → what blocks Next on it (empty when the page is complete): the export
        config's problems for this page's fields, and whether torch is there to export with."""
        wizard = cast("ExportWizard | None", self.wizard())  # None while the wizard builds
        out = wizard.config_problems("source", "factory", "weights") if wizard else {}
        if not torch_installed():
            out["torch"] = (
                "PyTorch is not installed in the Python that runs the Inspector, so nothing can "
                f"be exported. Install the export extra: {INSTALL_HINT}"
            )
        return out

    # -- QWizardPage -------------------------------------------------------------------------

    def isComplete(self) -> bool:
        return not self.problems()

    # -- internals ---------------------------------------------------------------------------

    def _wizard(self) -> ExportWizard:
        return cast("ExportWizard", self.wizard())

    def _source_edited(self, text: str) -> None:
        path = Path(text.strip()).expanduser()
        kind = _SUFFIX_KIND.get(path.suffix)
        if kind is None and path.suffix in (".pt", ".pth", ".ts", ".jit"):
            kind = "torchscript"
        if kind is not None and kind != self.source_kind():
            self.set_source_kind(kind)  # calls _changed
        else:
            self._changed()

    def _changed(self) -> None:
        python = self.source_kind() == "python"
        self.factory.setEnabled(python)
        self.factory_label.setEnabled(python)
        path = Path(self.source.text().strip()).expanduser()
        self._names.setStringList(factory_candidates(path) if python and path.is_file() else [])
        problems = self.problems()
        self.source_message.show_error(problems.get("source", ""))
        # An empty factory name is not worth a red line until the file is chosen.
        shown = bool(self.factory.text()) or "source" not in problems
        factory_problem = problems.get("factory", "") if shown else ""
        self.factory_message.show_error(factory_problem if python else "")
        self.weights_message.show_error(problems.get("weights", ""))
        self.torch_message.show_error(problems.get("torch", ""))
        self.completeChanged.emit()

    def _browse_source(self) -> None:
        _, filters = KINDS[self.source_kind()]
        path = self._wizard().prompts.open_file(self, "Model source", self.source.text(), filters)
        if path:
            self.source.setText(path)

    def _browse_weights(self) -> None:
        path = self._wizard().prompts.open_file(
            self,
            "Weights (state dict)",
            self.weights.text(),
            "State dicts (*.pt *.pth *.bin);;All files (*)",
        )
        if path:
            self.weights.setText(path)


def _row(field: QWidget, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(field, 1)
    row.addWidget(button)
    return row
