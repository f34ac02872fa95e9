"""Badges, edge labels and selection tell the truth and stay readable.

- one badge per finding (not one per edge of a tensor, nor again on the node's box), showing the
  finding's code in full, stacked error above warning above info, errors painted last;
- hovering a badge shows its finding's message and hint;
- no two drawn edge labels overlap (a Split's and a TopK's outputs all leave one point);
- the selection is drawn as a glow and a dashed ring, unlike a finding's solid outline.

Findings are the checks' own, on models built with onnx.helper; geometry is read from the
scene's own model of what it drew (``scene.badges``, ``edge_layer.drawn_labels``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PySide6.QtCore import QEvent, QPointF, QRectF
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QHelpEvent, QImage, QPainter
from PySide6.QtWidgets import QApplication, QToolTip

from inspector.core.diagram import draw_graph
from inspector.core.graph import open_model
from inspector.scene import GraphScene, palette_for
from inspector.scene.badges import MAX_STACK, OVERLAP, Anchor, Entry, layout_badges
from inspector.scene.drawn_text import TextRecord
from inspector.scene.items import CLOSE_LOD
from inspector.scene.labels import MAX_LABEL_PX
from tests.ui.window_driving import open_and_wait

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16
vi = helper.make_tensor_value_info


def _save(folder: Path, name: str, nodes, inputs, outputs, opsets) -> Path:
    g = helper.make_graph(nodes, name, inputs, outputs)
    path = folder / f"{name}.onnx"
    onnx.save(helper.make_model(g, opset_imports=opsets), path)
    return path


def findings_model(folder: Path) -> Path:
    """A dtype-mismatch on input ``b``'s edge into ``add_mixed``; a Sin named like the Relu
    (duplicate-node-name, error) on float16 (runtime-fallback, info); an op no runtime has."""
    return _save(
        folder,
        "findings",
        [
            helper.make_node("Add", ["a", "b"], ["s"], name="add_mixed"),
            helper.make_node("Relu", ["a"], ["r"], name="relu"),
            helper.make_node("Sin", ["b"], ["s16"], name="relu"),
            helper.make_node("Frobnicate", ["r"], ["fr"], name="frob", domain="com.example"),
            helper.make_node("Sum", ["s", "fr"], ["y"], name="sum"),
        ],
        [vi("a", F32, [8, 3]), vi("b", F16, [8, 3])],
        [vi("y", F32, [8, 3]), vi("s16", F16, [8, 3])],
        [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
    )


def fan_out_model(folder: Path) -> Path:
    """Input ``a`` (fixed batch 8: a fixed-batch-dim info on ``a`` at the Relu) feeds a Relu and
    an Add: one finding, two edges."""
    return _save(
        folder,
        "fan_out",
        [
            helper.make_node("Relu", ["a"], ["r"], name="relu"),
            helper.make_node("Neg", ["r"], ["n"], name="neg"),
            helper.make_node("Add", ["n", "a"], ["y"], name="add"),
        ],
        [vi("a", F32, [8, 3])],
        [vi("y", F32, [8, 3])],
        [helper.make_opsetid("", 17)],
    )


def split_model(folder: Path) -> Path:
    """A Split's three outputs and a TopK's two leave their boxes at one point each."""
    return _save(
        folder,
        "split",
        [
            helper.make_node("Split", ["x"], ["p0", "p1", "p2"], axis=1, num_outputs=3),
            helper.make_node("TopK", ["x", "k"], ["vals", "idx"], axis=1),
            helper.make_node("Relu", ["p0"], ["r0"]),
            helper.make_node("Relu", ["p1"], ["r1"]),
            helper.make_node("Relu", ["p2"], ["r2"]),
            helper.make_node("Cast", ["idx"], ["idxf"], to=F32),
            helper.make_node("Concat", ["r0", "r1", "r2", "vals", "idxf"], ["y"], axis=1),
        ],
        [vi("x", F32, [1, 6]), vi("k", TensorProto.INT64, [1])],
        [vi("y", F32, [1, None])],
        [helper.make_opsetid("", 18)],
    )


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def assert_off_other_boxes(scene: GraphScene) -> None:
    """No pill covers a box other than its own (read from the scene's own geometry)."""
    boxes = list(zip(scene.bx0.tolist(), scene.by0.tolist(), scene.bx1.tolist(),
                     scene.by1.tolist(), strict=True))  # fmt: skip
    for rect, text, (kind, at) in zip(
        scene.badges.rects.tolist(), scene.badges.text, scene.badges.place, strict=True
    ):
        for b, box in enumerate(boxes):
            if (kind, b) != ("box", at):
                assert not _overlap(rect, box), (text, scene.diagram.lines[b][0])


def _scene(path: Path) -> GraphScene:
    model = open_model(path)
    drawn = draw_graph(model, model.graph)
    return GraphScene(drawn.diagram, drawn.layout, palette_for(False))


def _render(scene: GraphScene, source: QRectF, scale: float) -> QImage:
    image = QImage(
        round(source.width() * scale),
        round(source.height() * scale),
        QImage.Format.Format_ARGB32_Premultiplied,
    )
    image.fill(scene.palette.background)
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, image.width(), image.height()), source)
    painter.end()
    return image


