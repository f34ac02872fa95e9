"""Colours of the graph drawing, light and dark.

Light follows Netron's pastel categories: a saturated header on a white body, dark text. Dark
mutes the same hues so a large graph does not glare, with light text. Severity colours are the
same family in both themes (red, amber, blue) so a finding reads the same after a theme switch.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor

from inspector.core.categories import Category

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Palette:
    """Every colour the graph view paints with; ``fill``/``border`` are indexed by ``Category``."""

    dark: bool
    background: QColor
    fill: tuple[QColor, ...]  # box header (and the whole box when zoomed out), per category
    border: tuple[QColor, ...]  # box outline, per category
    body: QColor  # the detail part of a box, below its header
    text: QColor  # title text on the header
    body_text: QColor  # detail lines
    edge: QColor
    edge_label: QColor
    selection: QColor
    highlight: QColor  # search results
    severity: dict[str, QColor]  # "error" / "warning" / "info"
    badge_text: QColor
    minimap_frame: QColor  # the visible-area rectangle on the minimap

    def severity_color(self, severity: str) -> QColor:
        """The colour of ``severity``; an unknown one falls back to "info" rather than failing."""
        return self.severity.get(severity, self.severity["info"])


def _by_category(colors: dict[Category, str]) -> tuple[QColor, ...]:
    return tuple(QColor(colors[c]) for c in sorted(Category))


# Hues chosen to stay apart for the most common categories (convolution, activation,
# normalization, shape, math), which make up nearly every box in real models.
_LIGHT_FILL = {
    Category.OTHER: "#c8ccd2",
    Category.CONVOLUTION: "#7fa6d9",
    Category.ACTIVATION: "#e59c9c",
    Category.NORMALIZATION: "#8ec9a6",
    Category.POOLING: "#a7cf8a",
    Category.SHAPE: "#c6b4e2",
    Category.MATH: "#f0cf86",
    Category.CONTROL_FLOW: "#e5b07c",
    Category.QUANTIZATION: "#86cfd1",
    Category.CUSTOM: "#e7a6d0",
    Category.INPUT: "#dfe3e8",
    Category.OUTPUT: "#dfe3e8",
    Category.CONSTANT: "#d9d4c7",
}

_DARK_FILL = {
    Category.OTHER: "#4b5058",
    Category.CONVOLUTION: "#3c5a82",
    Category.ACTIVATION: "#7d4848",
    Category.NORMALIZATION: "#3e6e52",
    Category.POOLING: "#56703f",
    Category.SHAPE: "#5e4f78",
    Category.MATH: "#7a6535",
    Category.CONTROL_FLOW: "#7d5a36",
    Category.QUANTIZATION: "#366d70",
    Category.CUSTOM: "#794b69",
    Category.INPUT: "#3a3f46",
    Category.OUTPUT: "#3a3f46",
    Category.CONSTANT: "#5a5548",
}

_LIGHT = Palette(
    dark=False,
    background=QColor("#ffffff"),
    fill=_by_category(_LIGHT_FILL),
    border=tuple(c.darker(150) for c in _by_category(_LIGHT_FILL)),
    body=QColor("#fbfbfc"),
    text=QColor("#1b1d21"),
    body_text=QColor("#3b3f46"),
    edge=QColor("#6b7078"),
    edge_label=QColor("#6b7078"),
    selection=QColor("#1a73e8"),
    highlight=QColor("#ff9800"),
    severity={"error": QColor("#d32f2f"), "warning": QColor("#f59f00"), "info": QColor("#1e88e5")},
    badge_text=QColor("#ffffff"),
    minimap_frame=QColor("#1a73e8"),
)

_DARK = Palette(
    dark=True,
    background=QColor("#1e1f22"),
    fill=_by_category(_DARK_FILL),
    border=tuple(c.lighter(140) for c in _by_category(_DARK_FILL)),
    body=QColor("#2a2c30"),
    text=QColor("#eceef1"),
    body_text=QColor("#b9bec6"),
    edge=QColor("#8a9099"),
    edge_label=QColor("#8a9099"),
    selection=QColor("#6aa7ff"),
    highlight=QColor("#ffb74d"),
    severity={"error": QColor("#ef5350"), "warning": QColor("#ffb300"), "info": QColor("#42a5f5")},
    badge_text=QColor("#111214"),
    minimap_frame=QColor("#6aa7ff"),
)


def palette_for(dark: bool) -> Palette:
    """The dark or the light palette."""
    return _DARK if dark else _LIGHT


# Execution providers, for the partition map's stripes: vendor-like hues where there is one
# (CUDA/TensorRT green, DirectML blue, OpenVINO cyan, QNN red), far from the severity colours'
# amber, and the CPU a neutral slate, so what fell back reads at a glance.
_PROVIDER_COLORS = {
    "CPUExecutionProvider": "#78909c",
    "CUDAExecutionProvider": "#76b900",
    "TensorrtExecutionProvider": "#2e7d32",
    "DmlExecutionProvider": "#0078d4",
    "CoreMLExecutionProvider": "#8e24aa",
    "OpenVINOExecutionProvider": "#00acc1",
    "QNNExecutionProvider": "#c62828",
    "NnapiExecutionProvider": "#6d4c41",
    "XnnpackExecutionProvider": "#5c6bc0",
    "WebGpuExecutionProvider": "#d81b60",
}
#: Edges where a tensor crosses devices (a device copy): dashed, in this colour.
DEVICE_CROSSING = QColor("#e040fb")


def provider_color(provider: str) -> QColor:
    """The stripe colour of ``provider`` (the same in both themes, like the severities)."""
    return QColor(_PROVIDER_COLORS.get(provider, "#9e9e9e"))
