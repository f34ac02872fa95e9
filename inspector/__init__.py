"""ONNX Inspector: see an ONNX model's graph, and what will go wrong with it, before you deploy it."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def resource_path(name: str) -> Path:
    """A file from ``resources/``: inside the installed wheel (``inspector.resources``), or at the
    top of a source checkout when running from one."""
    from importlib import resources

    try:
        candidate = Path(str(resources.files("inspector.resources") / name))
        if candidate.exists():
            return candidate
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "resources" / name
