"""Reading the properties panel back as the user sees it: its tables, key/value rows and links.

Expected values in the tests come from onnx itself (protobuf, shape inference); these helpers only
turn the panel's rich-text document into plain rows.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor, QTextTable
from PySide6.QtWidgets import QTextBrowser

from inspector.ui.panels.properties import PropertiesPanel


def sync_runner(fn, on_done):
    """A background runner that runs at once (the window's runner is asynchronous)."""
    on_done(fn())


def browser_of(panel: PropertiesPanel) -> QTextBrowser:
    browser = panel.findChild(QTextBrowser)
    assert browser is not None
    return browser


def _cell_text(table: QTextTable, row: int, col: int) -> str:
    cell = table.cellAt(row, col)
    cursor = cell.firstCursorPosition()
    cursor.setPosition(cell.lastCursorPosition().position(), QTextCursor.MoveMode.KeepAnchor)
    return cursor.selectedText().replace("\u2029", "\n").replace("\u2028", "\n")


def tables(panel: PropertiesPanel) -> list[list[list[str]]]:
    """Every table on the page, as rows of cell texts, in order."""
    out = []
    for frame in browser_of(panel).document().rootFrame().childFrames():
        if isinstance(frame, QTextTable):
            out.append(
                [
                    [_cell_text(frame, r, c) for c in range(frame.columns())]
                    for r in range(frame.rows())
                ]
            )
    return out


def tables_with_header(panel: PropertiesPanel, *header: str) -> list[list[list[str]]]:
    """The tables whose first row is ``header``, without that row."""
    return [t[1:] for t in tables(panel) if t and t[0] == list(header)]


def key_values(panel: PropertiesPanel) -> dict[str, str]:
    """Every two-column key/value row on the page (later keys win)."""
    return {row[0]: row[1] for t in tables(panel) for row in t if len(row) == 2}


def _anchors(browser: QTextBrowser, text: str) -> list[int]:
    """Document positions of the links whose text is ``text``."""
    found = []
    block = browser.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().isAnchor() and fragment.text() == text:
                found.append(fragment.position())
            it += 1
        block = block.next()
    return found


def click_link(qtbot, panel: PropertiesPanel, text: str, nth: int = 0) -> None:
    """Click, with the mouse, the ``nth`` link whose text is ``text``."""
    browser = browser_of(panel)
    positions = _anchors(browser, text)
    assert len(positions) > nth, f"no link {text!r} #{nth} on the page"
    cursor = QTextCursor(browser.document())
    cursor.setPosition(positions[nth] + 1)
    browser.setTextCursor(cursor)
    browser.ensureCursorVisible()
    rect = browser.cursorRect(cursor)
    qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _elem_name(tp: onnx.TypeProto) -> str:
    """``float32`` for a tensor type, ``sequence(float32)`` for a sequence of them, and so on."""
    which = tp.WhichOneof("value")
    if which == "tensor_type":
        if tp.tensor_type.elem_type == onnx.TensorProto.STRING:
            return "string"  # numpy calls it "object"
        return np.dtype(helper.tensor_dtype_to_np_dtype(tp.tensor_type.elem_type)).name
    if which == "sequence_type":
        return f"sequence({_elem_name(tp.sequence_type.elem_type)})"
    if which == "optional_type":
        return f"optional({_elem_name(tp.optional_type.elem_type)})"
    return "?"


def type_text(vi: onnx.ValueInfoProto | None) -> str:
    """``float32 [1,3,224,224]`` from a ValueInfoProto, as onnx gives it (``unknown`` if absent)."""
    if vi is None or vi.type.WhichOneof("value") is None:
        return "unknown"
    if not vi.type.HasField("tensor_type"):
        return _elem_name(vi.type)
    tt = vi.type.tensor_type
    dtype = _elem_name(vi.type)
    if not tt.HasField("shape"):
        return dtype
    dims = [
        str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim
    ]
    return f"{dtype} [{','.join(dims)}]"


def types_cell(declared: onnx.ValueInfoProto | None, inferred: onnx.ValueInfoProto | None) -> str:
    """What a node's input/output row shows: each type tagged by its source, once if they agree."""
    d = type_text(declared) if declared is not None else None
    i = type_text(inferred) if inferred is not None else None
    if d is None and i is None:
        return "type unknown"
    if d == i:
        return f"{d} declared, inferred"
    return "\n".join(
        f"{t} {source}" for t, source in ((d, "declared"), (i, "inferred")) if t is not None
    )


def value_infos(g: onnx.GraphProto) -> dict[str, onnx.ValueInfoProto]:
    return {vi.name: vi for vi in [*g.value_info, *g.output, *g.input]}


def declared_infos(g: onnx.GraphProto) -> dict[str, onnx.ValueInfoProto]:
    """What the file itself declares: initializers win, then inputs, value_info, outputs."""
    out = {vi.name: vi for vi in [*g.output, *g.value_info, *g.input]}
    for t in g.initializer:
        out[t.name] = helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
    return out
