"""Render a whole graph to image files, with the same painting as the window, readable whatever
its shape.

The rule: every box's title (its op type) is drawn at least ``MIN_LABEL_PX`` pixels tall, so the
drawing is never fitted into ``width`` by shrinking it to coloured boxes. A graph that fits
``width`` at that size is drawn whole, its height following the graph. One that does not is cut
into pieces where the cuts cross the fewest boxes (a box a cut crosses is drawn whole on both
sides, the pieces overlapping by it):

- a wide graph into vertical strips at most ``width`` px wide, stacked top to bottom, each as
  tall as the boxes it holds;
- a tall, narrow graph (a deep chain) into bands placed side by side, like newspaper columns,
  read left to right;

and the pieces flow into pages of at most ``MAX_HEIGHT`` px: ``OUT.png``, then ``OUT-2.png``,
``OUT-3.png``, … when they need more (an SVG is always one file). A dashed line marks each cut.

Each piece is painted in slices of about ``SLICE_AREA`` px², so the layers' budgets (no text on
more than a screenful of boxes) apply per slice, as they do per frame in the window. Every text
the layers draw is noted in one :class:`~inspector.scene.drawn_text.TextRecord` (the record a
view's paint keeps too) and read back with its on-image size and position
(:class:`~inspector.scene.drawn_text.DrawnLabel`): the renderer's own account of what the image
shows, which the tests check legibility against.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QPaintDevice,
    QPainter,
    QPen,
)
from PySide6.QtWidgets import QApplication, QStyleOptionGraphicsItem

from inspector.core.collapse import MIN_LABEL_PX as WINDOW_MIN_LABEL_PX
from inspector.core.diagram import Diagram
from inspector.core.layout import Layout
from inspector.core.text import printable
from inspector.scene.drawn_text import DrawnLabel, TextRecord
from inspector.scene.items import CLOSE_BUDGET
from inspector.scene.palette import palette_for
from inspector.scene.scene import GraphScene

#: Tallest image written: ImageMagick's default policy refuses more than 16K px, and beyond
#: 32K PNG viewers and QImage itself (2 GB) give up.
MAX_HEIGHT = 16_000
#: A small graph is not blown up past this zoom to fill ``width``.
MAX_SCALE = 2.0
#: Height over width of the page a graph is fitted into when that keeps it readable (a taller
#: one is set in columns); ``render --depth``'s default depth is chosen for the same page.
PAGE_ASPECT = 2.0
#: Smallest on-image size of a box's title, in pixels: the zoom never goes below what gives it.
#: One pixel above the window's readable size: an image is read without zooming in.
MIN_LABEL_PX = WINDOW_MIN_LABEL_PX + 1.0
#: Most image area drawn readably (ten 1600×16,000 pages): a bigger graph (a 20k-node chain takes
#: 212 Mpx, ~45 s) is fitted into one image instead, as :attr:`Rendering.legible` says.
MAX_AREA = 10 * 1600 * MAX_HEIGHT
#: Pixels between two pieces of a cut drawing (a thin line runs down the middle).
PIECE_GAP = 24
#: Area of one painting call, in image pixels (a slice is halved while it holds too many boxes).
SLICE_AREA = 1600 * 1024
#: How far (scene units) a cut keeps from a box's edge: its outline, selection and badge.
CUT_MARGIN = 8.0
#: Room (scene units) kept above and below the boxes of a strip of a wide graph: the arrowheads
#: into them and the edge labels under them.
TRIM_MARGIN = 28.0

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


@dataclass(frozen=True)
class Piece:
    """One rectangle of the scene, drawn on ``page`` with its top-left corner at ``(x, y)`` px."""

    source: QRectF
    page: int
    x: int
    y: int


@dataclass
class Rendering:
    """What :func:`render_scene` wrote: the files, the zoom, the pieces and every text drawn."""

    files: list[Path]
    scale: float
    pieces: list[Piece]
    legible: bool  # titles are at least MIN_LABEL_PX tall (else the graph was too big for that)
    labels: list[DrawnLabel] = field(default_factory=list)


# ----------------------------------------------------------------------------------- planning


def _spans(
    lo: np.ndarray, hi: np.ndarray, start: float, end: float, limit: float
) -> list[tuple[float, float]]:
    """Intervals covering ``start``..``end``, each at most ``limit`` long, for boxes spanning
    ``lo``..``hi`` on this axis. Each cut is placed where it crosses the fewest boxes (the
    furthest such place in reach); a box it still crosses is drawn whole on both sides of it,
    the two intervals overlapping by that box."""
    if end - start <= limit:
        return [(start, end)]
    widest = float((hi - lo).max()) + 2 * CUT_MARGIN if len(lo) else 0.0
    # Cut early enough that a crossed box still fits whole before the limit.
    reach = limit - widest if limit - widest >= limit / 2 else limit
    candidates = np.unique(np.concatenate([hi + CUT_MARGIN, lo - CUT_MARGIN]))
    candidates = candidates[(candidates > start) & (candidates < end)]
    # A box is crossed by c when lo < c < hi: those starting before c less those ended by c.
    crossed = np.searchsorted(np.sort(lo), candidates, "left") - np.searchsorted(
        np.sort(hi), candidates, "right"
    )
    spans = []
    pos = start
    while end - pos > limit:
        a, b = np.searchsorted(candidates, [pos + reach / 2, pos + reach], side="right")
        if a == b:  # no box edge within reach
            cut = pos + reach
        else:
            window = crossed[a:b]
            cut = float(candidates[a + int(np.flatnonzero(window == window.min())[-1])])
        through = (lo < cut) & (hi > cut)
        if through.any():
            spans.append((pos, min(pos + limit, float(hi[through].max()) + CUT_MARGIN)))
            pos = max(pos + reach / 2, float(lo[through].min()) - CUT_MARGIN)
        else:
            spans.append((pos, cut))
            pos = cut
    spans.append((pos, end))
    return spans


def plan_pieces(
    scene: GraphScene, width: int, max_height: float = MAX_HEIGHT
) -> tuple[float, list[Piece], list[QSize]]:
    """The zoom, the pieces of the scene in reading order and the size of each page, for an
    image ``width`` px wide whose titles are at least ``MIN_LABEL_PX`` tall."""
    src = scene.sceneRect()
    sw, sh = max(src.width(), 1.0), max(src.height(), 1.0)
    min_scale = MIN_LABEL_PX / scene.title_font.pixelSize()
    # Fitted into a page as wide as ``width`` and PAGE_ASPECT times as tall, if that is readable.
    scale = max(min(width / sw, PAGE_ASPECT * width / sh, MAX_SCALE), min_scale)
    if sw * sh * scale * scale > MAX_AREA:
        # Readable would take more than about ten images: the whole graph fitted into one.
        scale = min(width / sw, MAX_HEIGHT / sh, MAX_SCALE)
        size = QSize(max(1, math.ceil(sw * scale)), max(1, math.ceil(sh * scale)))
        return scale, [Piece(QRectF(src), 0, 0, 0)], [size]
    w_px, h_px = sw * scale, sh * scale
    if w_px <= width:
        xspans = [(src.left(), src.right())]
        # Columns for a drawing taller than the page: as many as fit, no more than it needs.
        fit = int((width + PIECE_GAP) // (w_px + PIECE_GAP))
        columns = max(1, min(fit, math.ceil(h_px / (PAGE_ASPECT * width))))
    else:
        xspans = _spans(scene.bx0, scene.bx1, src.left(), src.right(), width / scale)
        columns = 1
    band = min(max_height, h_px / columns)
    yspans = _spans(scene.by0, scene.by1, src.top(), src.bottom(), band / scale)
    # Cutting between boxes makes bands a little shorter than the share: grow it until the
    # bands fit the columns (bounded: 1.05**30 is over four times the share).
    for _ in range(30):
        if len(yspans) <= columns or band >= max_height:
            break
        band = min(max_height, band * 1.05)
        yspans = _spans(scene.by0, scene.by1, src.top(), src.bottom(), band / scale)

    pieces: list[Piece] = []
    sizes: list[QSize] = []
    page = x = y = row_h = 0
    page_w = page_h = 0
    for band_y0, band_y1 in yspans:  # band by band: the graph's top first
        for x0, x1 in xspans:
            y0, y1 = band_y0, band_y1
            if len(xspans) > 1:
                y0, y1 = _trimmed(scene, x0, x1, y0, y1)
            # less a hair, so float error does not add a pixel column past ``width``
            pw, ph = math.ceil((x1 - x0) * scale - 1e-6), math.ceil((y1 - y0) * scale - 1e-6)
            if x > 0 and x + pw > width:  # next row
                x, y, row_h = 0, y + row_h + PIECE_GAP, 0
            if y > 0 and y + ph > max_height:  # next page
                sizes.append(QSize(page_w, page_h))
                page, x, y, row_h, page_w, page_h = page + 1, 0, 0, 0, 0, 0
            pieces.append(Piece(QRectF(x0, y0, x1 - x0, y1 - y0), page, x, y))
            page_w, page_h = max(page_w, x + pw), max(page_h, y + ph)
            x, row_h = x + pw + PIECE_GAP, max(row_h, ph)
    sizes.append(QSize(max(1, page_w), max(1, page_h)))
    return scale, pieces, sizes


def _trimmed(scene: GraphScene, x0: float, x1: float, y0: float, y1: float) -> tuple[float, float]:
    """``y0``..``y1`` narrowed to the boxes a strip ``x0``..``x1`` holds, and ``TRIM_MARGIN``
    around them: a strip of a wide graph holds one row of it (its 167 outputs, say), and drawn
    at the whole graph's height it would be mostly empty. Edges from outside the strip enter at
    its edge, as they do at a cut."""
    inside = (scene.bx1 > x0) & (scene.bx0 < x1) & (scene.by1 > y0) & (scene.by0 < y1)
    if not inside.any():
        return y0, y1
    top = float(scene.by0[inside].min()) - TRIM_MARGIN
    bottom = float(scene.by1[inside].max()) + TRIM_MARGIN
    return max(y0, top), min(y1, bottom)


# ----------------------------------------------------------------------------------- painting


def _paint_piece(
    painter: QPainter,
    record: TextRecord,
    scene: GraphScene,
    piece: Piece,
    scale: float,
    size: QSize,
) -> None:
    """Paint ``piece`` slice by slice, calling each layer as the scene would, with an exposed
    rectangle of just that slice (``QGraphicsScene.render`` exposes the whole item); the layers
    note their text in ``record``."""
    src = piece.source
    w_px = min(math.ceil(src.width() * scale), size.width() - piece.x)
    h_px = min(math.ceil(src.height() * scale), size.height() - piece.y)
    record.piece = QRectF(piece.x, piece.y, w_px, h_px)
    items = sorted((i for i in scene.items() if i.isVisible()), key=lambda i: i.zValue())
    option = QStyleOptionGraphicsItem()
    top = 0
    while top < h_px:
        step = max(64, SLICE_AREA // max(w_px, 1))
        while True:
            s0 = src.top() + top / scale
            s1 = min(src.bottom(), src.top() + (top + step) / scale)
            count = len(scene.box_grid.query(src.left(), s0, src.right(), s1))
            if count <= CLOSE_BUDGET or step <= 64:
                break
            step //= 2
        step = min(step, h_px - top)
        painter.save()
        painter.setClipRect(QRectF(piece.x, piece.y + top, w_px, step))
        painter.translate(piece.x, piece.y)
        painter.scale(scale, scale)
        painter.translate(-src.left(), -src.top())
        option.exposedRect = QRectF(src.left(), s0, src.width(), s1 - s0)
        for item in items:
            painter.save()
            painter.setTransform(item.sceneTransform(), True)
            item.paint(painter, option, None)
            painter.restore()
        painter.restore()
        top += step


def _paint_cut_lines(
    painter: QPainter, scene: GraphScene, pieces: list[Piece], scale: float
) -> None:
    """A thin line in the gap after each piece that has a neighbour on its right or below."""
    color = QColor(scene.palette.edge)
    color.setAlpha(110)
    painter.setPen(QPen(color, 1, Qt.PenStyle.DashLine))
    for a, b in itertools.pairwise(pieces):
        if a.page != b.page:
            continue
        if b.y == a.y:  # side by side
            x = b.x - PIECE_GAP / 2
            painter.drawLine(QPointF(x, a.y), QPointF(x, a.y + a.source.height() * scale))
        else:  # b starts the next row
            y = b.y - PIECE_GAP / 2
            painter.drawLine(QPointF(0, y), QPointF(a.x + a.source.width() * scale, y))


def _write_pages(
    scene: GraphScene, out: Path, scale: float, pieces: list[Piece], sizes: list[QSize], title: str
) -> Rendering:
    # The first page keeps the name asked for, so OUT.png always exists; more are OUT-2.png, …
    files = [out] + [out.with_name(f"{out.stem}-{k}{out.suffix}") for k in range(2, len(sizes) + 1)]
    legible = scale * scene.title_font.pixelSize() >= MIN_LABEL_PX - 1e-9
    result = Rendering(files, scale, pieces, legible)
    record = TextRecord()  # every layer notes its text here while the pages are painted
    scene.text_record = record
    try:
        _paint_pages(scene, record, files, scale, pieces, sizes, title)
    finally:
        scene.text_record = None
    result.labels = record.labels()
    return result


def _paint_pages(
    scene: GraphScene,
    record: TextRecord,
    files: list[Path],
    scale: float,
    pieces: list[Piece],
    sizes: list[QSize],
    title: str,
) -> None:
    background = scene.palette.background
    for page, (path, size) in enumerate(zip(files, sizes, strict=True)):
        on_page = [p for p in pieces if p.page == page]
        whole = QRectF(0, 0, size.width(), size.height())
        if path.suffix.lower() == ".svg":
            from PySide6.QtSvg import QSvgGenerator  # only SVG export needs the QtSvg module

            device: QPaintDevice = QSvgGenerator()
            device.setFileName(str(path))
            device.setSize(size)
            device.setViewBox(whole)
            device.setTitle(title or "graph")  # XML allows no control characters: printable
        else:
            # Opaque: a tenth smaller as PNG than with an alpha channel, and as fast to paint.
            device = QImage(size, QImage.Format.Format_RGB32)
            device.fill(background)
        painter = QPainter(device)
        if not painter.isActive():  # an SVG file that cannot be opened: stop before painting
            raise OSError(f"could not write {path}")
        record.page = page
        painter.fillRect(whole, background)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        for piece in on_page:
            _paint_piece(painter, record, scene, piece, scale, size)
        _paint_cut_lines(painter, scene, on_page, scale)
        if not painter.end():
            raise OSError(f"could not write {path}")
        if isinstance(device, QImage) and not device.save(str(path)):
            raise OSError(f"could not write {path}")


def render_scene(
    scene: GraphScene, out_path: str | Path, width: int = 1600, max_height: int = MAX_HEIGHT
) -> Rendering:
    """Draw the whole of ``scene`` readably (see the module's docstring) into ``out_path`` (PNG,
    or SVG if it ends in ``.svg``), followed by ``OUT-2.png``, ``OUT-3.png``, … when it needs more
    than one page of ``max_height`` px; say what was written and drawn.

    Limits: a huge graph makes many pages (a 100k-node model: about twenty of 1600×32000 px,
    ~200 MB of memory each while painted); an SVG is one file, holding one element per box, text
    and edge segment, and can be hundreds of MB. Edge labels and badges are drawn at their
    window size times the zoom (from ~7 px), and may be cut where a cut runs through them.
    """
    _ensure_app()
    out = Path(out_path)
    svg = out.suffix.lower() == ".svg"
    scale, pieces, sizes = plan_pieces(scene, width, math.inf if svg else max_height)
    return _write_pages(scene, out, scale, pieces, sizes, printable(scene.diagram.graph.name))


def render_graph(
    diagram: Diagram, layout: Layout, out_path: str | Path, width: int = 1600, dark: bool = False
) -> Rendering:
    """Draw ``diagram`` placed by ``layout`` with :func:`render_scene` (light or dark palette).

    Creates a QApplication if none exists; on Linux without a display it uses Qt's offscreen
    platform.
    """
    _ensure_app()
    return render_scene(GraphScene(diagram, layout, palette_for(dark)), out_path, width)


def render_to_file(
    diagram: Diagram, layout: Layout, out_path: str | Path, width: int = 1600, dark: bool = False
) -> Path:
    """:func:`render_graph`, returning ``out_path`` (the first page, if there are several)."""
    return render_graph(diagram, layout, out_path, width, dark).files[0]


def image_path_problem(out: Path, named_as_folder: bool = False) -> str:
    """What stops an image being written at ``out`` (one line: what is wrong and what to do),
    or "": the one check of the window's Export Image and of ``render -o`` (``named_as_folder``:
    the path was typed with a trailing separator)."""
    if named_as_folder or out.is_dir():
        return f"'{out}' names a folder; name an image file, e.g. {out / 'graph.png'}"
    if out.suffix.lower() not in (".png", ".svg"):
        return f"cannot write '{out.name}': the name must end in .png or .svg (PNG or SVG only)"
    if not out.parent.exists():
        return f"cannot write '{out}': folder '{out.parent}' does not exist"
    if not out.parent.is_dir():
        return f"cannot write '{out}': '{out.parent}' is a file, not a folder"
    return ""


def paint_to_file(
    scene: GraphScene, source: QRectF, out_path: str | Path, scale: float, title: str = ""
) -> Path:
    """Paint the ``source`` rectangle of ``scene`` at ``scale`` into ``out_path`` (PNG, or SVG if
    it ends in ``.svg``), as one image: the window's Export Image of what it shows."""
    out = Path(out_path)
    size = QSize(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)))
    return _write_pages(scene, out, scale, [Piece(source, 0, 0, 0)], [size], title).files[0]
