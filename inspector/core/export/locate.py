"""Where in the user's code an export's cause is: the child side of the driver's line-finding.

What torch records, read after the fact:

- the ops the model runs: :func:`eager_sites` runs one forward pass under a dispatch mode that
  records each aten (or custom) op with the Python stack of its call, and :func:`program_sites`
  reads the ExportedProgram's nodes (their ``stack_trace``, which keeps ``forward`` frames only)
  when that pass fails. Both give :class:`OpSite` rows (op, dtypes, innermost user line), which
  find the op that has no translation, the node that made a float64 or float16 tensor, and a
  random op;
- the symbolic-shape events of ``torch.export``: :class:`ShapeLog` listens to torch's structured
  trace (``symbolic_shape_specialization`` when a dim becomes a constant, ``guard_added_fast``
  when a Python test on a size adds a guard), each with the Python stack of the moment;
- the factory's own source, read with ``ast``, for causes that sit there (``model.double()``, an
  example batch of 1).

Every function returns None or nothing when torch records nothing usable; a missing line is a
finding without a line, never an error.

Known limitations: the structured-trace events and their fields are torch 2.13's; the model runs
once more (eagerly) when a finding needs an op's line, which a model with side effects in
forward (BatchNorm in training mode) feels.
"""

from __future__ import annotations

import ast
import functools
import logging
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.core.export.explain import SourceLine, user_frames
from inspector.core.export.source import source_line

#: Ops whose values differ between runs (PyTorch and ONNX Runtime draw different numbers).
RANDOM_OPS = (
    "rand",
    "randn",
    "rand_like",
    "randn_like",
    "randint",
    "randint_like",
    "randperm",
    "bernoulli",
    "dropout",
    "native_dropout",
    "feature_dropout",
    "alpha_dropout",
    "multinomial",
    "normal",
    "uniform",
    "exponential",
)


@dataclass(frozen=True)
class OpSite:
    """One op of a captured graph: ``OpSite("aten::kthvalue", ("float32", "int64"),
    ("float32",), SourceLine("/src/net.py", 12, ...))``."""

    op: str  # namespace::name
    dtypes: tuple[str, ...]  # of its tensor outputs
    input_dtypes: tuple[str, ...]  # of its tensor inputs
    place: SourceLine | None  # the innermost frame in the user's code


def innermost(places: list[tuple[str, int]]) -> SourceLine | None:
    """The last (innermost) place as a :class:`SourceLine`, or None."""
    return source_line(*places[-1]) if places else None


# -- captured graphs -----------------------------------------------------------------------------


def program_sites(program: Any) -> list[OpSite]:
    """The call_function nodes of an ExportedProgram (dynamo), in graph order."""
    sites = []
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "name", None)
        op = name() if callable(name) else str(node.target)
        inputs = [a for a in node.all_input_nodes]
        sites.append(
            OpSite(
                op.split(".")[0] if "::" in op else op.replace(".", "::", 1).split(".")[0],
                _meta_dtypes(node.meta.get("val")),
                tuple(d for a in inputs for d in _meta_dtypes(a.meta.get("val"))),
                innermost(user_frames(node.meta.get("stack_trace") or "", [])),
            )
        )
    return sites


def _meta_dtypes(val: Any) -> tuple[str, ...]:
    values = val if isinstance(val, list | tuple) else [val]
    return tuple(str(v.dtype).removeprefix("torch.") for v in values if hasattr(v, "dtype"))


