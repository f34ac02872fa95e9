"""The export wizard (File > Export from PyTorch…): see :mod:`.wizard`."""

from __future__ import annotations

from inspector.ui.wizard.wizard import ExportWizard

__all__ = ["ExportWizard"]
