"""`render` is readable whatever the graph's shape: every node's op type is drawn whole, at least
``MIN_LABEL_PX`` tall, in an image no wider than asked.

Checked from the renderer's own record of every text it drew (``Rendering.labels``: text, size
on the image, position), matched to the boxes by scene position, and against the pixels: each
recorded title's rectangle on the written image holds text-coloured pixels.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PySide6.QtGui import QImage

from inspector.cli import main as cli_main
from inspector.core.diagram import BoxKind, draw_graph
from inspector.core.graph import Graph, Model, open_model
from inspector.scene import GraphScene, palette_for
from inspector.scene import render as render_module
from inspector.scene.render import MAX_HEIGHT, MIN_LABEL_PX, Rendering, render_scene
from tests.model_zoo import build_helper_if_loop_function

LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"
UNARY = ["Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Softplus", "HardSwish", "LeakyRelu"]


def wide_model(n: int) -> onnx.ModelProto:
    """``n`` unary nodes side by side, all reading ``x``, each its own graph output."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    nodes = [helper.make_node(UNARY[i % 8], ["x"], [f"y{i}"], name=f"n{i}") for i in range(n)]
    outs = [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, [1, 8]) for i in range(n)]
    return helper.make_model(helper.make_graph(nodes, "wide", [x], outs))


def chain_model(n: int) -> onnx.ModelProto:
    """``n`` unary nodes one after the other."""
    x = helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 8])
    nodes = [helper.make_node(UNARY[i % 8], [f"t{i}"], [f"t{i + 1}"]) for i in range(n)]
    y = helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, [1, 8])
    return helper.make_model(helper.make_graph(nodes, "chain", [x], [y]))


def if_chain_model(n: int) -> onnx.ModelProto:
    """``n`` If nodes in a row; each branch reads ``x`` and the previous If's output from the
    outer scope (no inputs of its own)."""
    f = TensorProto.FLOAT
    x = helper.make_tensor_value_info("x", f, [1, 8])
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"]),
        helper.make_node("Greater", ["s", "zero"], ["c"]),
    ]
    prev = "x"
    for i in range(n):
        branches = [
            helper.make_graph(
                [helper.make_node(op, [prev, "x"], [f"{tag}{i}"])],
                f"{tag}_branch_{i}",
                [],
                [helper.make_tensor_value_info(f"{tag}{i}", f, [1, 8])],
            )
            for tag, op in (("then", "Add"), ("else", "Mul"))
        ]
        nodes.append(
            helper.make_node(
                "If", ["c"], [f"if{i}"], then_branch=branches[0], else_branch=branches[1]
            )
        )
        prev = f"if{i}"
    zero = helper.make_tensor("zero", f, [], [0.0])
    y = helper.make_tensor_value_info(prev, f, [1, 8])
    graph = helper.make_graph(nodes, "ifs", [x], [y], initializer=[zero])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def load(tmp_path: Path, proto: onnx.ModelProto, name: str) -> Model:
    path = tmp_path / f"{name}.onnx"
    onnx.save(proto, path)
    return open_model(path)


def render(model: Model, graph: Graph, out: Path, **kwargs) -> tuple[GraphScene, Rendering]:
    drawn = draw_graph(model, graph)
    scene = GraphScene(drawn.diagram, drawn.layout, palette_for(False))
    return scene, render_scene(scene, out, **kwargs)


def image_array(path: Path) -> np.ndarray:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    # a copy: the view would outlive the QImage that owns the bytes
    return rows[:, : image.width() * 4].reshape(image.height(), image.width(), 4).copy()


