"""One record of the text a paint drew: what the window's view and the ``render`` command both
read to answer "what text is on screen, and how big".

The layers draw their text themselves and note each line here as they draw it (the text, where
in scene units, under which font and transform), at the cost of a list append; sizes and
on-image rectangles are worked out only when the record is read. A view's box layer starts a
fresh record on each paint (:meth:`~inspector.scene.scene.GraphScene.painted_labels`); a render
hands one record to every layer for all its pages, slices and pieces (``Rendering.labels``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter, QTransform


@dataclass(frozen=True)
class DrawnLabel:
    """A text the layers drew: box titles and detail lines, edge labels, badges."""

    text: str
    px: float  # the font's pixel size on the image
    page: int
    rect: tuple[float, float, float, float]  # x, y, width, height on the page, in pixels
    scene_pos: tuple[float, float]  # the point it was drawn at, in scene units
    whole: bool  # it lies entirely inside its piece: no cut or image edge runs through it


_CENTRED = Qt.AlignmentFlag.AlignCenter


class TextRun:
    """The texts drawn with one font under one transform, on one page and piece."""

    __slots__ = ("font", "page", "piece", "texts", "transform")

    def __init__(self, font: QFont, transform: QTransform, page: int, piece: QRectF | None):
        self.font = font
        self.transform = transform
        self.page = page
        self.piece = piece
        # (text, x, y, box): a baseline's left end at (x, y), or centred in box (x, y, w, h)
        self.texts: list[tuple[str, float, float, tuple[float, float, float, float] | None]] = []

    def at(self, text: str, x: float, y: float) -> None:
        """Note ``text`` drawn with its baseline starting at ``(x, y)``."""
        self.texts.append((text, x, y, None))

    def centred(self, text: str, rect: QRectF) -> None:
        """Note ``text`` drawn centred in ``rect``."""
        self.texts.append((text, 0.0, 0.0, (rect.x(), rect.y(), rect.width(), rect.height())))

    @property
    def px(self) -> float:
        """The font's pixel size on screen (text height follows the y scale)."""
        f = self.font
        size = f.pixelSize() if f.pixelSize() > 0 else f.pointSizeF() * 96 / 72
        return size * math.hypot(self.transform.m21(), self.transform.m22())


class TextRecord:
    """The texts one paint (a view's frame, or a whole render) drew, run by run."""

    def __init__(self) -> None:
        self.page = 0  # set by a render for each page it paints
        self.piece: QRectF | None = None  # the piece being painted, in image pixels
        self.runs: list[TextRun] = []

    def begin(self, painter: QPainter, font: QFont) -> TextRun:
        """A run for the texts about to be drawn with ``font`` under the painter's transform."""
        run = TextRun(font, painter.worldTransform(), self.page, self.piece)
        self.runs.append(run)
        return run

    def sizes(self) -> list[tuple[str, float]]:
        """``(text, font size on screen in px)`` per text drawn, in drawing order."""
        out = []
        for run in self.runs:
            px = run.px
            out += [(t[0], px) for t in run.texts]
        return out

    def labels(self) -> list[DrawnLabel]:
        """Every text drawn, measured: its rectangle on the image and whether it is whole.
        A text drawn again at the same spot (the next slice of a render reaches into it) is
        listed once."""
        out: list[DrawnLabel] = []
        seen: set[tuple[int, str, int, int]] = set()
        metrics: dict[str, QFontMetricsF] = {}  # by QFont.key(): a few fonts, many texts
        for run in self.runs:
            key = run.font.key()
            fm = metrics.get(key)
            if fm is None:
                fm = metrics[key] = QFontMetricsF(run.font)
            px, t = run.px, run.transform
            piece = None if run.piece is None else run.piece.adjusted(-0.5, -0.5, 0.5, 0.5)
            for text, x, y, box in run.texts:
                if box is None:
                    local = QRectF(x, y - fm.ascent(), fm.horizontalAdvance(text), fm.height())
                    anchor = (x, y)
                else:
                    local = fm.boundingRect(QRectF(*box), int(_CENTRED), text)
                    anchor = (local.center().x(), local.center().y())
                on_image = t.mapRect(local)
                spot = (run.page, text, round(on_image.x()), round(on_image.y()))
                if spot in seen:
                    continue
                seen.add(spot)
                out.append(
                    DrawnLabel(
                        text=text,
                        px=px,
                        page=run.page,
                        rect=(on_image.x(), on_image.y(), on_image.width(), on_image.height()),
                        scene_pos=anchor,
                        whole=piece is None or piece.contains(on_image),
                    )
                )
        return out
