"""Static checks. Each family is a module with ``check(model, target, cancel) -> list[Finding]``;
:func:`~inspector.core.checks.run.run_checks` runs every family and returns their findings in one
list (the CLI's ``check``, the Problems panel and the graph highlights all read that list).

The target type lives in :mod:`.target` and the orchestration in :mod:`.run`; this package only
names them for callers outside it. Modules inside the package import :mod:`.target` and
:mod:`.run` directly, never the package, so the package's import graph has no cycle
(``tests/core/test_architecture.py`` proves it).
"""

from __future__ import annotations

from inspector.core.checks.run import run_checks, sort_findings
from inspector.core.checks.target import RuntimeTarget

__all__ = ["RuntimeTarget", "run_checks", "sort_findings"]