# ---------------------------------------------------------------------------------------- badges


def test_one_badge_per_finding_in_full_stacked_and_hovered(qtbot, window, tmp_path):
    view = open_and_wait(qtbot, window, findings_model(tmp_path), checked=True)
    doc, scene = view.document, view.scene
    diagram = doc.current.diagram
    badges = scene.badges
    here = [f for f in doc.findings if not f.path and f.node_index is not None]
    codes = {f.code for f in here}
    assert {"dtype-mismatch", "duplicate-node-name", "runtime-fallback", "unsupported-op"} <= codes
    for f in here:  # exactly one pill each, named by its full code, its message on hover
        pills = [i for i in range(len(badges.tip)) if badges.tip[i].startswith(
            f"{f.severity.value}: {f.code}: {f.message}"
        )]  # fmt: skip
        assert len(pills) == 1, f.code
        assert badges.text[pills[0]] == f.code
        assert f.hint in badges.tip[pills[0]]
    # nothing cut off: each pill is wider than its text
    fm = QFontMetricsF(scene.label_font)
    for (x0, _, x1, _), text in zip(badges.rects.tolist(), badges.text, strict=True):
        assert x1 - x0 > fm.horizontalAdvance(text)

    # the dtype-mismatch sits on b's edge into the Add, and not again on the Add's box
    mismatch = next(f for f in here if f.code == "dtype-mismatch")
    add_box = int(diagram.node_box[mismatch.node_index])
    k = badges.text.index("dtype-mismatch")
    kind, edge = badges.place[k]
    assert kind == "edge" and diagram.edge_value[edge] == "b"
    assert int(diagram.edge_dst[edge]) == add_box
    assert scene.box_overlay[add_box][0] == "error"  # still outlined
    assert ("box", add_box) not in badges.place

    # the Sin's two findings stack: the error above the info, apart, and painted after it
    sin = next(f for f in here if f.code == "runtime-fallback")
    sin_pills = [
        i for i, p in enumerate(badges.place) if p == ("box", int(diagram.node_box[sin.node_index]))
    ]
    assert [badges.severity[i] for i in sorted(sin_pills, key=lambda i: badges.rects[i][1])] == [
        "error",
        "info",
    ]
    err, info = badges.text.index("duplicate-node-name"), badges.text.index("runtime-fallback")
    assert badges.rects[err][3] <= badges.rects[info][1]
    assert not _overlap(badges.rects[err], badges.rects[info])
    ranks = [("error", "warning", "info").index(s) for s in badges.severity]
    assert ranks == sorted(ranks, reverse=True)  # infos painted first, errors last

    # hovering a pill in the window shows its finding
    graph_view = view.view
    graph_view.zoom_to_box(add_box)
    vp = graph_view.viewport()
    for i in (k, err):
        x0, y0, x1, y1 = badges.rects[i].tolist()
        at = graph_view.mapFromScene(QPointF((x0 + x1) / 2, (y0 + y1) / 2))
        QApplication.sendEvent(vp, QHelpEvent(QEvent.Type.ToolTip, at, vp.mapToGlobal(at)))
        assert QToolTip.text() == badges.tip[i]
        QToolTip.hideText()


