"""The names ONNX Inspector is known by on each desktop: one place, read by every platform's files.

The Linux entry (``inspector.desktop.entries``), the Windows installer script
(``packaging/windows``) and the macOS ``Info.plist`` (``packaging/macos``) all take their ids,
types and descriptions from here, so an association can never name a type another file misspells.
"""

from __future__ import annotations

APP_NAME = "ONNX Inspector"
"""Shown to people: menus, the Start menu, the Dock."""

APP_ID = "onnx-inspector"
"""File-system id: the ``.desktop`` file's stem (it must equal ``QGuiApplication.desktopFileName``
so docks group the window under its entry), the icon name, the executable's name."""

DESKTOP_FILE = f"{APP_ID}.desktop"

GENERIC_NAME = "ONNX Model Viewer"
COMMENT = "See an ONNX model's graph, and what will go wrong with it, before you deploy it"
KEYWORDS = ("onnx", "neural network", "model", "graph", "inference")

MIME_TYPE = "application/x-onnx"
"""No registry assigns ONNX a MIME type; ``application/x-onnx`` is the one in common use."""

MIME_COMMENT = "ONNX model"
MIME_ICON = MIME_TYPE.replace("/", "-")
"""The icon-theme name file managers look up for the type (the spec's default for the type)."""

EXTENSIONS = ("onnx",)
"""Only ``.onnx``: the loader cannot read ONNX Runtime's ``.ort`` format, so claiming ``*.ort`` would
make a double-click open an error. ``.onnx.data`` (external weights) is not a model either."""

WINDOWS_PROGID = "OnnxInspector.Model.1"
"""Windows' ProgID (``Program.Component.Version``) for the ``.onnx`` association."""

MACOS_BUNDLE_ID = "io.github.onnx-inspector"
MACOS_UTI = "ai.onnx.model"
"""No system UTI exists for ONNX; this one is imported (declared as owned by onnx.ai, not us)."""

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
"""The sizes of ``resources/icons/onnx-inspector-N.png``: hicolor's usual set, and the sizes the
Windows ``.ico`` and macOS ``.icns`` are assembled from."""


def icon_png_name(size: int) -> str:
    """The file name of the pre-rendered PNG icon of ``size`` pixels in ``resources/icons/``."""
    return f"{APP_ID}-{size}.png"
