"""Save As at another ai.onnx opset: the model converted by ``onnx.version_converter`` written to
a new file. What the conversion would change, and what the runtime still cannot run after it, is
the retarget preview's job (:mod:`inspector.core.checks.runtime_retarget`), which shares
:func:`~inspector.core.checks.runtime_retarget.convert` with this rewrite.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from inspector.core.checks.runtime_retarget import convert
from inspector.core.graph import Model


def save_retargeted(model: Model, opset: int, new_path: str | os.PathLike[str]) -> Path:
    """Save As: write the model converted to ``opset`` to ``new_path``, never over the model's
    own file (raises ``ValueError`` for that, and whatever the converter raises); returns the
    path written."""
    out = Path(new_path)
    if model.path is not None and out.resolve() == Path(model.path).resolve():
        raise ValueError("refusing to overwrite the model's own file; choose a new path")
    onnx.save_model(convert(model, opset), out)
    return out
