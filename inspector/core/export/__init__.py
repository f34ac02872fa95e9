"""Export from PyTorch: the config the wizard edits and the CLI parses, the child-side driver
(and :mod:`.source`, which loads the user's model), the parent-side runner, the translation of
exporter errors, and the validation checklist.

Only :mod:`.driver`, :mod:`.locate`, :mod:`.source` and :mod:`.validate` import torch, and only
in the export's child process.
"""

from __future__ import annotations

from inspector.core.export.config import DynamicDim, ExportConfig, InputSpec
from inspector.core.export.runner import ExportResult, export_model

__all__ = ["DynamicDim", "ExportConfig", "ExportResult", "InputSpec", "export_model"]
