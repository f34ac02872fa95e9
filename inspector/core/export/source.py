"""Loading the user's PyTorch model in the export's child process (:mod:`.driver` calls it).

A factory in a .py file (imported as a real module: its code runs), a TorchScript file, or a
``.pt2`` archive; weights only as a state dict with ``torch.load(weights_only=True)``. A
``torch.save`` pickle is never loaded as a model (unpickling it would run arbitrary code): the
file is sniffed first, from its zip directory, and refused with what to give instead.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

from inspector.core.export.config import ExportConfig
from inspector.core.export.explain import Explained, SourceLine, finding, user_frames


class SourceError(Exception):
    """The model could not be loaded; carries the finding that says why."""

    def __init__(self, explained: Explained) -> None:
        super().__init__(explained.finding.message)
        self.explained = explained


# -- loading ----------------------------------------------------------------------------------


def load_source(cfg: ExportConfig) -> tuple[Any, tuple | None, Any]:
    """(model, example inputs or None, the user's module or None). Raises SourceError."""
    import torch

    src = Path(cfg.source).resolve()
    module = None
    example: tuple | None = None
    _check_source_kind(cfg, src)
    try:
        if cfg.source_kind == "python":
            module = _import_user_file(src)
            factory = getattr(module, cfg.factory, None)
            if factory is None or not callable(factory):
                names = [
                    n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                ]
                raise SourceError(
                    finding(
                        "source-load-failed",
                        f"'{src.name}' has no function or class '{cfg.factory}' "
                        f"(callables: {', '.join(sorted(names)[:12]) or 'none'})",
                    )
                )
            made = factory()
            model, example = (made[0], made[1]) if isinstance(made, tuple) else (made, None)
        elif cfg.source_kind == "torchscript":
            model = torch.jit.load(str(src), map_location="cpu")
        else:
            program = torch.export.load(str(src))
            model = program.module()
            stored = getattr(program, "example_inputs", None)
            example = tuple(stored[0]) if stored else None
    except SourceError:
        raise
    except Exception as e:
        frames = [(f.filename, f.lineno) for f in traceback.extract_tb(e.__traceback__)]
        places = user_frames("", frames, str(src))
        raise SourceError(
            finding(
                "source-load-failed",
                f"loading the model failed: {type(e).__name__}: {e}",
                source_line(*places[-1]) if places else None,
            )
        ) from e
    if not isinstance(model, torch.nn.Module):
        raise SourceError(
            finding(
                "source-load-failed",
                f"'{cfg.factory}' returned {type(model).__name__}, not a torch.nn.Module",
            )
        )
    if cfg.weights:
        _load_weights(model, cfg.weights)
    if cfg.source_kind != "exported_program":
        # program.module() raises NotImplementedError on eval(): the archive already holds the
        # graph in the mode it was exported in.
        model.eval()
    if isinstance(example, torch.Tensor):
        example = (example,)
    return model, (tuple(example) if example is not None else None), module


def _import_user_file(path: Path) -> Any:
    # A real module (not exec of a string) so inspect.getsource, torch.jit.script and
    # dataclasses work on the user's classes, and tracebacks carry the real file name.
    sys.path.insert(0, str(path.parent))
    name = f"_inspector_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_weights(model: Any, path: str) -> None:
    import pickle

    import torch

    kind = sniff_torch_file(Path(path))
    if kind in ("torchscript", "exported_program"):
        raise SourceError(
            finding(
                "source-load-failed",
                f"'{Path(path).name}' is a {_KIND_NAMES[kind]}, not a state dict: export it as "
                "the source (its weights are inside), or pass a state dict as the weights",
            )
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise SourceError(
            finding(
                "weights-need-code",
                f"'{Path(path).name}' is not a plain state dict: loading it would run code "
                f"from the pickle, so it was not loaded ({_pickle_reason(e)})",
            )
        ) from e
    except Exception as e:
        raise SourceError(
            finding(
                "source-load-failed",
                f"cannot read the weights '{Path(path).name}' as a state dict saved with "
                f"torch.save: {type(e).__name__}: {_first_line(e)}",
            )
        ) from e
    if not isinstance(state, dict):
        raise SourceError(finding("weights-need-code", f"'{Path(path).name}' holds no state dict"))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise SourceError(
            finding("source-load-failed", f"the weights do not fit the model: {e}")
        ) from e


_KIND_NAMES = {
    "python": "Python file",
    "torchscript": "TorchScript file (torch.jit.save)",
    "exported_program": "torch.export archive (torch.export.save)",
    "pickle": "torch.save pickle",
}


def sniff_torch_file(path: Path) -> str | None:
    """What a PyTorch file is, read from its zip directory without unpickling anything:
    ``torchscript``, ``exported_program``, ``pickle`` (torch.save: a state dict or a whole
    model), or None (not a PyTorch file, or unreadable)."""
    import zipfile

    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                head = f.read(2)
            # torch.save's legacy format (and plain pickles) start with the PROTO opcode.
            return "pickle" if len(head) == 2 and head[0] == 0x80 and head[1] <= 5 else None
        with zipfile.ZipFile(path) as z:
            names = {n.split("/", 1)[1] for n in z.namelist() if "/" in n}
    except OSError:
        return None
    if "archive_format" in names or "models/model.json" in names:
        return "exported_program"
    if "constants.pkl" in names or any(n.startswith("code/") for n in names):
        return "torchscript"
    if "data.pkl" in names:
        return "pickle"
    return None


def _check_source_kind(cfg: ExportConfig, src: Path) -> None:
    """Refuse, with what to do instead, a source that is not of its declared kind: above all a
    torch.save pickle, which is never loaded as a model (it would run arbitrary code)."""
    if cfg.source_kind == "python" and src.suffix in (".py", ""):
        return
    actual = sniff_torch_file(src) if src.is_file() else None
    if actual == cfg.source_kind:
        return
    if actual == "pickle":
        if _is_state_dict(src):
            raise SourceError(
                finding(
                    "source-load-failed",
                    f"'{src.name}' is a state dict (weights without the model's code), not a "
                    "model: give the Python file that builds the model and its factory as the "
                    "source, and this file as the weights",
                    hint="export SOURCE.py --factory NAME --weights "
                    f"{src.name}; the wizard: a Python source plus this file as its weights",
                )
            )
        raise SourceError(
            finding(
                "weights-need-code",
                f"'{src.name}' is a whole model saved with torch.save (a pickle): it is never "
                "loaded, because unpickling it would run arbitrary code. Give the Python file "
                "that builds the model and its factory as the source, with a state dict as "
                "the weights",
            )
        )
    if actual is not None:
        raise SourceError(
            finding(
                "source-load-failed",
                f"'{src.name}' is a {_KIND_NAMES[actual]}, but the source kind is "
                f"{cfg.source_kind}: choose the source kind {actual}",
            )
        )
    if cfg.source_kind == "python":
        raise SourceError(
            finding(
                "source-load-failed",
                f"'{src.name}' is not a .py file: give the Python file that builds the model",
            )
        )
    # Not recognised: let the loader try and report its own error.


def _pickle_reason(e: BaseException) -> str:
    """What the pickle needs, from torch's weights_only error: 'it needs __main__.MLP'."""
    import re

    m = re.search(r"GLOBAL ([\w.]+)", str(e))
    return f"it needs {m.group(1)}, a class or function from the code" if m else _first_line(e)


def _is_state_dict(path: Path) -> bool:
    """Whether ``path`` loads with ``torch.load(weights_only=True)`` (safe: no code runs) into a
    dict."""
    import torch

    try:
        return isinstance(torch.load(path, map_location="cpu", weights_only=True), dict)
    except Exception:
        return False


def _first_line(e: BaseException) -> str:
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    return (text.splitlines() or [""])[0][:200]


def source_line(path: str, line: int) -> SourceLine:
    try:
        code = Path(path).read_text(encoding="utf-8").splitlines()[line - 1]
    except (OSError, IndexError, UnicodeDecodeError):
        code = ""
    return SourceLine(path, line, code)
