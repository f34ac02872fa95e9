"""Comparing two models: the structural diff (which nodes were added, removed or changed) and the
numeric one (:mod:`.numeric`: outputs and the first node where the two part).

``diff_models(a, b)`` is the entry point; :mod:`inspector.core.diff.match` pairs the nodes and
:mod:`inspector.core.diff.changes` says what differs between a pair.

The structural names are imported on first use, not with the package: the numeric comparison's
child process imports :mod:`.numeric_child` through this package, and importing onnx there for
nothing cost each comparison child 3 s of its 4.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspector.core.diff.structural import ModelDiff, NodeChange, diff_models

__all__ = ["ModelDiff", "NodeChange", "diff_models"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from inspector.core.diff import structural

        return getattr(structural, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
