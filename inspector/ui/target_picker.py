"""The toolbar's runtime target: a provider order and a target opset.

Every major execution provider is listed whether or not its build is installed (the Inspector
judges each from the tables it ships); each one's tooltip names the ONNX Runtime release (or
other source) its data belongs to. The order is the first provider's combo box plus a "then…"
button whose menu adds or removes fallbacks, in the order clicked, as ONNX Runtime takes them;
the CPU always comes last.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMenu, QToolButton, QWidget

from inspector.core.checks import RuntimeTarget
from inspector.core.providers.placement import CPU, short_name
from inspector.core.providers.tables import PROVIDERS, source_text, table_info
from inspector.scene.palette import provider_color
from inspector.ui.session import Session

MODEL_OPSET = "model's opset"
MIN_OPSET = 7  # ONNX Runtime has no kernels below opset 7
# Judged by the installed wheel's own support lists (onnxruntime/tools/mobile_helpers).
_WHEEL_LISTS = ("CoreMLExecutionProvider", "NnapiExecutionProvider")


def provider_sources(version: str) -> dict[str, str]:
    """Provider → where the Inspector's data for it comes from, with its release (a tooltip)."""
    out = {}
    for p in PROVIDERS:
        if p in _WHEEL_LISTS:
            text = f"the support lists of the installed onnxruntime {version} (mobile_helpers)"
        else:
            text = source_text(table_info(p)) or "no shipped table: its nodes are 'cannot tell'"
        out[p] = f"{short_name(p)}: {text}"
    return out


def runtime_facts() -> tuple[str, list[str], int, dict[str, str]]:
    """(onnxruntime version, its available providers, newest ai.onnx opset onnx knows, each
    listed provider's data source).

    Imports onnxruntime (a few hundred ms): the window calls this on a worker thread."""
    import onnx
    import onnxruntime

    return (
        onnxruntime.__version__,
        list(onnxruntime.get_available_providers()),
        onnx.defs.onnx_opset_version(),
        provider_sources(onnxruntime.__version__),
    )


