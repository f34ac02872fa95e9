"""The toolbar's runtime target: the installed ONNX Runtime's providers, and a target opset."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from inspector.core.checks import RuntimeTarget

MODEL_OPSET = "model's opset"
MIN_OPSET = 7  # ONNX Runtime has no kernels below opset 7


def runtime_facts() -> tuple[str, list[str], int]:
    """(onnxruntime version, its available providers, newest ai.onnx opset onnx knows).

    Imports onnxruntime (a few hundred ms): the window calls this on a worker thread."""
    import onnx
    import onnxruntime

    return (
        onnxruntime.__version__,
        list(onnxruntime.get_available_providers()),
        onnx.defs.onnx_opset_version(),
    )


class TargetPicker(QWidget):
    """Two combo boxes; ``target_chosen`` carries the new RuntimeTarget."""

    target_chosen = Signal(object)

    def __init__(self, provider: str, opset: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.provider_box = QComboBox(self)
        self.provider_box.setToolTip(
            "The ONNX Runtime execution provider to check the model against: nodes it cannot "
            "run are outlined on the graph and listed in Problems"
        )
        self.provider_box.addItem(provider, provider)
        self.opset_box = QComboBox(self)
        self.opset_box.setToolTip(
            "Check the model as if converted to this ai.onnx opset (onnx.version_converter)"
        )
        self.opset_box.addItem(MODEL_OPSET, None)
        if opset is not None:
            self.opset_box.addItem(f"opset {opset}", opset)
            self.opset_box.setCurrentIndex(1)
        self.label = QLabel("onnxruntime", self)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.provider_box)
        lay.addWidget(self.opset_box)
        self.provider_box.currentIndexChanged.connect(self._changed)
        self.opset_box.currentIndexChanged.connect(self._changed)

    def set_choices(self, version: str, providers: list[str], newest_opset: int) -> None:
        """Fill the boxes with what is installed, keeping the current choice where it exists."""
        provider, opset = self.target().provider, self.target().opset
        self.label.setText(f"onnxruntime {version}")
        for box in (self.provider_box, self.opset_box):
            box.blockSignals(True)
        self.provider_box.clear()
        for p in providers:
            self.provider_box.addItem(p.removesuffix("ExecutionProvider"), p)
        i = self.provider_box.findData(provider)
        self.provider_box.setCurrentIndex(i if i >= 0 else 0)
        self.opset_box.clear()
        self.opset_box.addItem(MODEL_OPSET, None)
        for v in range(newest_opset, MIN_OPSET - 1, -1):
            self.opset_box.addItem(f"opset {v}", v)
        j = self.opset_box.findData(opset) if opset is not None else 0
        self.opset_box.setCurrentIndex(max(j, 0))
        for box in (self.provider_box, self.opset_box):
            box.blockSignals(False)
        if self.target() != RuntimeTarget(provider=provider, opset=opset):
            self._changed()

    def target(self) -> RuntimeTarget:
        return RuntimeTarget(
            provider=self.provider_box.currentData() or "CPUExecutionProvider",
            opset=self.opset_box.currentData(),
        )

    def _changed(self) -> None:
        self.target_chosen.emit(self.target())
