"""The inference panel's run options (provider, optimization level, threads, runs, capture,
profile, timeout), remembered through the window's :class:`~inspector.ui.settings.Settings`; the
provider starts as the runtime target's.

The provider list comes from :func:`available_providers`, which the panel runs on a worker:
importing onnxruntime costs ~0.3 s and 100 MB, which a window that never runs a model should
not pay at start-up.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QSpinBox, QWidget

from inspector.core.inference.protocol import OPT_LEVELS, RunOptions
from inspector.core.tasks import CancelToken, ProgressFn
from inspector.ui.settings import Settings


def available_providers(_progress: ProgressFn, _cancel: CancelToken) -> list[str]:
    """The execution providers of the installed onnxruntime (call it on a worker thread)."""
    import onnxruntime

    return list(onnxruntime.get_available_providers())


class RunOptionsForm(QWidget):
    """The form of :class:`~inspector.core.inference.protocol.RunOptions` plus the timeout."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        self.provider = QComboBox(self)
        self.provider.setToolTip("Execution provider: the ones this onnxruntime build has")
        self.opt_level = QComboBox(self)
        self.opt_level.addItems(OPT_LEVELS)
        self.opt_level.setToolTip("ONNX Runtime's graph optimization level (fusions, folding)")
        self.threads = QSpinBox(self)
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("default")
        self.threads.setToolTip("Intra-op threads; default is one per physical core")
        self.warmup = QSpinBox(self)
        self.warmup.setRange(0, 100)
        self.warmup.setToolTip("Untimed runs first, so allocation and kernel choice are not timed")
        self.repeat = QSpinBox(self)
        self.repeat.setRange(1, 10000)
        self.repeat.setToolTip("Timed runs; latency is summarised over them")
        self.timeout = QSpinBox(self)
        self.timeout.setRange(1, 24 * 3600)
        self.timeout.setSuffix(" s")
        self.timeout.setToolTip("The run is stopped and reported as timed out after this long")
        self.capture = QCheckBox("Capture intermediates", self)
        self.capture.setToolTip(
            "Expose every node output so edges show their values and the first NaN/Inf is "
            "located (runs a temporary copy; changes which fusions run)"
        )
        self.profile = QCheckBox("Profile", self)
        self.profile.setToolTip("Time every node with ONNX Runtime's profiler; heat on the graph")
        form.addRow("Provider", self.provider)
        form.addRow("Optimization", self.opt_level)
        form.addRow("Intra-op threads", self.threads)
        form.addRow("Warm-up runs", self.warmup)
        form.addRow("Timed runs", self.repeat)
        form.addRow("Timeout", self.timeout)
        form.addRow(self.capture)
        form.addRow(self.profile)

    def run_options(self) -> RunOptions:
        """The options as chosen now."""
        return RunOptions(
            provider=self.provider.currentText() or "CPUExecutionProvider",
            graph_optimization_level=self.opt_level.currentText(),
            intra_op_threads=self.threads.value(),
            warmup=self.warmup.value(),
            repeat=self.repeat.value(),
            profile=self.profile.isChecked(),
            capture=["*"] if self.capture.isChecked() else None,
        )

    def set_providers(self, providers: list[str]) -> None:
        """Offer ``providers``; the chosen one is kept when it is among them."""
        wanted = self.provider.currentText()
        self.provider.clear()
        self.provider.addItems(providers)
        if wanted in providers:
            self.provider.setCurrentText(wanted)

    def restore(self, settings: Settings) -> None:
        """The options saved by :meth:`save` (or the defaults), on the target's provider."""
        saved = settings.run_options()
        self.provider.addItem(settings.target_provider)
        self.opt_level.setCurrentText(saved["opt_level"])
        self.threads.setValue(int(saved["threads"]))
        self.warmup.setValue(int(saved["warmup"]))
        self.repeat.setValue(int(saved["repeat"]))
        self.timeout.setValue(int(saved["timeout"]))
        self.capture.setChecked(saved["capture"].lower() == "true")
        self.profile.setChecked(saved["profile"].lower() == "true")

    def save(self, settings: Settings) -> None:
        """Remember the options for the next start of the window."""
        settings.save_run_options(
            {
                "opt_level": self.opt_level.currentText(),
                "threads": str(self.threads.value()),
                "warmup": str(self.warmup.value()),
                "repeat": str(self.repeat.value()),
                "timeout": str(self.timeout.value()),
                "capture": "true" if self.capture.isChecked() else "false",
                "profile": "true" if self.profile.isChecked() else "false",
            }
        )
