"""Page 3 of the export wizard: exporter, opset, export options, validation and output path.

The opset choices are those the installed torch's exporter can write (read without importing
torch); each is labelled with whether the installed onnxruntime can run it, which the wizard
learns off the GUI thread (:meth:`OptionsPage.set_runtime_limit`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from inspector.ui.wizard.support import FieldMessage, OpsetChoices, torch_opsets

if TYPE_CHECKING:
    from inspector.ui.wizard.wizard import ExportWizard

EXPORTER_LABELS = {
    "dynamo": "dynamo (torch.export; recommended)",
    "torchscript": "TorchScript (torch.jit.trace; legacy)",
}


class OptionsPage(QWizardPage):
    """How to export and where the file goes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Options")
        self.setSubTitle("How to export, how to validate, and where the ONNX file goes.")
        self.choices: OpsetChoices = torch_opsets()
        self.runtime: tuple[str, int] | None = None  # (onnxruntime version, newest opset)

        self.exporter = QComboBox(self)
        for key, label in EXPORTER_LABELS.items():
            self.exporter.addItem(label, key)
        self.exporter.setToolTip(
            "dynamo captures the model with torch.export (opset 18 and newer); TorchScript "
            "traces it with torch.jit.trace (opsets 7 to 20) and bakes Python control flow"
        )
        self.opset = QComboBox(self)
        self.opset.setToolTip(
            "The ai.onnx opset of the file. It must be one the exporter can write and the "
            "deployment runtime can run."
        )
        self.opset_message = FieldMessage(self)
        self.constant_folding = QCheckBox("Fold constants", self)
        self.constant_folding.setChecked(True)
        self.constant_folding.setToolTip(
            "Precompute the parts of the graph that depend only on weights (dynamo: the "
            "onnxscript optimizer)"
        )
        self.external_data = QCheckBox("Weights in a separate file (OUT.onnx.data)", self)
        self.external_data.setToolTip(
            "Needed for models over 2 GB, the protobuf limit of a single .onnx file"
        )

        self.validate = QCheckBox("Validate with ONNX Runtime", self)
        self.validate.setChecked(True)
        self.validate.setToolTip(
            "onnx checker, runtime support and edge checks, and parity with PyTorch"
        )
        self.parity_sizes = QLineEdit("1, 3, 7", self)
        self.parity_sizes.setToolTip(
            "Parity is also checked with every dynamic dim at each of these sizes"
        )
        self.rtol = QLineEdit("1e-3", self)
        self.rtol.setToolTip("Relative tolerance of the parity check")
        self.atol = QLineEdit("1e-4", self)
        self.atol.setToolTip("Absolute tolerance of the parity check")
        self.validation_message = FieldMessage(self)

        self.output = QLineEdit(self)
        self.output.setPlaceholderText("/path/to/model.onnx")
        self.output.setToolTip("The ONNX file to write; you are asked before one is replaced")
        self.browse_output = QPushButton("Save as…", self)
        self.output_message = FieldMessage(self)

        export_form = QFormLayout()
        export_form.addRow("Exporter:", self.exporter)
        export_form.addRow("Opset:", self.opset)
        export_form.addRow("", self.opset_message)
        export_form.addRow("", self.constant_folding)
        export_form.addRow("", self.external_data)
        validation = QGroupBox("Validation", self)
        validation_form = QFormLayout(validation)
        validation_form.addRow(self.validate)
        validation_form.addRow("Parity at sizes:", self.parity_sizes)
        tolerances = QHBoxLayout()
        tolerances.addWidget(self.rtol)
        tolerances.addWidget(self.atol)
        validation_form.addRow("rtol, atol:", tolerances)
        validation_form.addRow(self.validation_message)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output, 1)
        output_row.addWidget(self.browse_output)
        output_form = QFormLayout()
        output_form.addRow("Output:", output_row)
        output_form.addRow("", self.output_message)
        layout = QVBoxLayout(self)
        layout.addLayout(export_form)
        layout.addWidget(validation)
        layout.addLayout(output_form)
        layout.addStretch(1)

        self.exporter.currentIndexChanged.connect(self._fill_opsets)
        self.opset.currentIndexChanged.connect(self._changed)
        self.validate.toggled.connect(self._changed)
        for field in (self.parity_sizes, self.rtol, self.atol, self.output):
            field.textChanged.connect(self._changed)
        self.browse_output.clicked.connect(self._browse_output)
        self._fill_opsets()

    # -- what the wizard reads -------------------------------------------------------------

    def exporter_name(self) -> str:
        return str(self.exporter.currentData())

    def set_exporter(self, exporter: str) -> None:
        self.exporter.setCurrentIndex(max(0, self.exporter.findData(exporter)))

    def opset_version(self) -> int | None:
        """The chosen opset, or None for the exporter's default."""
        data = self.opset.currentData()
        return int(data) if data is not None else None

    def set_opset(self, opset: int | None) -> None:
        self.opset.setCurrentIndex(max(0, self.opset.findData(opset)))

    def sizes(self) -> list[int]:
        return [int(p) for p in self.parity_sizes.text().replace(",", " ").split()]

    def tolerances(self) -> tuple[float, float]:
        return float(self.rtol.text()), float(self.atol.text())

    def set_runtime_limit(self, runtime: tuple[str, int] | None) -> None:
        """Label each opset with whether the installed onnxruntime runs it."""
        self.runtime = runtime
        self._fill_opsets()

    def problems(self) -> dict[str, str]:
        """Field → what blocks Next on it: text that does not parse as sizes or tolerances, then
        the export config's problems for this page's fields."""
        out: dict[str, str] = {}
        if self.validate.isChecked():
            try:
                self.sizes()
            except ValueError:
                out["validation"] = (
                    f"'{self.parity_sizes.text()}' is not a list of sizes: write whole "
                    "numbers separated by commas, e.g. 1, 3, 7."
                )
            try:
                self.tolerances()
            except ValueError:
                out["validation"] = "Tolerances are numbers, e.g. 1e-3 and 1e-4."
        wizard = cast("ExportWizard | None", self.wizard())  # None while the wizard builds
        found = wizard.config_problems("output", "validation") if wizard else {}
        return {**found, **out}

    # -- QWizardPage -------------------------------------------------------------------------

    def initializePage(self) -> None:
        wizard = cast("ExportWizard", self.wizard())
        source = Path(wizard.source_page.source.text().strip()).expanduser()
        if not self.output.text().strip() and source.name:
            self.output.setText(str(source.with_suffix(".onnx")))
        self._changed()

    def isComplete(self) -> bool:
        return not self.problems()

    def validatePage(self) -> bool:
        """Going on writes the file: ask before replacing one that exists."""
        path = Path(self.output.text().strip()).expanduser()
        if not path.exists():
            return True
        wizard = cast("ExportWizard", self.wizard())
        if wizard.prompts.confirm_overwrite(self, path):
            return True
        self.output_message.show_error(f"'{path.name}' exists: choose another name, or replace it.")
        return False

    # -- internals ---------------------------------------------------------------------------

    def _fill_opsets(self) -> None:
        chosen = self.opset_version()
        self.opset.blockSignals(True)
        self.opset.clear()
        default = self.choices.default
        self.opset.addItem(f"exporter's default ({default})", None)
        for version in reversed(self.choices.for_exporter(self.exporter_name())):
            self.opset.addItem(self._opset_label(version), version)
        self.opset.blockSignals(False)
        self.set_opset(chosen)
        self._changed()

    def _opset_label(self, version: int) -> str:
        if self.runtime is None:
            return str(version)
        runtime_version, limit = self.runtime
        runs = "runs" if version <= limit else "cannot run"
        return f"{version}  (ONNX Runtime {runtime_version} {runs} it)"

    def _browse_output(self) -> None:
        wizard = cast("ExportWizard", self.wizard())
        path = wizard.prompts.save_file(self, "Export to", self.output.text(), "ONNX (*.onnx)")
        if path:
            self.output.setText(path if path.lower().endswith(".onnx") else path + ".onnx")

    def _changed(self) -> None:
        version = self.opset_version() or self.choices.default
        if self.runtime is not None and version > self.runtime[1]:
            self.opset_message.show_warning(
                f"ONNX Runtime {self.runtime[0]} runs opsets up to {self.runtime[1]}: the "
                "validation will fail, and so will a deployment on this runtime."
            )
        elif self.runtime is not None:
            self.opset_message.show_warning("")
        problems = self.problems()
        self.validation_message.show_error(problems.get("validation", ""))
        self.output_message.show_error(problems.get("output", ""))
        self.completeChanged.emit()
