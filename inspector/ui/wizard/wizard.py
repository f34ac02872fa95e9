"""The export wizard: from a PyTorch model to a validated ONNX file, every failure explained.

Six pages: source, inputs, options, export (live log, Cancel), validation (checklist and
findings) and finish (open in the Inspector, save a script). The wizard only collects settings
into an :class:`ExportConfig`, shows its problems beside the fields (the CLI reads the same
rules) and shows the :class:`ExportResult`; the export, and everything
that imports torch or the user's code, runs in a child process started by the core.

The window opens it with its task runner and opens the file it reports::

    wizard = ExportWizard(self.runner, self)
    wizard.model_exported.connect(lambda path: self.open_files([path]))
    wizard.open()

Known limitations: the names of the factory's example inputs are only known in the child, so
dynamic dims of factory inputs are named by ``forward()`` parameter names that the user types
(a wrong name comes back as a ``dynamic-axis-missing`` finding).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget, QWizard

from inspector.core.export import ExportConfig, ExportResult, InputSpec
from inspector.core.export.validate import write_script
from inspector.ui.settings import Settings
from inspector.ui.tasks import TaskRunner
from inspector.ui.wizard.export_page import TASK_KEY, ExportPage
from inspector.ui.wizard.inputs_page import PROBE_TASK_KEY, InputsPage
from inspector.ui.wizard.options_page import OptionsPage
from inspector.ui.wizard.result_pages import FinishPage, ValidationPage
from inspector.ui.wizard.source_page import SourcePage
from inspector.ui.wizard.support import Prompts, runtime_opset_limit

T = TypeVar("T")

OPSETS_TASK_KEY = "export-wizard-opsets"


class ExportWizard(QWizard):
    """Export from PyTorch, step by step. Page widgets are attributes (``source_page.factory``,
    ``inputs_page.table``, ``options_page.output``, ...) so tests can drive them."""

    #: Finish ("Open in Inspector") was clicked: the path of the exported .onnx file.
    model_exported = Signal(str)
    export_started = Signal()
    #: An export ended with a result; True when a file was written (it may be degraded).
    export_finished = Signal(bool)
    #: A cancelled export's child process has ended; the wizard is usable again.
    export_cancelled = Signal()
    #: A script repeating the export was written to this path.
    script_saved = Signal(str)

    SOURCE, INPUTS, OPTIONS, EXPORT, VALIDATION, FINISH = range(6)

    def __init__(
        self, runner: TaskRunner, parent: QWidget | None = None, settings: Settings | None = None
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.settings = settings  # remembers the last source; None (tests): remembers nothing
        self.prompts = Prompts()  # tests replace it to answer dialogs
        self.setWindowTitle("Export from PyTorch")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, False)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Open in Inspector")
        self.resize(860, 640)
        self.source_page = SourcePage(self)
        self.inputs_page = InputsPage(self)
        self.options_page = OptionsPage(self)
        self.export_page = ExportPage(self)
        self.validation_page = ValidationPage(self)
        self.finish_page = FinishPage(self)
        for page_id, page in enumerate(
            (
                self.source_page,
                self.inputs_page,
                self.options_page,
                self.export_page,
                self.validation_page,
                self.finish_page,
            )
        ):
            self.setPage(page_id, page)
        self.setStartId(self.SOURCE)
        last = settings.export_source if settings is not None else {}
        if last.get("path"):
            self.set_source(last["path"], last["factory"], last["kind"] or None, last["weights"])
        self.export_started.connect(self._remember_source)
        # A fix run from the validation page ends there.
        self.export_finished.connect(lambda _ok: self.validation_page.export_ended())
        self.export_cancelled.connect(self.validation_page.export_ended)
        # Importing onnxruntime to learn its newest opset takes a moment: not in a slot.
        runner.submit(
            OPSETS_TASK_KEY,
            lambda _progress, _cancel: runtime_opset_limit(),
            self.options_page.set_runtime_limit,
        )
        # A wizard closed before that answer came must not receive it on deleted widgets.
        self.destroyed.connect(
            lambda: (runner.cancel(OPSETS_TASK_KEY), runner.cancel(PROBE_TASK_KEY))
        )

    # -- settings, for the pages and for tests --------------------------------------------------

    def set_source(
        self, path: str | Path, factory: str = "", kind: str | None = None, weights: str = ""
    ) -> None:
        """Fill the source page; ``kind`` (python, torchscript, exported_program) is guessed from
        the file's suffix when not given."""
        self.source_page.source.setText(str(path))
        if kind is not None:
            self.source_page.set_source_kind(kind)
        self.source_page.factory.setText(factory)
        self.source_page.weights.setText(weights)

    def set_inputs(
        self, specs: list[InputSpec] | None, dynamic: dict[str, str] | None = None
    ) -> None:
        """Build inputs from ``specs`` (None: the factory's); ``dynamic`` maps an input name to
        its dynamic-dims text, e.g. ``{"x": "0:batch"}``."""
        page, dynamic = self.inputs_page, dynamic or {}
        page.clear_rows()
        (page.use_table if specs is not None else page.use_factory_inputs).setChecked(True)
        if specs is not None:
            for spec in specs:
                shape = ", ".join(str(d) for d in spec.shape)
                page.add_row(spec.name, spec.dtype, shape, dynamic.get(spec.name, ""))
        else:
            for name, text in dynamic.items():
                page.add_row(name, "float32", "", text)

    def set_output(self, path: str | Path) -> None:
        self.options_page.output.setText(str(path))

    def _remember_source(self) -> None:
        if self.settings is None:
            return
        page = self.source_page
        self.settings.export_source = {
            "path": page.source.text().strip(),
            "kind": page.source_kind(),
            "factory": page.factory.text().strip(),
            "weights": page.weights.text().strip(),
        }

    def build_config(self) -> ExportConfig:
        """The settings of every page as one :class:`ExportConfig`, which the pages validate
        through (:meth:`ExportConfig.problems_by_field`). A field whose text does not parse
        (the page says so) keeps its default here."""
        source, inputs, options = self.source_page, self.inputs_page, self.options_page
        validate = options.validate.isChecked()
        rtol, atol = _parsed(options.tolerances, (1e-3, 1e-4)) if validate else (1e-3, 1e-4)
        return ExportConfig(
            source=_path_text(source.source.text()),
            output=_path_text(options.output.text()),
            source_kind=source.source_kind(),  # type: ignore[arg-type]
            factory=source.factory.text().strip() if source.source_kind() == "python" else "",
            weights=source.weights.text().strip(),
            inputs=_parsed(inputs.specs, []),
            dynamic=_parsed(inputs.dynamic_dims, []),
            dynamic_batch=inputs.dynamic_batch.isChecked(),
            exporter=options.exporter_name(),  # type: ignore[arg-type]
            opset=options.opset_version(),
            constant_folding=options.constant_folding.isChecked(),
            external_data=options.external_data.isChecked(),
            validate=validate,
            parity_sizes=_parsed(options.sizes, [1, 3, 7]) if validate else [1, 3, 7],
            rtol=rtol,
            atol=atol,
        )

    def config_problems(self, *fields: str) -> dict[str, str]:
        """Field → the first of :meth:`ExportConfig.problems_by_field` for each of ``fields``
        that has one: what a page shows beside those fields."""
        found = self.build_config().problems_by_field()
        return {f: found[f][0] for f in fields if f in found}

    # -- results ---------------------------------------------------------------------------------

    @property
    def result(self) -> ExportResult | None:
        """The last export's result (None before one ends, or after going Back past it)."""
        return self.export_page.result

    def save_script(self, path: str | Path) -> Path:
        """Write a standalone script that repeats the last export; returns its path."""
        config = self.export_page.config
        if config is None:
            raise RuntimeError("no export has run yet")
        names = self.result.input_names if self.result is not None else None
        written = write_script(config, path, names or None)
        self.script_saved.emit(str(written))
        return written

    # -- QDialog ---------------------------------------------------------------------------------

    def accept(self) -> None:
        """Finish: hand the exported file to the window."""
        result = self.result
        if result is not None and result.ok and result.onnx:
            self.model_exported.emit(result.onnx)
        super().accept()

    def done(self, code: int) -> None:
        """Closing the wizard (Finish, Cancel, Escape) stops an export that still runs."""
        self.runner.cancel(TASK_KEY)
        self.runner.cancel(OPSETS_TASK_KEY)
        super().done(code)


def _parsed(read: Callable[[], T], default: T) -> T:
    """``read()``, or ``default`` when the page's text does not parse (ValueError)."""
    try:
        return read()
    except ValueError:
        return default


def _path_text(text: str) -> str:
    """A path field's text with ``~`` expanded; empty stays empty (not ``"."``)."""
    text = text.strip()
    return str(Path(text).expanduser()) if text else ""
