"""How a collapsed layer group is painted: a folder with its name large, its counts and what it
holds (the box layer calls these for ``BoxKind.GROUP`` boxes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPen

from inspector.core.collapse import (
    GROUP_BODY_PX,
    GROUP_LINE_H,
    GROUP_TITLE_H,
    GROUP_TITLE_PX,
    TAB_H,
)
from inspector.core.diagram import PAD_X, PAD_Y
from inspector.scene.drawn_text import TextRecord
from inspector.scene.palette import Palette

if TYPE_CHECKING:
    from inspector.scene.scene import GraphScene

RADIUS = 4.0
#: Text smaller than this on screen is a smear: a group's name and counts are drawn from here.
MIN_TEXT_PX = 5.0


def paint_folder(painter: QPainter, pal: Palette, rect: QRectF, c: int) -> None:
    """A collapsed group: a folder (a tab over a plain body with a coloured name band), unlike
    any node box, outlined thicker."""
    x0, y0, x1, y1 = rect.left(), rect.top(), rect.right(), rect.bottom()
    pen = QPen(pal.border[c], 2.0)
    pen.setCosmetic(True)
    tab_w = min(72.0, (x1 - x0) * 0.4)
    top = y0 + TAB_H
    band = top + PAD_Y + GROUP_TITLE_H
    painter.setPen(pen)
    painter.setBrush(pal.fill[c])
    painter.drawRoundedRect(QRectF(x0, y0, tab_w, TAB_H + 2 * RADIUS), RADIUS, RADIUS)
    painter.setBrush(pal.body)
    body = QRectF(x0, top, x1 - x0, y1 - top)
    painter.drawRoundedRect(body, RADIUS, RADIUS)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(pal.fill[c])
    painter.drawRect(QRectF(x0 + 1, top + 1, x1 - x0 - 2, band - top - 1))
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(body, RADIUS, RADIUS)


def paint_group_text(
    painter: QPainter,
    s: GraphScene,
    ids: np.ndarray,
    lod: float,
    record: TextRecord | None,
) -> None:
    """Group names (and, when big enough, their other lines): drawn at any zoom where they are
    at least ``MIN_TEXT_PX`` on screen, so a fitted collapsed model is never textless. Each line
    drawn is noted in ``record``."""
    title_px, body_px = GROUP_TITLE_PX * lod, GROUP_BODY_PX * lod
    if not len(ids) or title_px < MIN_TEXT_PX:
        return
    fm_title = QFontMetricsF(s.group_title_font)
    fm_body = QFontMetricsF(s.group_body_font)
    top = TAB_H + PAD_Y
    t_off = top + (GROUP_TITLE_H + fm_title.ascent() - fm_title.descent()) / 2
    b_off = top + GROUP_TITLE_H + (GROUP_LINE_H + fm_body.ascent() - fm_body.descent()) / 2
    x0 = (s.bx0[ids] + PAD_X).tolist()
    y0 = s.by0[ids].tolist()
    painter.setFont(s.group_title_font)
    painter.setPen(s.palette.text)
    run = record.begin(painter, s.group_title_font) if record is not None else None
    for i, x, y in zip(ids.tolist(), x0, y0, strict=True):
        text = s.elided_lines(i)[0][0]
        painter.drawText(QPointF(x, y + t_off), text)
        if run is not None:
            run.at(text, x, y + t_off)
    if body_px < MIN_TEXT_PX:
        return
    painter.setFont(s.group_body_font)
    painter.setPen(s.palette.body_text)
    run = record.begin(painter, s.group_body_font) if record is not None else None
    for i, x, y in zip(ids.tolist(), x0, y0, strict=True):
        for k, (text, _) in enumerate(s.elided_lines(i)[1:]):
            painter.drawText(QPointF(x, y + b_off + k * GROUP_LINE_H), text)
            if run is not None:
                run.at(text, x, y + b_off + k * GROUP_LINE_H)