def test_a_finding_on_a_fanned_out_input_gets_one_badge(qtbot, window, tmp_path):
    view = open_and_wait(qtbot, window, fan_out_model(tmp_path), checked=True)
    doc, scene = view.document, view.scene
    diagram = doc.current.diagram
    fixed = [f for f in doc.findings if f.code == "fixed-batch-dim"]
    assert len(fixed) == 1 and fixed[0].tensor == "a"
    edges = diagram.edges_of_value("a")
    assert len(edges) == 2 and all(e in scene.edge_overlay for e in edges)  # both outlined
    pills = [i for i, t in enumerate(scene.badges.text) if t == "fixed-batch-dim"]
    assert len(pills) == 1
    kind, edge = scene.badges.place[pills[0]]
    # on the edge into the node the finding names
    assert kind == "edge" and int(diagram.edge_dst[edge]) == int(
        diagram.node_box[fixed[0].node_index]
    )


def test_more_findings_than_a_stack_holds_end_in_a_count(qtbot, tmp_path):
    scene = _scene(fan_out_model(tmp_path))
    relu = next(i for i, lines in enumerate(scene.diagram.lines) if lines[:2] == ("Relu", "relu"))
    lines = "\n".join(f"code-{k}: message {k}" for k in range(5))
    scene.set_box_overlay({relu: ("warning", lines)})
    assert scene.badges.text == ["code-0", "code-1", f"+{5 - MAX_STACK + 1} more"]
    more = scene.badges.tip[-1]
    assert "message 2" in more and "message 4" in more
    r = scene.badges.rects
    assert all(r[i][3] <= r[i + 1][1] for i in range(len(r) - 1))  # stacked, apart
    assert scene.badges.rects[-1][1] < scene.by0[relu] < scene.badges.rects[-1][3]


def test_badges_past_the_drawing_stay_inside_the_scene(qtbot, tmp_path):
    scene = _scene(fan_out_model(tmp_path))
    rightmost = int(scene.bx1.argmax())
    scene.set_box_overlay({rightmost: ("error", "a-rather-long-finding-code-name: message")})
    x0, y0, x1, y1 = scene.badges.rects[0].tolist()
    assert x1 > scene.drawing_rect.right()  # it reaches past the boxes...
    assert scene.sceneRect().contains(QRectF(x0, y0, x1 - x0, y1 - y0))  # ...and is drawn whole
    scene.set_box_overlay({})
    assert len(scene.badges.rects) == 0


def test_neighbours_badges_stay_apart(qtbot, tmp_path):
    scene = _scene(split_model(tmp_path))
    relus = sorted(
        (i for i, lines in enumerate(scene.diagram.lines) if lines[0] == "Relu"),
        key=lambda i: scene.bx0[i],
    )
    assert len({float(scene.layout.y[i]) for i in relus}) == 1  # one rank, side by side
    overlay = {
        relus[0]: ("error", "a-finding-code-long-enough-to-reach-the-next-box: message"),
        relus[1]: ("error", "another-code: message\nand-a-second: message"),
        relus[2]: ("info", "info-code: message"),
    }
    scene.set_box_overlay(overlay)
    r = scene.badges.rects.tolist()
    assert len(r) == 4
    # the first box's long pill, drawn from its top-right corner, would reach over the second box
    long = scene.badges.text.index("a-finding-code-long-enough-to-reach-the-next-box")
    assert scene.bx1[relus[0]] - OVERLAP + (r[long][2] - r[long][0]) > scene.bx0[relus[1]]
    for i in range(len(r)):
        for j in range(i + 1, len(r)):
            assert not _overlap(r[i], r[j]), (scene.badges.text[i], scene.badges.text[j])
    assert_off_other_boxes(scene)


