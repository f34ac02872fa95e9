"""What the export wizard's pages share: the dialogs (swappable in tests), field messages, the
parsing of the input table's text, and the opsets the installed torch and onnxruntime offer.

Nothing here imports torch or the user's code: torch's presence is checked with
``importlib.util.find_spec`` and its opset limits are read from the text of
``torch/onnx/_constants.py``.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QWidget

INSTALL_HINT = "pip install 'onnx-inspector[export]'"
ERROR_COLOR = "#d32f2f"
WARNING_COLOR = "#ef6c00"

#: Used when torch's constants file cannot be read (measured with torch 2.13).
_FALLBACK_LIMITS = {"min": 7, "max": 23, "torchscript_max": 20, "default": 20}
#: The dynamo exporter turns any lower request into 18 (see the opset-not-honored finding).
DYNAMO_MIN_OPSET = 18


class Prompts:
    """The modal dialogs the wizard opens, in one object so tests can swap in answers."""

    def open_file(self, parent: QWidget, title: str, start: str, filters: str) -> str:
        """A path chosen in an Open dialog, or "" when cancelled."""
        path, _ = QFileDialog.getOpenFileName(parent, title, start, filters)
        return path

    def save_file(self, parent: QWidget, title: str, start: str, filters: str) -> str:
        """A path chosen in a Save dialog, or "" when cancelled. The dialog does not ask about
        overwriting: the page asks once, with :meth:`confirm_overwrite`, when the user goes on."""
        path, _ = QFileDialog.getSaveFileName(
            parent, title, start, filters, options=QFileDialog.Option.DontConfirmOverwrite
        )
        return path

    def confirm_overwrite(self, parent: QWidget, path: Path) -> bool:
        """Whether the user agrees to replace ``path``."""
        answer = QMessageBox.question(
            parent,
            "Replace the file?",
            f"{path} already exists. Replace it with the export?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes


class FieldMessage(QLabel):
    """The plain-words message shown under a field: red for what blocks Next, orange for
    what only deserves a look, plain for news; hidden when there is nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.hide()

    def show_error(self, text: str) -> None:
        self._show(text, ERROR_COLOR)

    def show_warning(self, text: str) -> None:
        self._show(text, WARNING_COLOR)

    def show_info(self, text: str) -> None:
        self._show(text, "palette(window-text)")

    def clear_message(self) -> None:
        self.setText("")
        self.hide()

    def _show(self, text: str, color: str) -> None:
        if not text:
            self.clear_message()
            return
        self.setStyleSheet(f"color: {color};")
        self.setText(text)
        self.show()


def torch_installed() -> bool:
    """Whether torch can be imported by the export's child (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


# -- the input table's text ----------------------------------------------------------------------

_DYNAMIC_RE = re.compile(r"^(\d+)\s*[:=]\s*([A-Za-z_][A-Za-z0-9_]*)$")


def parse_shape(text: str) -> list[int]:
    """``"2, 3, 224, 224"``, ``"[2, 3]"`` or ``"2 3"`` → a list of dims >= 1; ValueError says
    what is wrong in words a user can act on."""
    body = text.strip().strip("[]()").strip()
    if not body:
        raise ValueError("type the example shape, e.g. 2, 16")
    parts = [p.strip() for p in re.split(r"[,\s]+", body) if p.strip()]
    dims: list[int] = []
    for part in parts:
        if not part.isdigit():
            raise ValueError(
                f"'{part}' in '{text.strip()}' is not a size: write whole numbers separated by "
                "commas, e.g. 2, 3, 224, 224 (name dynamic dims in the next column)"
            )
        if int(part) < 1:
            raise ValueError(f"every size must be 1 or more (got {part} in '{text.strip()}')")
        dims.append(int(part))
    return dims


def parse_dynamic(text: str) -> list[tuple[int, str]]:
    """``"0:batch, 1:seq"`` → ``[(0, "batch"), (1, "seq")]``; empty text → no dynamic dims."""
    out: list[tuple[int, str]] = []
    for part in (p.strip() for p in re.split(r"[,;]+", text) if p.strip()):
        m = _DYNAMIC_RE.match(part)
        if m is None:
            raise ValueError(
                f"'{part}' is not a dynamic dim: write AXIS:NAME, e.g. 0:batch or 0:batch, 1:seq"
            )
        out.append((int(m.group(1)), m.group(2)))
    axes = [a for a, _ in out]
    if len(set(axes)) != len(axes):
        raise ValueError("each axis can be named only once")
    return out


# -- opsets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpsetChoices:
    """The opsets each exporter of the installed torch can write, and its default."""

    dynamo: tuple[int, ...]
    torchscript: tuple[int, ...]
    default: int

    def for_exporter(self, exporter: str) -> tuple[int, ...]:
        return self.dynamo if exporter == "dynamo" else self.torchscript


def torch_opsets() -> OpsetChoices:
    """Read torch's opset limits from ``torch/onnx/_constants.py`` as text (importing torch
    takes seconds and would put it in the GUI process); falls back to torch 2.13's limits."""
    limits = dict(_FALLBACK_LIMITS)
    spec = importlib.util.find_spec("torch")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        try:
            tree = ast.parse((Path(root) / "onnx" / "_constants.py").read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        names = {
            "ONNX_MIN_OPSET": "min",
            "ONNX_MAX_OPSET": "max",
            "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET": "torchscript_max",
            "ONNX_DEFAULT_OPSET": "default",
        }
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in names
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, int)
            ):
                limits[names[node.targets[0].id]] = node.value.value
        break
    return OpsetChoices(
        dynamo=tuple(range(DYNAMO_MIN_OPSET, limits["max"] + 1)),
        torchscript=tuple(range(limits["min"], limits["torchscript_max"] + 1)),
        default=limits["default"],
    )


def runtime_opset_limit() -> tuple[str, int] | None:
    """(onnxruntime version, newest ai.onnx opset it runs), or None without onnxruntime.
    Imports onnxruntime: call it on the task runner, not in a slot."""
    try:
        from inspector.core.checks.runtime_registry import load_registry

        registry = load_registry()
    except ImportError:
        return None
    if registry is None:
        return None
    return registry.runtime_version, registry.max_opset.get("", 0)
