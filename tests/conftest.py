"""Test-wide setup: headless Qt, the model zoo, and a guard against leaked threads and children."""

from __future__ import annotations

import os

# Qt must be headless before anything imports PySide6 (pytest-qt creates the QApplication).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")

pytest_plugins = ["tests.model_zoo"]
