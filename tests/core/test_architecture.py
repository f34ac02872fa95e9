"""The shape of the code: the core imports no Qt; the window and the CLI sit over the core and only
the launcher imports them; `--help` starts without heavy modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tomllib

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


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    return {c["type"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_layers_contract_puts_the_window_and_the_cli_over_the_core():
    """What `lint-imports` enforces is the layering of issue 12; dropping a layer fails here."""
    layers = _contracts()["layers"]
    assert layers["containers"] == ["inspector"] and layers["exhaustive"] is True
    top, faces, drawing, bottom = (
        [s.strip() for s in layer.split("|")] for layer in layers["layers"]
    )
    assert top == ["__main__"]
    assert sorted(faces) == ["cli", "ui"]  # independent of each other ('|')
    assert drawing == ["scene"]  # the one picture both faces draw (render writes the window's)
    assert "core" in bottom
    assert "ignore_imports" not in layers  # no import is let through


def test_only_the_launcher_imports_the_window_or_the_cli():
    protected = _contracts()["protected"]
    assert sorted(protected["protected_modules"]) == ["inspector.cli", "inspector.ui"]
    assert protected["allowed_importers"] == ["inspector.__main__"]
    assert "ignore_imports" not in protected


def test_the_window_starts_without_importing_the_cli():
    code = (
        "import sys\n"
        "from inspector.ui.app import parse_launch_args\n"
        "print('CLI', sorted(m for m in sys.modules if m.startswith('inspector.cli')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent, check=True
    ).stdout
    assert "CLI []" in out


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
