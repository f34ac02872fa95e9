"""The shape of the code: the core imports no Qt, and `--help` starts without heavy modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import inspector

ROOT = Path(inspector.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_qt_anywhere():
    offenders = {}
    for path in sorted((ROOT / "core").rglob("*.py")):
        bad = {
            n
            for n in _imports(path)
            if n.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6")
            or n.startswith(("inspector.ui", "inspector.cli"))
        }
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint)], cwd=ROOT.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_help_starts_without_heavy_modules():
    code = (
        "import sys\n"
        "from inspector.__main__ import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('onnxruntime', 'torch', 'PySide6', 'onnx') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent, check=True
    ).stdout
    assert "HEAVY []" in out
    assert "info" in out and "render" in out