def assert_op_types_legible(scene: GraphScene, rendering: Rendering, width: int = 1600) -> None:
    """Every node box has a recorded title equal to its op type, inside the box, whole on its
    image and at least ``MIN_LABEL_PX`` tall; and text pixels are where the record says."""
    d = scene.diagram
    nodes = np.flatnonzero(d.kind == BoxKind.NODE)
    assert len(nodes) > 0
    images = [image_array(f) for f in rendering.files]
    for pixels in images:
        assert pixels.shape[1] <= width and pixels.shape[0] <= MAX_HEIGHT
    titles: dict[tuple[str, int, int], list] = {}
    for label in rendering.labels:
        titles.setdefault((label.text, *map(int, label.scene_pos)), []).append(label)
    text_rgb = np.array(scene.palette.text.getRgb()[:3])
    for i in nodes.tolist():
        op = d.graph.nodes[int(d.ref[i])].op_type
        found = [
            label
            for (text, x, y), labels in titles.items()
            if text == op
            and scene.bx0[i] <= x <= scene.bx1[i]
            and scene.by0[i] <= y <= scene.by1[i]
            for label in labels
        ]
        assert found, f"box {i} ({op}): its op type was not drawn"
        whole = [label for label in found if label.whole]  # a box a cut crosses is drawn twice
        assert whole, f"box {i} ({op}): its title is cut"
        label = whole[0]
        assert label.px >= MIN_LABEL_PX, f"box {i} ({op}): {label.px:.1f} px"
        x, y, w, h = (round(v) for v in label.rect)
        patch = images[label.page][y : y + h, x : x + w, 2::-1].astype(int)  # BGRA → RGB
        near = np.abs(patch - text_rgb).sum(axis=2) < 160
        assert near.sum() >= len(op), f"box {i} ({op}): no text pixels where it was drawn"


def test_wide_flat_graph_is_cut_into_strips(qapp, tmp_path: Path) -> None:
    model = load(tmp_path, wide_model(167), "wide")
    scene, rendering = render(model, model.graph, tmp_path / "wide.png")
    assert rendering.files == [tmp_path / "wide.png"]  # one image: strips stacked
    assert rendering.legible
    assert len({p.source.left() for p in rendering.pieces}) > 1
    assert_op_types_legible(scene, rendering)


def test_deep_chain_is_set_in_columns(qapp, tmp_path: Path) -> None:
    model = load(tmp_path, chain_model(2000), "chain")
    scene, rendering = render(model, model.graph, tmp_path / "chain.png")
    assert rendering.files == [tmp_path / "chain.png"]
    columns = {p.x for p in rendering.pieces}
    assert len(columns) >= 8  # side by side, not one 140,000 px strip
    assert_op_types_legible(scene, rendering)


def test_if_model_and_its_branches(qapp, tmp_path: Path) -> None:
    model = load(tmp_path, if_chain_model(60), "ifs")
    scene, rendering = render(model, model.graph, tmp_path / "ifs.png")
    assert_op_types_legible(scene, rendering)
    # the values the branches capture from the outer scope are drawn into each If: a chain
    d = scene.diagram
    for i in range(60):
        into = np.flatnonzero(d.edge_dst == d.node_box[2 + i])
        read = {d.edge_value[e] for e in into.tolist()}
        assert {"c", "x", "x" if i == 0 else f"if{i - 1}"} <= read, i
    branch = model.graph.nodes[2].subgraphs[0][1]
    scene, rendering = render(model, branch, tmp_path / "branch.png")
    assert_op_types_legible(scene, rendering)

    path = build_helper_if_loop_function(tmp_path / "if_loop.onnx")
    model = open_model(path)
    scene, rendering = render(model, model.graph, tmp_path / "if_loop.png")
    assert_op_types_legible(scene, rendering)


def test_cnn_with_no_gap_to_cut_through(qapp, tmp_path: Path) -> None:
    """The onnx wheel's ResNet-50 lays out 3,200 px wide with no clean vertical cut: boxes a cut
    crosses are drawn whole on both sides (the pieces overlap)."""
    model = open_model(LIGHT / "light_resnet50.onnx")
    scene, rendering = render(model, model.graph, tmp_path / "resnet.png")
    spans = sorted((p.source.left(), p.source.right()) for p in rendering.pieces)
    assert any(a[1] > b[0] for a, b in itertools.pairwise(spans))
    assert_op_types_legible(scene, rendering)


def test_pages_when_the_pieces_do_not_fit_one_image(qapp, tmp_path: Path) -> None:
    model = load(tmp_path, chain_model(300), "chain")
    scene, rendering = render(model, model.graph, tmp_path / "c.png", width=400, max_height=2000)
    assert len(rendering.files) > 1
    assert rendering.files[:2] == [tmp_path / "c.png", tmp_path / "c-2.png"]
    assert_op_types_legible(scene, rendering, width=400)


