"""Fixes that prove themselves (issue 16): float16, float32, cast-inputs, opset, dynamic dim and
simplify, each written to a new file, re-checked and compared with the original.

The Fix menu and ``onnx-inspector fix`` call :func:`apply_fix` (blocking) or :func:`fix_call`
(the child job, for the window's task runner) with a :class:`FixSpec`, and read a
:class:`FixReport`.
"""

from __future__ import annotations

from inspector.core.fixes.apply import FixReport, SameFileError, apply_fix, fix_call
from inspector.core.fixes.spec import KINDS, FixSpec, FixSpecError

__all__ = [
    "KINDS",
    "FixReport",
    "FixSpec",
    "FixSpecError",
    "SameFileError",
    "apply_fix",
    "fix_call",
]
