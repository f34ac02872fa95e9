"""Screenshot tests: views grabbed with Qt's own ``QWidget.grab()`` and compared with the goldens
in ``tests/ui/goldens/*.png``, allowing a small fraction of pixels to differ.

Each view is drawn at a fixed size with the DejaVu Sans font, and DejaVu Sans Mono for fixed-width
text (both pinned for the test), so the same pixels come out under Qt's offscreen platform and under
Xvfb, whatever other fonts are installed; a test is skipped, saying why, only where those fonts are
not. A pixel differs when one of its channels is off by more than
``PIXEL_THRESHOLD``; up to ``MAX_DIFFERING`` of the pixels may (text hinting and antialiasing
noise). On a failure the grabbed image and a difference mask are written next to the test's
``tmp_path`` and named in the message.

When a drawing changes on purpose (a badge's look, a palette, the window's docks), regenerate
every golden with one command and look at each PNG before committing it::

    INSPECTOR_UPDATE_GOLDENS=1 QT_QPA_PLATFORM=offscreen python -m pytest tests/ui/test_screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PySide6.QtCore import QSize
from PySide6.QtGui import QFont, QFontDatabase, QImage

from inspector.ui.graph_view import GraphView
from inspector.ui.panels import page
from inspector.ui.session import Selection
from tests.core.test_collapse import _group_boxes, layered_model
from tests.ui.window_driving import open_and_wait

GOLDENS = Path(__file__).parent / "goldens"
UPDATE = os.environ.get("INSPECTOR_UPDATE_GOLDENS") == "1"
FONT = "DejaVu Sans"
FIXED_FONT = "DejaVu Sans Mono"
#: A channel off by more than this makes the pixel differ (hinting noise stays well under it).
PIXEL_THRESHOLD = 48
#: The fraction of pixels that may differ.
MAX_DIFFERING = 0.001
VIEW_SIZE = QSize(720, 480)


@pytest.fixture(autouse=True)
def pinned_font(qapp, monkeypatch):
    """The application font (the window's and the graph's text) pinned to DejaVu Sans 9 pt, and
    the pages' fixed-width text to DejaVu Sans Mono (what "monospace" resolves to depends on the
    fonts installed: with fonts-noto-mono, a different line height)."""
    for family in (FONT, FIXED_FONT):
        if family not in QFontDatabase.families():
            pytest.skip(f"the goldens are drawn with {family}, which is not installed here")
    monkeypatch.setattr(page, "fixed_family", lambda: FIXED_FONT)
    before = qapp.font()
    qapp.setFont(QFont(FONT, 9))
    yield
    qapp.setFont(before)


def pixels(image: QImage) -> np.ndarray:
    """(h, w, 4) uint8 BGRA, copied out of ``image``."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    return rows[:, : image.width() * 4].reshape(image.height(), image.width(), 4).copy()


def assert_matches_golden(image: QImage, name: str, tmp_path: Path) -> None:
    golden_path = GOLDENS / f"{name}.png"
    if UPDATE:
        GOLDENS.mkdir(exist_ok=True)
        assert image.save(str(golden_path))
        pytest.skip(f"wrote {golden_path}: look at it before committing it")
    assert golden_path.exists(), (
        f"no golden {golden_path.name}; make it with INSPECTOR_UPDATE_GOLDENS=1 (module docstring)"
    )
    got, want = pixels(image), pixels(QImage(str(golden_path)))
    actual = tmp_path / f"{name}.actual.png"
    if got.shape != want.shape:
        image.save(str(actual))
        pytest.fail(f"{name}: {got.shape[1]}×{got.shape[0]} px, golden {want.shape[1]}×"
                    f"{want.shape[0]}; grabbed image in {actual}")  # fmt: skip
    differs = (np.abs(got.astype(int) - want.astype(int))[..., :3] > PIXEL_THRESHOLD).any(axis=2)
    share = float(differs.mean())
    if share > MAX_DIFFERING:
        image.save(str(actual))
        mask = np.where(differs[..., None], [0, 0, 255, 255], [255, 255, 255, 255]).astype(np.uint8)
        diff_path = tmp_path / f"{name}.diff.png"
        QImage(mask.tobytes(), mask.shape[1], mask.shape[0], QImage.Format.Format_RGB32).save(
            str(diff_path)
        )
        pytest.fail(
            f"{name}: {share:.2%} of pixels differ from the golden (allowed {MAX_DIFFERING:.2%});"
            f" grabbed image {actual}, differing pixels in red in {diff_path}"
        )