def eager_sites(model: Any, args: tuple) -> list[OpSite]:
    """Every aten (or custom) op one eager forward pass dispatches, in call order, each with
    the whole Python stack of its call: a helper function's line too, which the exported
    program's ``stack_trace`` leaves out (it keeps ``forward`` frames only). Empty when the
    forward pass fails."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    sites: list[OpSite] = []

    def dtypes(values: Any) -> tuple[str, ...]:
        leaves = tree_leaves(values)
        return tuple(
            str(t.dtype).removeprefix("torch.") for t in leaves if isinstance(t, torch.Tensor)
        )

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            frames, frame = [], sys._getframe(1)
            while frame is not None:
                frames.append((frame.f_code.co_filename, frame.f_lineno))
                frame = frame.f_back
            place = innermost(user_frames("", frames[::-1]))
            sites.append(OpSite(func._schema.name, dtypes(out), dtypes((args, kwargs)), place))
            return out

    try:
        with torch.no_grad(), warnings.catch_warnings(), Spy():
            warnings.simplefilter("ignore")
            model(*args)
    except Exception:
        return []
    return sites


def op_place(sites: list[OpSite], op: str) -> SourceLine | None:
    """Where ``op`` (``aten::kthvalue``) was called: the first site of that op, or of the aten
    op that a prim (``prims::bessel_j0`` ← ``aten::special_bessel_j0``) or a renamed overload
    (``aten::_linalg_svd`` ← ``aten::linalg_svd``) comes from, with a user line."""
    namespace, _, name = op.partition("::")
    core = ("aten", "prims")
    for site in sites:
        ns, _, n = site.op.partition("::")
        if site.place is None:
            continue
        if site.op == op or (ns in core and namespace in core and _op_key(n) == _op_key(name)):
            return site.place
    return None


def _op_key(name: str) -> str:
    """An op's name without the prefixes and suffixes its variants add (``_linalg_svd``,
    ``special_bessel_j0``, ``linalg_cholesky_ex``, ``erf_inv``): ``svd``, ``besselj0``, ..."""
    name = name.removesuffix("_ex").lstrip("_")
    for prefix in ("linalg_", "special_"):
        name = name.removeprefix(prefix)
    return name.replace("_", "")


def dtype_place(sites: list[OpSite], dtypes: tuple[str, ...]) -> SourceLine | None:
    """Where a float64 or float16 value enters the model: the first op that makes a tensor of
    ``dtypes`` from inputs of none of them (a cast, a promotion), else the first op that makes
    one at all (a constant made in forward, ``torch.tensor(..., dtype=torch.float64)``)."""
    making = [s for s in sites if s.place is not None and set(s.dtypes) & set(dtypes)]
    for site in making:
        if not set(site.input_dtypes) & set(dtypes):
            return site.place
    return making[0].place if making else None


def random_place(sites: list[OpSite]) -> SourceLine | None:
    """The first random op (rand_like, dropout in training mode, ...) with a user line."""
    for site in sites:
        # in-place variants (bernoulli_, uniform_) are what dropout dispatches in eager mode
        if site.place is not None and site.op.partition("::")[2].rstrip("_") in RANDOM_OPS:
            return site.place
    return None


# -- symbolic shapes ----------------------------------------------------------------------------


@dataclass
class ShapeLog:
    """The symbolic-shape events of one ``torch.export`` run, with the user's lines.

    Use as a context manager around the export; then :meth:`specialized` and :meth:`guarded`.
    """

    # (sources like "L['x'].size()[0]", stack as (file id, line) pairs)
    specializations: list[tuple[list[str], list[tuple[int, int]]]] = field(default_factory=list)
    guards: list[tuple[str, list[tuple[int, int]]]] = field(default_factory=list)

    def __enter__(self) -> ShapeLog:
        self._handler = _TraceHandler(self)
        self._logger = logging.getLogger("torch.__trace")
        self._logger.addHandler(self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self._handler)

    def specialized(self, input_name: str, dim: int) -> SourceLine | None:
        """Where dim ``dim`` of ``input_name`` became a constant; any specialization's line when
        torch names the input differently."""
        wanted = f"['{input_name}'].size()[{dim}]"
        ordered = sorted(self.specializations, key=lambda s: not any(wanted in x for x in s[0]))
        for _sources, stack in ordered:
            place = innermost(self._places(stack))
            if place is not None:
                return place
        return None

    def guarded(self, symbol: str) -> SourceLine | None:
        """Where the first guard on ``symbol`` (``s77``) that is not a plain equality was added:
        the Python test on a size that narrowed its range."""
        for expr, stack in self.guards:
            if symbol in expr.replace("(", " ").replace(")", " ").split():
                place = innermost(self._places(stack))
                if place is not None:
                    return place
        return None

    @staticmethod
    def _places(stack: list[tuple[int, int]]) -> list[tuple[str, int]]:
        from torch._logging.structured import INTERN_TABLE

        names = {i: s for s, i in INTERN_TABLE.items()}
        return user_frames("", [(names.get(f, ""), line) for f, line in stack])


class _TraceHandler(logging.Handler):
    """Keeps the two symbolic-shape events of torch's structured trace, with their stacks."""

    def __init__(self, log: ShapeLog) -> None:
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "metadata", None)
        if not isinstance(meta, dict):
            return
        event = meta.get("symbolic_shape_specialization")
        if isinstance(event, dict):
            self.log.specializations.append((list(event.get("sources", [])), _stack(event)))
        event = meta.get("guard_added_fast")
        if isinstance(event, dict):
            self.log.guards.append((str(event.get("expr", "")), _stack(event)))


