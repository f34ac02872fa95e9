"""Render a whole graph to a PNG or SVG file, with the same painting as the window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QApplication

from inspector.core.diagram import Diagram
from inspector.core.layout import Layout
from inspector.core.text import printable
from inspector.scene.palette import palette_for
from inspector.scene.scene import GraphScene

#: Tallest image written: beyond this PNG viewers and QImage itself (2 GB) give up.
MAX_HEIGHT = 32_000
#: A small graph is not blown up past this zoom to fill ``width``.
MAX_SCALE = 2.0

_app: QApplication | None = None  # the application this module had to create, kept alive


def _ensure_app() -> None:
    global _app
    existing = QGuiApplication.instance()
    if existing is not None:
        if not isinstance(existing, QApplication):
            raise RuntimeError("render_to_file needs a QApplication, not a QGuiApplication")
        return
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # A QApplication, not a QGuiApplication: QGraphicsScene is a widgets class and crashes
    # without one.
    _app = QApplication([])


def render_to_file(
    diagram: Diagram, layout: Layout, out_path: str | Path, width: int = 1600, dark: bool = False
) -> Path:
    """Draw the whole graph into ``out_path`` (PNG, or SVG if it ends in ``.svg``), fitted into
    ``width`` pixels, and return the path.

    The level of detail is what the window shows at the same zoom: a big graph fitted into 1600
    px is coloured rectangles, a small one has every line of text.

    Limits: the zoom is capped at ``MAX_SCALE`` (a three-node graph is not drawn 1600 px wide),
    and at whatever keeps the height within ``MAX_HEIGHT`` px, so a very tall graph (a 100k-node
    model) comes out narrower than ``width`` rather than failing. An SVG of a huge graph holds
    one element per box and edge segment and can be hundreds of MB.

    Creates a QApplication if none exists; on Linux without a display it uses Qt's offscreen
    platform.
    """
    _ensure_app()
    palette = palette_for(dark)
    scene = GraphScene(diagram, layout, palette)
    source = scene.sceneRect()
    scale = min(width / max(source.width(), 1.0), MAX_SCALE, MAX_HEIGHT / max(source.height(), 1.0))
    return paint_to_file(scene, source, out_path, scale, printable(diagram.graph.name))


def paint_to_file(
    scene: GraphScene, source: QRectF, out_path: str | Path, scale: float, title: str = ""
) -> Path:
    """Paint the ``source`` rectangle of ``scene`` at ``scale`` into ``out_path`` (PNG, or SVG if
    it ends in ``.svg``): what :func:`render_to_file` and the window's Export Image both write."""
    out = Path(out_path)
    background = scene.palette.background
    size = QSize(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)))
    target = QRectF(0, 0, size.width(), size.height())
    if out.suffix.lower() == ".svg":
        from PySide6.QtSvg import QSvgGenerator  # only SVG export needs the QtSvg module

        generator = QSvgGenerator()
        generator.setFileName(str(out))
        generator.setSize(size)
        generator.setViewBox(target)
        generator.setTitle(title or "graph")  # XML allows no control characters: printable
        painter = QPainter(generator)
        painter.fillRect(target, background)
        scene.render(painter, target, source)
        if not painter.end():
            raise OSError(f"could not write {out}")
    else:
        image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(background)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        scene.render(painter, target, source)
        painter.end()
        if not image.save(str(out)):
            raise OSError(f"could not write {out}")
    return out
