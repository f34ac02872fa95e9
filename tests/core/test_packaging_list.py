"""The wheel ships every package and the resources (sample model, icons) the app opens."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_lists_every_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "inspector").rglob("__init__.py")
    }
    assert found <= listed, f"add to pyproject.toml [tool.setuptools] packages: {found - listed}"
    assert "inspector.resources" in listed


def test_built_wheel_carries_the_resources(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "inspector/resources/sample.onnx",
        "inspector/resources/icon.svg",
        "inspector/resources/icons/onnx-inspector-256.png",
        "inspector/core/checks/child.py",
        "inspector/ui/wizard/__init__.py",
    ):
        assert name in names, name


def test_installed_package_finds_its_sample(tmp_path):
    """Where the project is installed (CI installs it as the README says), the installed copy
    resolves the bundled sample model inside the installed package."""
    code = (
        "import inspector; print(inspector.__file__); print(inspector.resource_path('sample.onnx'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        pytest.skip("the project is not installed in this environment (running from source)")
    package_file, sample = out.stdout.split()
    assert Path(sample).is_file()
    assert Path(sample).parent.parent == Path(package_file).parent