def test_too_big_to_read_is_fitted_into_one_image(qapp, tmp_path: Path, monkeypatch) -> None:
    """Past ``MAX_AREA`` (a 20k-node chain is near it) the render would be dozens of images: the
    whole graph is fitted into one, and ``legible`` says the titles are below the minimum."""
    model = load(tmp_path, chain_model(300), "chain")
    monkeypatch.setattr(render_module, "MAX_AREA", 1_000_000)
    _, rendering = render(model, model.graph, tmp_path / "c.png")
    assert rendering.files == [tmp_path / "c.png"] and len(rendering.pieces) == 1
    assert not rendering.legible
    assert QImage(str(rendering.files[0])).height() <= MAX_HEIGHT
    assert all(label.px < MIN_LABEL_PX for label in rendering.labels)


def test_svg_is_one_file_with_every_title(qapp, tmp_path: Path) -> None:
    model = load(tmp_path, chain_model(300), "chain")
    _, rendering = render(model, model.graph, tmp_path / "c.svg", width=400, max_height=2000)
    assert rendering.files == [tmp_path / "c.svg"]
    drawn = {label.text for label in rendering.labels if label.whole and label.px >= MIN_LABEL_PX}
    assert set(UNARY) <= drawn
    assert "Softplus" in (tmp_path / "c.svg").read_text()


def test_cli_writes_pages_and_lists_them(qapp, tmp_path: Path, capsys) -> None:
    path = tmp_path / "chain.onnx"
    onnx.save(chain_model(400), path)
    out = tmp_path / "g.png"
    assert cli_main(["render", str(path), "-o", str(out), "--width", "200", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    files = [Path(f) for f in report["files"]]
    assert len(files) == 2 and files[0] == out
    assert all(QImage(str(f)).height() <= MAX_HEIGHT for f in files)


def test_cli_never_writes_a_page_over_the_model(qapp, tmp_path: Path, capsys) -> None:
    path = tmp_path / "g-3.png"  # a model file named like the third page of OUT g.png
    onnx.save(chain_model(3), path)
    before = path.read_bytes()
    assert cli_main(["render", str(path), "-o", str(tmp_path / "g.png")]) == 2
    assert "refusing to overwrite the model file" in capsys.readouterr().err
    assert path.read_bytes() == before


@pytest.mark.parametrize("dark", [False, True])
def test_window_export_paints_through_the_same_slices(qapp, tmp_path: Path, dark: bool) -> None:
    from inspector.scene.render import paint_to_file

    model = load(tmp_path, chain_model(40), "chain")
    drawn = draw_graph(model, model.graph)
    scene = GraphScene(drawn.diagram, drawn.layout, palette_for(dark))
    out = paint_to_file(scene, scene.sceneRect(), tmp_path / "v.png", 1.0)
    image = QImage(str(out))
    assert image.width() == round(scene.sceneRect().width())
    assert image.pixelColor(0, 0) == scene.palette.background


def test_a_view_and_a_render_keep_one_record_of_their_text(qtbot, tmp_path: Path) -> None:
    """Box text, edge labels and badges are noted by the layers as they draw them, in one kind of
    record: a render lists them all, and a view at the render's zoom lists the same box text at
    the same on-screen size."""
    from inspector.ui.graph_view import GraphView

    model = load(tmp_path, chain_model(6), "chain")
    drawn = draw_graph(model, model.graph)
    scene = GraphScene(drawn.diagram, drawn.layout, palette_for(False))
    relu = next(i for i, lines in enumerate(scene.diagram.lines) if lines[0] == "Relu")
    scene.set_box_overlay({relu: ("error", "some-code: a finding")})
    rendering = render_scene(scene, tmp_path / "c.png")
    assert scene.text_record is None  # the render's record is let go of when it is done
    by_text: dict[str, set[float]] = {}
    for label in rendering.labels:
        by_text.setdefault(label.text, set()).add(round(label.px, 3))
    assert "some-code" in by_text  # the badge
    assert "float32[1,8]" in by_text  # an edge label
    assert set(UNARY[:6]) <= set(by_text)

    view = GraphView()
    qtbot.addWidget(view)
    view.minimap.set_wanted(False)
    view.resize(900, 1400)
    view.setScene(scene)
    view.show()
    qtbot.waitExposed(view)
    view.set_zoom(rendering.scale)
    view.centerOn(scene.drawing_rect.center())
    view.grab()  # a paint into the view
    painted = scene.painted_labels()
    assert {text for text, _ in painted} >= set(UNARY[:6])
    for text, px in painted:
        assert round(px, 3) in by_text[text], (text, px)
