"""Test-wide setup: headless Qt, the model zoo, and the leak guard (``tests/leak_guard.py``).

The guard fails any test that, once it has ended (after a wait of up to 15 s that returns as
soon as all is clean), leaves Python threads, child processes (zombies included), busy Qt thread
pools or active Qt timers it started; it looks at Qt only when the test already made a
QApplication, so Qt-free tests stay Qt-free.
"""

from __future__ import annotations

import os

# Qt must be headless before anything imports PySide6 (pytest-qt creates the QApplication).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")

pytest_plugins = ["tests.model_zoo", "tests.leak_guard"]