class TargetPicker(QWidget):
    """The first provider, its fallbacks and the opset; ``target_chosen`` carries the new
    RuntimeTarget."""

    target_chosen = Signal(object)

    def __init__(
        self,
        provider: str,
        opset: int | None,
        parent: QWidget | None = None,
        fallbacks: tuple[str, ...] = (),
    ) -> None:
        super().__init__(parent)
        self.provider_box = QComboBox(self)
        self.provider_box.setToolTip(
            "The ONNX Runtime execution provider to check the model against: the graph shows "
            "where each node lands, and Problems what falls back or cannot run"
        )
        self._fill_providers({}, [])
        if self.provider_box.findData(provider) < 0:
            self.provider_box.addItem(short_name(provider), provider)
        self.provider_box.setCurrentIndex(self.provider_box.findData(provider))
        self.fallbacks: list[str] = [p for p in fallbacks if p != provider and p != CPU]
        self.then_button = QToolButton(self)
        self.then_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.then_button.setToolTip(
            "The providers ONNX Runtime tries next, in this order, for the nodes the first one "
            "cannot run; the CPU is always last"
        )
        self.then_menu = QMenu(self.then_button)
        self.then_menu.aboutToShow.connect(self._fill_then_menu)
        self.then_button.setMenu(self.then_menu)
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
        lay.addWidget(self.then_button)
        lay.addWidget(self.opset_box)
        self._show_then()
        self.provider_box.currentIndexChanged.connect(self._provider_changed)
        self.opset_box.currentIndexChanged.connect(self._changed)

    def _fill_providers(self, sources: dict[str, str], installed: list[str]) -> None:
        self.provider_box.clear()
        for p in PROVIDERS:
            mark = " ✓" if p in installed else ""  # its build is installed here
            self.provider_box.addItem(short_name(p) + mark, p)
            tip = sources.get(p, short_name(p))
            if p in installed:
                tip += "\nThis provider's build is installed."
            self.provider_box.setItemData(
                self.provider_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole
            )

    def set_choices(
        self, version: str, installed: list[str], newest_opset: int, sources: dict[str, str]
    ) -> None:
        """Fill the boxes (every major provider, the installed ones marked; the opsets onnx
        knows), keeping the current choice."""
        before = self.target()
        self.label.setText(f"onnxruntime {version}")
        for box in (self.provider_box, self.opset_box):
            box.blockSignals(True)
        self._fill_providers(sources, installed)
        i = self.provider_box.findData(before.provider)
        self.provider_box.setCurrentIndex(i if i >= 0 else 0)
        self.opset_box.clear()
        self.opset_box.addItem(MODEL_OPSET, None)
        for v in range(newest_opset, MIN_OPSET - 1, -1):
            self.opset_box.addItem(f"opset {v}", v)
        j = self.opset_box.findData(before.opset) if before.opset is not None else 0
        self.opset_box.setCurrentIndex(max(j, 0))
        for box in (self.provider_box, self.opset_box):
            box.blockSignals(False)
        self.fallbacks = [p for p in self.fallbacks if p != self.target().provider]
        self._show_then()
        if self.target() != before:
            self._changed()

    def set_order(self, order: list[str]) -> None:
        """Choose the provider ``order`` (first, then fallbacks; a CPU in it ends it)."""
        first = order[0] if order else CPU
        self.fallbacks = [p for p in dict.fromkeys(order[1:]) if p not in (first, CPU)]
        self.provider_box.blockSignals(True)
        i = self.provider_box.findData(first)
        self.provider_box.setCurrentIndex(i if i >= 0 else 0)
        self.provider_box.blockSignals(False)
        self._show_then()
        self._changed()

    def target(self) -> RuntimeTarget:
        provider = self.provider_box.currentData() or CPU
        return RuntimeTarget(
            provider=provider,
            opset=self.opset_box.currentData(),
            fallbacks=tuple(self.fallbacks) if provider != CPU else (),
        )

    # ------------------------------------------------------------------------------ the order

    def _fill_then_menu(self) -> None:
        """The menu lists every other provider: a checked one is in the order (click: out), an
        unchecked one is appended (click: in)."""
        self.then_menu.clear()
        first = self.target().provider
        for p in PROVIDERS:
            if p in (first, CPU):
                continue
            action = self.then_menu.addAction(short_name(p))
            action.setCheckable(True)
            action.setChecked(p in self.fallbacks)
            action.triggered.connect(lambda _on=False, p=p: self.toggle_fallback(p))
        self.then_menu.addSeparator()
        clear = self.then_menu.addAction("CPU only after it")
        clear.setEnabled(bool(self.fallbacks))
        clear.triggered.connect(lambda: self.set_order([first]))

    def toggle_fallback(self, provider: str) -> None:
        """Append ``provider`` to the fallbacks, or take it out if it is there."""
        if provider in self.fallbacks:
            self.fallbacks.remove(provider)
        elif provider not in (self.target().provider, CPU):
            self.fallbacks.append(provider)
        self._show_then()
        self._changed()

    def _show_then(self) -> None:
        first = self.target().provider
        self.then_button.setVisible(first != CPU)
        self.then_button.setText(
            "then " + " → ".join(short_name(p) for p in (*self.fallbacks, CPU))
        )

    def _provider_changed(self) -> None:
        first = self.target().provider
        self.fallbacks = [p for p in self.fallbacks if p != first]
        self._show_then()
        self._changed()

    def _changed(self) -> None:
        self.target_chosen.emit(self.target())


class PlacementLabel(QLabel):
    """The status bar's partition-map line for the tab shown: a colour key per provider and the
    summary ("412 of 430 nodes on CUDA, 3 partitions, 4 copies"); hidden for the CPU alone."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.doc_id: int | None = None
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setToolTip(
            "Where the target's provider order runs the nodes: the stripe on each box is its "
            "provider's colour; dashed edges are device copies"
        )
        session.findings_changed.connect(self._findings_changed)
        self.hide()

    def set_document(self, doc_id: int | None) -> None:
        self.doc_id = doc_id
        doc = self.session.documents.get(doc_id) if doc_id is not None else None
        placement = doc.placement if doc is not None and doc.checked else None
        if placement is None:
            self.clear()
            self.hide()
            return
        nodes = placement.counts.get("nodes", {})
        key = " ".join(
            f'<span style="color:{provider_color(p).name()}">■</span> {short_name(p)} {n}'
            for p, n in nodes.items()  # type: ignore[union-attr]
        )
        self.setText(f"{key} — {html.escape(placement.summary)}")
        self.show()

    def _findings_changed(self, doc_id: int) -> None:
        if doc_id == self.doc_id:
            self.set_document(doc_id)