def _stack(event: dict) -> list[tuple[int, int]]:
    return [(f.get("filename", -1), f.get("line", 0)) for f in event.get("stack") or []]


# -- the factory's source -------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _parsed(path: str) -> tuple[list[str], ast.Module] | None:
    """A user file's lines and syntax tree, read once per export (the child runs one export,
    and every tracer warning and finding asks about the same few files); None if unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        return text.splitlines(), ast.parse(text)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


def factory_place(path: str, factory: str, words: tuple[str, ...]) -> SourceLine | None:
    """The first line of function ``factory`` in ``path`` that contains one of ``words``
    (``.double()``, ``float64``), else its last ``return``: where the factory made the model
    or the example inputs that cause a finding."""
    parsed = _parsed(path)
    if parsed is None:
        return None
    lines, tree = parsed
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == factory:
            body = range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1)
            for n in body:
                if any(w in lines[n - 1] for w in words):
                    return SourceLine(path, n, lines[n - 1])
            returns = [r.lineno for r in ast.walk(node) if isinstance(r, ast.Return)]
            return SourceLine(path, returns[-1], lines[returns[-1] - 1]) if returns else None
    return None


def shape_test_at(path: str, line: int) -> bool:
    """Whether ``line`` of ``path`` holds an ``if``/``while``/conditional expression whose test
    reads a shape (:func:`shape_tests`)."""
    return any(s.line == line for s in shape_tests(path))


def shape_tests(path: str) -> list[SourceLine]:
    """``if``/``while``/conditional expressions in ``path`` whose test reads a shape
    (``.shape``, ``.size()``, ``len()``, ``.dim()``, ``.ndim``, ``.numel()``): what every
    exporter evaluates once and bakes."""
    parsed = _parsed(path)
    if parsed is None:
        return []
    lines, tree = parsed
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.While | ast.IfExp) and _reads_shape(node.test):
            found.append(SourceLine(path, node.lineno, lines[node.lineno - 1]))
    return sorted(found, key=lambda s: s.line)


def _reads_shape(test: ast.AST) -> bool:
    for n in ast.walk(test):
        if isinstance(n, ast.Attribute) and n.attr in ("shape", "ndim"):
            return True
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Attribute) and f.attr in ("size", "dim", "numel"):
                return True
            if isinstance(f, ast.Name) and f.id == "len":
                return True
    return False


def in_autograd_function(path: str, line: int) -> bool:
    """Whether ``line`` of ``path`` is inside a class that subclasses ``Function``
    (``torch.autograd.Function``): found from the source, so helpers in any file count."""
    parsed = _parsed(path)
    if parsed is None:
        return False
    for node in ast.walk(parsed[1]):
        if isinstance(node, ast.ClassDef) and node.lineno <= line <= (node.end_lineno or 0):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b == "Function" or b.endswith(".Function") for b in bases):
                return True
    return False
