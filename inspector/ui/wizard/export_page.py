"""Page 4 of the export wizard: the export itself, with a live log, progress, time and Cancel.

The export's child job (:func:`inspector.core.export.runner.export_call`: the user's code runs
only there) is started with the window's task runner, which reads its log lines on the event
loop and hands them to the log view; Cancel kills the child at once, and a cancelled run's lines
are never delivered, so none lands in the next run's log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from inspector.core.export import ExportConfig, ExportResult
from inspector.core.export.adjust import ExportFix
from inspector.core.export.runner import export_call
from inspector.core.findings import Severity
from inspector.ui.tasks import TaskError

if TYPE_CHECKING:
    from inspector.ui.wizard.wizard import ExportWizard

TASK_KEY = "export-wizard"
_MAX_LOG_LINES = 20_000  # an exporter stuck in a loop must not eat the memory


class ExportPage(QWizardPage):
    """Runs the export when the page is entered; Next is enabled once there is a result."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Export")
        self.setSubTitle("The model is loaded and exported in a separate process.")
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.elapsed = QLabel(self)
        self.cancel_button = QPushButton("Cancel export", self)
        self.cancel_button.setToolTip("Stop the export process; the wizard stays open")
        self.restart_button = QPushButton("Export again", self)
        self.restart_button.setToolTip("Run the export again with the same settings")
        self.log = QPlainTextEdit(self)
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(_MAX_LOG_LINES)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setToolTip("What the export process prints, as it prints it")

        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.elapsed)
        row.addWidget(self.cancel_button)
        row.addWidget(self.restart_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addWidget(self.log, 1)

        self._clock = QElapsedTimer()
        self._ticker = QTimer(self)
        self._ticker.setInterval(200)
        self._ticker.timeout.connect(self._tick)
        self._running = False
        self._cancelling = False
        self.result: ExportResult | None = None
        self.config: ExportConfig | None = None  # the settings of the last run
        # A fix's run (apply_fix): the fix, and the result it is run to improve on.
        self.fix: ExportFix | None = None
        self.before: ExportResult | None = None
        self.cancel_button.clicked.connect(self.cancel)
        self.restart_button.clicked.connect(self.restart)
        self._show_buttons()

    # -- public ------------------------------------------------------------------------------

    def is_running(self) -> bool:
        """Whether an export process may still be alive (also while it is being stopped)."""
        return self._running

    def start(self) -> None:
        """Start an export with the wizard's current settings (cancelling a running one)."""
        self._run(self._wizard().build_config(), None)

    def restart(self) -> None:
        """Export again with the last run's settings (a fix's included)."""
        self._run(self.config or self._wizard().build_config(), None)

    def apply_fix(self, fix: ExportFix) -> None:
        """Export with ``fix``'s settings; the last result becomes :attr:`before`."""
        self._run(fix.config, fix)

    def _run(self, config: ExportConfig, fix: ExportFix | None) -> None:
        wizard = self._wizard()
        self.before = self.result if fix is not None else None
        self.fix = fix
        self.result, self.config = None, config
        self._running, self._cancelling = True, False
        self.log.clear()
        self.progress.setValue(0)
        doing = f"{fix.label}: exporting" if fix is not None else "Exporting"
        self.status.setText(f"{doing} {config.source} to {config.output}…")
        self._clock.start()
        self._ticker.start()
        self._tick()

        wizard.runner.submit_child(
            TASK_KEY,
            export_call(config),
            self._done,
            self._error,
            self._progress,
            self.log.appendPlainText,
            what="exporting",
        )
        self._show_buttons()
        self.completeChanged.emit()
        wizard.export_started.emit()

    def cancel(self) -> None:
        """Stop the export; :attr:`ExportWizard.export_cancelled` follows once the child is gone."""
        if not self._running or self._cancelling:
            return
        self._cancelling = True
        self._wizard().runner.cancel(TASK_KEY)  # the child is killed and reaped on return
        self._stopped()

    # -- QWizardPage -------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.start()

    def cleanupPage(self) -> None:
        """Going Back stops the export: its settings are about to change."""
        self.cancel()
        self.result = self.before = self.fix = None

    def isComplete(self) -> bool:
        return self.result is not None

    # -- slots (GUI thread) --------------------------------------------------------------------

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(100 * fraction))
        self.progress.setFormat(f"%p%  {message}")

    def _stopped(self) -> None:
        self._running = False
        self._ticker.stop()
        self._tick()
        if self._cancelling:  # the runner drops a cancelled task's result: this is the end
            if self.fix is not None:  # a fix's run: the result it was to improve on stands
                self.result, self.before, self.fix = self.before, None, None
            self.progress.setValue(0)
            self.progress.setFormat("cancelled")
            self.status.setText(
                "Export cancelled; the export process was stopped. Go Back to change the "
                "settings, or export again."
            )
            self._show_buttons()
            self._wizard().export_cancelled.emit()

    def _done(self, result: ExportResult) -> None:
        self._stopped()
        self.result = result
        errors = sum(1 for f in result.findings if f.severity == Severity.ERROR)
        if result.ok:
            self.status.setText(
                f"Exported to {result.onnx}"
                + (f" with {errors} error finding(s)." if errors else ".")
                + " Next shows the validation."
            )
        else:
            first = result.findings[0].message if result.findings else "see the log"
            self.status.setText(f"The export failed: {first}. Next explains it.")
            self._failed()
        self._show_buttons()
        self.completeChanged.emit()
        self._wizard().export_finished.emit(result.ok)

    def _error(self, error: TaskError) -> None:
        # The export's job turns export failures into results; reaching here is a bug in the
        # Inspector itself, so show it plainly and keep the traceback in the log.
        self._stopped()
        self.status.setText(f"The export could not run: {error.exception}")
        self.log.appendPlainText(error.details)
        self._failed()
        self._show_buttons()

    def _failed(self) -> None:
        """The bar ends in "failed", not in "100%  done": the child's last progress line said it
        had finished its steps, not that they worked."""
        self.progress.setValue(self.progress.maximum())
        self.progress.setFormat("failed")

    def _tick(self) -> None:
        self.elapsed.setText(f"{self._clock.elapsed() / 1000:.1f} s")

    def _show_buttons(self) -> None:
        self.cancel_button.setEnabled(self._running and not self._cancelling)
        self.restart_button.setEnabled(not self._running)

    def _wizard(self) -> ExportWizard:
        return cast("ExportWizard", self.wizard())
