"""The result side of the inference panel: outputs, histogram, comparison, latency, errors, profile.

Everything here only shows a :class:`~inspector.core.inference.runner.RunResult`; running is the
panel's business (:mod:`inspector.ui.panels.inference`). Statistics and histograms come
precomputed from the child (:func:`inspector.core.inference.protocol.histogram_to_json`), so
showing a result never reads a big output.

Known limitations: a histogram is drawn from an evenly spaced sample of at most
``tensor_stats.HISTOGRAM_SAMPLE`` values of the output; non-tensor outputs (sequences, maps) get a row
without statistics or histogram.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.findings import Severity
from inspector.core.inference.runner import Comparison, RunResult, TensorResult
from inspector.ui.theme import ok_colour, severity_colour

#: (counts, bin edges) per output name, from :func:`compute_histograms`.
Histograms = dict[str, tuple[np.ndarray, np.ndarray]]

# The comparison comes before the first values, whose long text would push it out of sight.
OUTPUT_COLUMNS = (
    "output", "dtype", "shape", "min", "max", "mean", "std", "NaN", "Inf",
    "expected", "max abs err", "max rel err", "first values",
)  # fmt: skip
_VERDICT_COL = OUTPUT_COLUMNS.index("expected")
FUSION_NOTE = (
    "Captured values come from a copy of the model with every intermediate exposed as an "
    "output: that changes which fusions ONNX Runtime runs, so timings (and rarely values) can "
    "differ from a plain run."
)


def compute_histograms(result: RunResult) -> Histograms:
    """Each numeric output's histogram, as the child computed it with the statistics (so no
    output is read here: a 100 MB result reaches the panel as fast as the runner returns it)."""
    out: Histograms = {}
    for t in result.outputs:
        h = (t.stats or {}).get("histogram")
        if h:
            out[t.name] = (np.asarray(h["counts"]), np.asarray(h["edges"]))
    return out


def _num(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.5g}"
    return str(x)


class HistogramWidget(QWidget):
    """Bars of one histogram, painted directly (no plotting dependency), with the range below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: np.ndarray | None = None
        self.edges: np.ndarray | None = None
        self.title = ""
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("Distribution of the selected output's finite values")

    def set_histogram(self, title: str, histogram: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Show ``histogram`` (counts, edges) under ``title``; None shows why there is none."""
        self.title = title
        self.counts, self.edges = histogram if histogram is not None else (None, None)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        pal = self.palette()
        fm = p.fontMetrics()
        text_h = fm.height()
        area = QRectF(self.rect()).adjusted(4, text_h + 2, -4, -(text_h + 2))
        p.setPen(pal.windowText().color())
        p.drawText(QRectF(4, 0, self.width() - 8, text_h), Qt.AlignmentFlag.AlignLeft, self.title)
        if self.counts is None or self.edges is None or area.height() <= 2:
            p.drawText(area, Qt.AlignmentFlag.AlignCenter, "no histogram")
            return
        peak = max(int(self.counts.max()), 1)
        bar_w = area.width() / len(self.counts)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(pal.highlight().color()))
        for i, c in enumerate(self.counts.tolist()):
            h = area.height() * c / peak
            p.drawRect(QRectF(area.left() + i * bar_w, area.bottom() - h, max(bar_w - 1, 1), h))
        p.setPen(pal.windowText().color())
        bottom = QRectF(4, self.height() - text_h, self.width() - 8, text_h)
        p.drawText(bottom, Qt.AlignmentFlag.AlignLeft, f"{self.edges[0]:.4g}")
        p.drawText(bottom, Qt.AlignmentFlag.AlignRight, f"{self.edges[-1]:.4g}")
        p.drawText(bottom, Qt.AlignmentFlag.AlignHCenter, f"peak {peak}")


class ResultsView(QWidget):
    """The outputs of the last run: summary, per-output table, histogram, error details."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.histograms: Histograms = {}
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.latency = QLabel(self)
        self.latency.setToolTip("Wall time of each timed session.run in the child, in ms")
        self.capture_note = QLabel(FUSION_NOTE, self)
        self.capture_note.setWordWrap(True)
        self.error_raw = QPlainTextEdit(self)
        self.error_raw.setReadOnly(True)
        self.error_raw.setToolTip(
            "ONNX Runtime's raw message, the crashed child's stderr, or the Inspector's own "
            "traceback (for an inspector-error)"
        )
        self.raw_toggle = QToolButton(self)
        self.raw_toggle.setText("Details")
        self.raw_toggle.setCheckable(True)
        self.raw_toggle.setToolTip("Show or hide the raw message or traceback")
        self.raw_toggle.toggled.connect(self.error_raw.setVisible)

        self.table = QTableWidget(0, len(OUTPUT_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(OUTPUT_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setToolTip("Statistics of each output over its finite values; select a row")
        self.table.currentCellChanged.connect(lambda row, *_: self._show_histogram(row))
        self.histogram = HistogramWidget(self)

        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(self.histogram)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        for w in (self.summary, self.raw_toggle, self.error_raw, self.latency, self.capture_note):
            lay.addWidget(w)
        lay.addWidget(split, 1)
        self.clear()

    def clear(self, message: str = "No run yet.") -> None:
        self.histograms = {}
        self.table.setRowCount(0)
        self.histogram.set_histogram("", None)
        self.summary.setText(message)
        self.latency.setText("")
        self.capture_note.hide()
        self._set_error("")

    def show_error(self, plain: str, raw: str) -> None:
        """A failure that gave no result (e.g. a feed that could not be built)."""
        self.clear()
        self.summary.setText(
            f"<span style='color:{severity_colour(Severity.ERROR)}'>{_escape(plain)}</span>"
        )
        self._set_error(raw)

    def show_result(self, result: RunResult, histograms: Histograms) -> None:
        self.histograms = histograms
        self.summary.setText(_summary_html(result))
        self._set_error(result.error if result.status != "ok" else "")
        lat = result.latency_ms
        self.latency.setText(
            f"Latency over {len(result.latencies_ms)} runs: mean {lat['mean']:.3f} ms, "
            f"median {lat['median']:.3f} ms, p90 {lat['p90']:.3f} ms, min {lat['min']:.3f} ms"
            if lat
            else ""
        )
        # colours of the theme shown now (each result is drawn anew)
        self.capture_note.setStyleSheet(f"color: {severity_colour(Severity.WARNING)};")
        self.capture_note.setVisible(bool(result.intermediates))
        comparisons = {c.name: c for c in result.match.outputs} if result.match else {}
        self.table.setRowCount(len(result.outputs))
        for row, t in enumerate(result.outputs):
            for col, text in enumerate(_output_cells(t, comparisons.get(t.name))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if col == _VERDICT_COL and t.name in comparisons:
                    ok = comparisons[t.name].ok
                    item.setForeground(QColor(ok_colour() if ok else severity_colour("error")))
                    item.setToolTip(comparisons[t.name].message or "allclose")
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        if result.outputs:
            self.table.selectRow(0)
            self._show_histogram(0)

    def _set_error(self, raw: str) -> None:
        self.error_raw.setPlainText(raw)
        self.raw_toggle.setVisible(bool(raw))
        self.raw_toggle.setChecked(False)
        self.error_raw.setVisible(False)

    def _show_histogram(self, row: int) -> None:
        item = self.table.item(row, 0) if row >= 0 else None
        name = item.text() if item is not None else ""
        self.histogram.set_histogram(name, self.histograms.get(name))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _summary_html(result: RunResult) -> str:
    """One or two lines: the run's status in words, and the verdict against expected outputs."""
    if result.status != "ok":
        errors = [f.message for f in result.findings if f.severity.value == "error"]
        text = errors[0] if errors else f"the run ended with status {result.status}"
        hint = next((f.hint for f in result.findings if f.hint), "")
        return (
            f"<b style='color:{severity_colour(Severity.ERROR)}'>{_escape(result.status)}</b>: {_escape(text)}"
            + (f"<br><i>{_escape(hint)}</i>" if hint else "")
        )
    lines = [f"<b>ok</b> on {', '.join(result.providers) or 'ONNX Runtime'}"]
    m = result.match
    if m is not None:
        bad = [c for c in m.outputs if not c.ok]
        tol = f"(rtol {m.rtol:g}, atol {m.atol:g})"
        lines.append(
            f"<b style='color:{ok_colour()}'>matches expected</b> {tol}: "
            f"{len(m.outputs)} output(s) allclose"
            if m.ok
            else f"<b style='color:{severity_colour(Severity.ERROR)}'>differs from expected</b> {tol}: "
            f"{len(bad)} of {len(m.outputs)} output(s)"
        )
    warnings = [f.message for f in result.findings if f.severity.value != "error"]
    warning = severity_colour(Severity.WARNING)
    lines += [f"<span style='color:{warning}'>{_escape(w)}</span>" for w in warnings[:3]]
    return "<br>".join(lines)


def _output_cells(t: TensorResult, c: Comparison | None) -> list[str]:
    s = t.stats or {}
    first = ", ".join(str(v) for v in s.get("first_values", []))
    shape = "[" + ", ".join(str(d) for d in s.get("shape", [])) + "]" if s else t.kind
    verdict = "" if c is None else ("allclose" if c.ok else "differs")
    return [
        t.name,
        str(s.get("dtype", t.kind)),
        shape,
        *(_num(s.get(k)) for k in ("min", "max", "mean", "std", "nan", "inf")),
        verdict,
        _num(c.max_abs) if c else "",
        _num(c.max_rel) if c else "",
        first,
    ]


class ProfileView(QWidget):
    """The profile of the last run: slowest original nodes (sortable) and time per op type."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.nodes = self._table(("node", "op", "µs / run", "source", "profile event"))
        self.nodes.setToolTip(
            "Mean time per run of each original node; 'fused' nodes share the time of the "
            "optimized node they were fused into"
        )
        self.ops = self._table(("op type", "µs / run"))
        self.ops.setToolTip("Total kernel time per op type, over the optimized graph's nodes")
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.nodes)
        split.addWidget(self.ops)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.note)
        lay.addWidget(split, 1)
        self.clear()

    def _table(self, headers: tuple[str, ...]) -> QTableWidget:
        t = QTableWidget(0, len(headers), self)
        t.setHorizontalHeaderLabels(headers)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.verticalHeader().hide()
        t.horizontalHeader().setStretchLastSection(True)
        t.setSortingEnabled(True)
        return t

    def clear(self) -> None:
        self.note.setText("Run with “profile” checked to see per-node times.")
        for t in (self.nodes, self.ops):
            t.setRowCount(0)

    def show_result(self, result: RunResult) -> None:
        p = result.profile
        if p is None:
            self.clear()
            return
        rows = sorted(p.node_times.values(), key=lambda nt: -nt.us)
        self._fill(
            self.nodes,
            [(nt.node or f"{nt.op_type} #{nt.node_index}", nt.op_type, nt.us, nt.source, nt.event)
             for nt in rows],
            time_column=2,
        )  # fmt: skip
        self._fill(self.ops, p.slowest_ops(), time_column=1)
        unmapped = ", ".join(f"{u['name']} ({u['reason']})" for u in p.unmapped[:5])
        self.note.setText(
            f"{len(p.node_times)} nodes timed, {len(p.not_run)} without a time (constant-folded "
            f"or fused away by the optimizer)."
            + (f" Events with no original node: {unmapped}." if unmapped else "")
        )

    @staticmethod
    def _fill(table: QTableWidget, rows: list[tuple[Any, ...]], time_column: int) -> None:
        """Fill ``table`` with ``rows`` and sort it slowest first (the user may re-sort)."""
        table.setSortingEnabled(False)  # filling a sorted table reorders rows mid-fill
        table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, v in enumerate(values):
                item = QTableWidgetItem()
                if isinstance(v, float):
                    item.setData(Qt.ItemDataRole.DisplayRole, round(v, 1))
                else:
                    item.setText(str(v))
                table.setItem(r, c, item)
        table.setSortingEnabled(True)
        table.sortByColumn(time_column, Qt.SortOrder.DescendingOrder)
        table.resizeColumnsToContents()
