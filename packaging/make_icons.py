"""Render resources/icon.svg to the icons the platforms need, into resources/icons/.

Run from the repository root after changing the SVG: ``python packaging/make_icons.py``. The
results are committed, so installing the desktop entry never needs Qt's SVG renderer, and the
Windows and macOS builds need no image tools.

Writes ``onnx-inspector-N.png`` for every size in ``identity.ICON_SIZES`` (Linux hicolor sizes),
``onnx-inspector.ico`` (Windows: 16–256 px) and ``onnx-inspector.icns`` (macOS: 16–512 px, with the
@2x variants). Both containers hold PNG images, which Windows Vista+ and macOS 10.7+ read; the
containers are written here by hand because Qt's writers store a single image per file.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inspector.desktop import identity  # noqa: E402

ICONS = ROOT / "resources" / "icons"
ICO_SIZES = tuple(s for s in identity.ICON_SIZES if s <= 256)  # the format's largest
# ICNS element types holding PNG data, by pixel size (the @2x types reuse the larger images).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
    (b"ic14", 512),
)


def render_png(svg: Path, size: int) -> bytes:
    """``svg`` drawn at ``size`` × ``size`` pixels, antialiased, on transparency, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding ``pngs`` (size → PNG bytes), smallest first."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, images = b"", b""
    for s in sizes:
        data = pngs[s]
        # width/height 0 means 256; 1 plane, 32 bits per pixel
        entries += struct.pack("<BBBBHHII", s % 256, s % 256, 0, 0, 1, 32, len(data), offset)
        images += data
        offset += len(data)
    return header + entries + images


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns holding ``pngs`` (size → PNG bytes) under the element types above."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    svg = ROOT / "resources" / "icon.svg"
    ICONS.mkdir(exist_ok=True)
    pngs = {size: render_png(svg, size) for size in identity.ICON_SIZES}
    for size, data in pngs.items():
        (ICONS / identity.icon_png_name(size)).write_bytes(data)
    (ICONS / f"{identity.APP_ID}.ico").write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    (ICONS / f"{identity.APP_ID}.icns").write_bytes(icns(pngs))
    print(f"wrote {len(pngs)} PNGs, an .ico and an .icns to {ICONS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
