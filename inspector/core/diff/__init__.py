"""Comparing two models: the structural diff (which nodes were added, removed or changed).

``diff_models(a, b)`` is the entry point; :mod:`inspector.core.diff.match` pairs the nodes and
:mod:`inspector.core.diff.changes` says what differs between a pair.
"""

from __future__ import annotations

from inspector.core.diff.structural import ModelDiff, NodeChange, diff_models

__all__ = ["ModelDiff", "NodeChange", "diff_models"]