def side_by_side_model(folder: Path) -> Path:
    """Four narrow boxes in one rank, each an op no runtime has (unsupported-op: a pill wider
    than the box), two of them also named alike (duplicate-node-name: a stack of two), and a
    float16 input added to a float32 one (dtype-mismatch, on an edge)."""
    ops = ["Ab", "Cd", "Ef", "Gh"]
    nodes = [
        helper.make_node(op, ["x"], [f"o{k}"], name="twin" if k in (1, 2) else f"n{k}",
                         domain="com.example")
        for k, op in enumerate(ops)
    ]  # fmt: skip
    nodes += [
        helper.make_node("Sum", [f"o{k}" for k in range(len(ops))], ["s"], name="sum"),
        helper.make_node("Add", ["x", "h"], ["y"], name="mixed"),
    ]
    return _save(
        folder,
        "side_by_side",
        nodes,
        [vi("x", F32, [2, 3]), vi("h", F16, [2, 3])],
        [vi("s", F32, [2, 3]), vi("y", F32, [2, 3])],
        [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
    )


def test_badges_of_boxes_side_by_side_cover_no_other_box(qtbot, window, tmp_path):
    view = open_and_wait(qtbot, window, side_by_side_model(tmp_path), checked=True)
    scene, diagram = view.scene, view.document.current.diagram
    badges = scene.badges
    codes = [f.code for f in view.document.findings]
    assert codes.count("unsupported-op") == 4 and "duplicate-node-name" in codes
    assert "dtype-mismatch" in codes
    customs = sorted(
        (int(diagram.node_box[n.index]) for n in diagram.graph.nodes if n.domain),
        key=lambda b: scene.bx0[b],
    )
    assert len({float(scene.by0[b]) for b in customs}) == 1  # one rank, side by side
    fm = QFontMetricsF(scene.label_font)
    gap = scene.bx0[customs[1]] - scene.bx1[customs[0]]
    # each box's pill, in full, is wider than the box and the gap to its neighbour
    assert fm.horizontalAdvance("unsupported-op") > scene.bx1[customs[0]] - scene.bx0[customs[0]]
    assert fm.horizontalAdvance("unsupported-op") > gap
    on_box = [
        int(diagram.node_box[f.node_index])
        for f in view.document.findings
        if f.code in ("unsupported-op", "duplicate-node-name")
    ]
    for b in customs:  # every finding still has its pill on its box: one a box, two on the twin
        assert badges.place.count(("box", b)) == on_box.count(b) >= 1
    assert sorted(on_box.count(b) for b in customs) == [1, 1, 1, 2]
    assert_off_other_boxes(scene)
    # a pill with no room for its text shows an icon; hovering it gives the finding in full
    for shown, text, tip, sev in zip(
        badges.shown, badges.text, badges.tip, badges.severity, strict=True
    ):
        assert shown in (text, "!" if sev != "info" else "i"), (shown, text)
        assert tip.startswith(f"{sev}: {text}: ")
    ranks = [("error", "warning", "info").index(s) for s in badges.severity]
    assert ranks == sorted(ranks, reverse=True)  # infos painted first, errors last


def test_group_tallies_side_by_side_cover_no_other_box(qtbot, window, tmp_path):
    """Two name scopes side by side, each holding an op no runtime has: closed, each group's box
    counts its error ("1 error") on a pill that covers neither the other group nor any box."""
    nodes = [
        helper.make_node("Relu", ["x"], ["l1"], name="/left/Relu"),
        helper.make_node("Ab", ["l1"], ["l2"], name="/left/Ab", domain="com.example"),
        helper.make_node("Neg", ["x"], ["r1"], name="/right/Neg"),
        helper.make_node("Cd", ["r1"], ["r2"], name="/right/Cd", domain="com.example"),
        helper.make_node("Add", ["l2", "r2"], ["y"], name="/head/Add"),
    ]
    path = _save(
        tmp_path,
        "scopes",
        nodes,
        [vi("x", F32, [2, 3])],
        [vi("y", F32, [2, 3])],
        [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
    )
    view = open_and_wait(qtbot, window, path, checked=True)
    view.collapse_all()
    scene = view.scene
    groups = {scene.diagram.lines[b][0]: b for b in scene.group_box_ids().tolist()}
    left, right = groups["left"], groups["right"]
    assert scene.by0[left] == scene.by0[right]  # side by side
    qtbot.waitUntil(lambda: ("box", right) in scene.badges.place)
    for b in (left, right):
        k = scene.badges.place.index(("box", b))
        assert scene.badges.text[k] == "1 error"
    assert_off_other_boxes(scene)


def test_no_room_for_the_text_gives_an_icon_with_the_text_on_hover(qapp):
    """A box hemmed in by neighbours 12 units away and a box 18 above: no spot holds a pill
    with its text, so it shows "!" where it covers no other box, its text still on hover."""
    own = (0.0, 100.0, 60.0, 140.0)
    others = np.array([(-72.0, 100.0, -12.0, 140.0), (72.0, 100.0, 132.0, 140.0),
                       (-200.0, 40.0, 300.0, 82.0)])  # fmt: skip
    font = QFont()
    font.setPixelSize(9)
    entry = Entry("error", "a-long-finding-code", "error: a-long-finding-code: no such op")
    assert QFontMetricsF(font).horizontalAdvance(entry.text) > 72  # wider than box and gap
    anchor = Anchor(("box", 0), own[1], ((36.0, True), (60.0, False), (0.0, True)),
                    (0, 1, 2, 3), [entry], own)  # fmt: skip
    badges = layout_badges(font, [anchor], lambda asked: [others.tolist() for _ in asked])
    assert badges.shown == ["!"] and badges.text == ["a-long-finding-code"]
    assert badges.tip == [entry.tip]
    rect = badges.rects[0].tolist()
    assert not any(_overlap(rect, o) for o in others.tolist())
    assert _overlap(rect, own)  # on its own box's top edge


def test_crowded_side_by_side_stacks_turn_to_icons_not_onto_each_other(qtbot, tmp_path):
    """Four findings with long codes on each of four narrow boxes in a rank: the stacks that
    find room keep their text; one that would land on a neighbour's pills shows icons, and no
    pill covers another box or another pill."""
    scene = _scene(side_by_side_model(tmp_path))
    customs = [i for i, lines in enumerate(scene.diagram.lines) if lines[0] in ("Cd", "Ef", "Gh")]
    lines = "\n".join(f"a-long-finding-code-{k}: message {k}" for k in range(4))
    scene.set_box_overlay({b: ("warning", lines) for b in customs})
    badges = scene.badges
    assert len(badges.text) == 3 * MAX_STACK
    assert_off_other_boxes(scene)
    r = badges.rects.tolist()
    for i in range(len(r)):
        for j in range(i + 1, len(r)):
            assert not _overlap(r[i], r[j]), (badges.place[i], badges.place[j])
    icons = [k for k, (shown, text) in enumerate(zip(badges.shown, badges.text, strict=True))
             if shown != text]  # fmt: skip
    assert icons and {badges.shown[k] for k in icons} == {"!", f"+{4 - MAX_STACK + 1}"}
    for k in icons:  # hovering an icon shows its finding in full
        x0, y0, x1, y1 = r[k]
        assert scene.tooltip_at(QPointF((x0 + x1) / 2, (y0 + y1) / 2)) == badges.tip[k]
        more = badges.text[k].startswith("+")  # its hover lists the findings it stands for
        code = "a-long-finding-code-3" if more else badges.text[k]
        assert (code in badges.tip[k]) if more else badges.tip[k].startswith(f"warning: {code}: ")


# ----------------------------------------------------------------------------------- edge labels


def test_edge_labels_never_overlap(qtbot, tmp_path):
    scene = _scene(split_model(tmp_path))
    d = scene.diagram
    # the case that overlapped: the Split's outputs all start at one point
    # one label per (source, tensor) that has a line: the first such edge, in edge order
    seen: set[tuple[int, str]] = set()
    first = []
    for e, key in enumerate(zip(d.edge_src.tolist(), d.edge_value, strict=True)):
        if scene.edge_ok[e] and key not in seen:
            seen.add(key)
            first.append(e)
    assert scene.label_edges.tolist() == first
    split_edges = [e for e in scene.label_edges.tolist() if d.edge_value[e] in ("p0", "p1", "p2")]
    starts = {tuple(scene.edge_start[e].tolist()) for e in split_edges}
    assert len(split_edges) == 3 and len(starts) == 1
    source = scene.sceneRect()
    _render(scene, source, CLOSE_LOD * 1.5)
    drawn = scene.edge_layer.drawn_labels
    spots = [spot for _, spot in drawn]
    assert {e for e, _ in drawn} == {e for e in scene.label_edges.tolist() if d.edge_label[e]}
    for i in range(len(spots)):
        for j in range(i + 1, len(spots)):
            assert not _overlap(spots[i], spots[j]), (
                d.edge_label[drawn[i][0]],
                d.edge_label[drawn[j][0]],
            )
    # painted strip by strip (as a view scrolls), each label keeps its spot
    first = dict(drawn)
    half = QRectF(source.left(), source.top(), source.width() / 2, source.height())
    _render(scene, half, CLOSE_LOD * 1.5)
    assert scene.edge_layer.drawn_labels
    assert all(first[e] == spot for e, spot in scene.edge_layer.drawn_labels)


def test_a_long_label_is_cut_short_inside_the_scene_and_whole_on_hover(qtbot, tmp_path):
    """A symbolic shape longer than a label may be (a YOLO export's ``floor(height/2 - 1/2) + 1``
    dims) is drawn cut short with an ellipsis, inside the scene's rectangle (which renders and
    exported images cover), and the edge's tooltip gives it whole."""
    dims = ["batch", 16, "floor(height/2 - 1/2) + 1", "floor(width/2 - 1/2) + 1"]
    path = _save(
        tmp_path,
        "long",
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["y"])],
        [vi("x", F32, dims)],
        [vi("y", F32, dims)],
        [helper.make_opsetid("", 17)],
    )
    scene = _scene(path)
    d = scene.diagram
    edge = next(e for e in scene.label_edges.tolist() if d.edge_value[e] == "r")
    whole = d.edge_label[edge]
    assert QFontMetricsF(scene.label_font).horizontalAdvance(whole) > MAX_LABEL_PX
    scene.text_record = TextRecord()
    _render(scene, scene.sceneRect(), 1.0)
    spot = dict(scene.edge_layer.drawn_labels)[edge]
    assert spot[2] - spot[0] <= MAX_LABEL_PX
    assert scene.sceneRect().contains(QRectF(spot[0], spot[1], spot[2] - spot[0], 1))
    drawn = [t for t, _ in scene.text_record.sizes() if t.startswith("float32[batch,16,")]
    assert drawn and all(t.endswith("…") and whole.startswith(t[:-1]) for t in drawn)
    x, y = scene.edge_start[edge].tolist()
    assert whole in scene.tooltip_at(QPointF(x, y + 10), 2.0)