def grab_scene(qtbot, scene, zoom: float | None = 1.0, box: int | None = None) -> QImage:
    """The scene (with the overlays the window set on it) in a view of its own, ``VIEW_SIZE``,
    without the minimap, so independent of the window's docks: at ``zoom`` (None: fitted),
    centred on ``box`` or else on the drawing."""
    view = GraphView()
    qtbot.addWidget(view)
    view.minimap.set_wanted(False)
    view.resize(VIEW_SIZE)
    view.setScene(scene)
    view.show()
    qtbot.waitExposed(view)
    if zoom is None:
        view.fit_to_window()
    else:
        view.set_zoom(zoom)
        view.centerOn(scene.drawing_rect.center() if box is None else scene.box_center(box))
    return view.grab().toImage()


def findings_model(folder: Path) -> Path:
    """Findings of each severity on boxes and edges: an op no runtime has (error), an Add whose
    input type is unknown (warning), a graph output declared float32 that is not (error on the
    box and on the edge), and a fixed batch dim from input ``z`` to output ``w`` (info)."""
    f = TensorProto.FLOAT
    nodes = [
        helper.make_node("Frobnicate", ["x"], ["a"], name="frob", domain="com.example"),
        helper.make_node("Cast", ["x"], ["xi"], name="to_int", to=TensorProto.INT64),
        helper.make_node("Add", ["a", "xi"], ["s"], name="mixed_add"),
        helper.make_node("Relu", ["s"], ["y"], name="relu"),
        helper.make_node("Sigmoid", ["z"], ["w"], name="gate"),
    ]
    graph = helper.make_graph(
        nodes,
        "badges",
        [helper.make_tensor_value_info(n, f, [4, 8]) for n in ("x", "z")],
        [helper.make_tensor_value_info(n, f, [4, 8]) for n in ("y", "w")],
    )
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)]
    path = folder / "badges.onnx"
    onnx.save(helper.make_model(graph, opset_imports=opsets), path)
    return path


def test_findings_badges(qtbot, window, tmp_path: Path) -> None:
    view = open_and_wait(qtbot, window, findings_model(tmp_path), checked=True)
    qtbot.waitUntil(lambda: len(view.scene.box_overlay) >= 2)
    assert_matches_golden(grab_scene(qtbot, view.scene), "findings_badges", tmp_path)


def test_dark_theme_window(qtbot, window, tmp_path: Path) -> None:
    """The whole window in the dark theme, a node selected (the Properties panel then shows the
    node, not the file's temporary path)."""
    view = open_and_wait(qtbot, window, findings_model(tmp_path), checked=True)
    try:
        window.set_theme("dark")
        qtbot.waitUntil(lambda: view.scene.palette.background.lightness() < 128)
        add = next(n.index for n in view.document.model.graph.nodes if n.op_type == "Add")
        window.session.select(view.doc_id, Selection("node", add))
        qtbot.waitUntil(lambda: view.scene.selected_box is not None)
        view.view.fit_to_window()
        window.statusBar().clearMessage()  # "badges.onnx: 5 nodes" stays 5 s: gone or not
        assert_matches_golden(window.grab().toImage(), "dark_theme_window", tmp_path)
    finally:
        window.set_theme("system")  # the application palette outlives the window


def transformer(folder: Path) -> Path:
    """60 layers named as the TorchScript exporter names them (``/layers.i/attn/MatMul``): big
    enough that the window opens it collapsed."""
    path = folder / "transformer.onnx"
    onnx.save(layered_model(60), path)
    return path


def test_collapsed_transformer(qtbot, window, tmp_path: Path) -> None:
    view = open_and_wait(qtbot, window, transformer(tmp_path))
    view.collapse_all()
    groups = _group_boxes(view.document.current.diagram)
    assert set(groups) == {"embed", "layers.0", "layers.1–59 ×59", "head"}
    assert_matches_golden(
        grab_scene(qtbot, view.scene, zoom=None), "collapsed_transformer", tmp_path
    )


def test_expanded_layer(qtbot, window, tmp_path: Path) -> None:
    """layers.0 opened down to its ops, beside the closed fold of the other 59."""
    view = open_and_wait(qtbot, window, transformer(tmp_path))
    view.collapse_all()
    view.expand_group(_group_boxes(view.document.current.diagram)["layers.0"])
    for name in ("attn", "mlp"):
        view.expand_group(_group_boxes(view.document.current.diagram)[name])
    diagram = view.document.current.diagram
    assert {"embed", "layers.1–59 ×59", "head"} == set(_group_boxes(diagram))
    softmax = next(n.index for n in diagram.graph.nodes if n.name == "/layers.0/attn/Softmax")
    box = int(diagram.node_box[softmax])
    assert_matches_golden(grab_scene(qtbot, view.scene, box=box), "expanded_layer", tmp_path)