# ------------------------------------------------------------------------------------- selection


def _runs(image: QImage, color: QColor, y: int, x0: int, x1: int) -> int:
    """Separate runs of ``color`` (within 40, summed over channels) along row ``y``."""
    runs, inside = 0, False
    for x in range(x0, x1):
        c = image.pixelColor(x, y)
        near = (
            abs(c.red() - color.red())
            + abs(c.green() - color.green())
            + abs(c.blue() - color.blue())
            < 40
        )
        runs += near and not inside
        inside = near
    return runs


@pytest.mark.parametrize("severity", ["error", "info"])
def test_selection_is_drawn_unlike_a_finding(qtbot, tmp_path, severity):
    scene = _scene(fan_out_model(tmp_path))
    pal = scene.palette
    box = next(i for i, lines in enumerate(scene.diagram.lines) if lines[0] == "Neg")
    scale = 2.0
    source = scene.box_rect(box).adjusted(-20, -20, 20, 20)

    def ring_row(image: QImage, color: QColor, grow_px: float) -> int:
        # runs of ``color`` along the top side of a ring ``grow_px`` outside the box, over the
        # box's left half (its badge sits on the right, its input edge comes in at the middle)
        y = round(20 * scale - grow_px)
        return _runs(image, color, y, round(20 * scale), image.width() // 2 - 8)

    scene.set_box_overlay({box: (severity, "code: a finding")})
    finding = _render(scene, source, scale)
    assert ring_row(finding, pal.severity_color(severity), 2) == 1  # one solid line
    assert ring_row(finding, pal.severity_color(severity), 6) == 0
    scene.set_box_overlay({})
    scene.set_selection(box, None)
    selected = _render(scene, source, scale)
    assert ring_row(selected, pal.selection, 6) >= 3  # dashed, further out
    # a glow fills the space between the ring and the box
    quarter = selected.width() // 4
    between = selected.pixelColor(quarter, round(20 * scale - 4))
    assert between.rgb() != pal.background.rgb()
    assert finding.pixelColor(quarter, round(20 * scale - 6)).rgb() == pal.background.rgb()
