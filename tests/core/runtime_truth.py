"""The truth the runtime-support check is measured against: does session creation really fail?

The models come from ``runtime_corpus.build_corpus()``. ``label_cases()`` creates
``onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])`` for each in child
processes (two workers; a crash or a hang kills only that child, and the case is labelled
``crash``) and sorts the outcome (``classify``):

* ``ok``: the session was created.
* ``fails``: the runtime refuses a model that is valid ONNX. ``cause`` says how:
  ``kernel`` (NOT_IMPLEMENTED, no op registered, an unknown domain, a function body whose op has
  no kernel), ``model`` (an opset or IR version too new: no node), ``constructor`` (a kernel's
  constructor threw: "Exception during initialization"), ``body`` (a type error on a node the
  runtime made by inlining a function body: those have no name), ``schema`` (a type or attribute
  error from one of the runtime's own schemas, i.e. a domain onnx does not define, such as
  ``com.microsoft``). ``status`` is the runtime's status name (``NOT_IMPLEMENTED``, ``FAIL``,
  ``INVALID_GRAPH``, ...).
* ``invalid``: any other failure: the model breaks the ONNX spec itself (onnx's own type and shape
  inference reject it); that is the structure and edge checks' business, and set aside here.
* ``crash``: the session process died or hung; set aside.

The failing node is the one the error names when that is a node of the user's graph; otherwise
(a constructor error names none; an inlined node is unnamed) the node the case's generator made
faulty, or the graph's only node. A failure still without a node is model-level.

Labels are cached in ``tests/benchmarks/.cache/runtime_truth.json`` (git-ignored), keyed by the
model bytes' hash and the onnxruntime version; the cache holds what the runtime said, and the
rules above are applied again on every read.

``score()`` compares the check's prediction with the labels: precision and recall of "session
creation fails", and the fraction of node-pinned failures whose failing node the check names.

Run the worker by hand: ``python -m tests.core.runtime_truth --worker`` reads paths on stdin.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from tests.core.runtime_corpus import Case

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "tests" / "benchmarks" / ".cache" / "runtime_truth.json"
SESSION_TIMEOUT_S = 60.0
WORKERS = 2


@dataclass
class Label:
    kind: str  # "ok" | "fails" | "invalid" | "crash"
    node: str = ""  # the failing node, if known
    op: str = ""
    error: str = ""
    cause: str = ""  # see the module docstring
    status: str = ""


# --------------------------------------------------------------------------------- the labels

_STATUS = re.compile(r"\[ONNXRuntimeError\] : \d+ : (\w+) :")
_NAMED = re.compile(
    r"(?:Could not find an implementation for|Failed to find kernel for) (\S+?)\(\d+\)"
    r" (?:node with name '|\(node:')([^']*)'"
)
_NO_OP = re.compile(r'In Node, \("([^"]*)", ([^,]+), "([^"]*)"')
_NOT_REGISTERED = re.compile(
    r"Fatal error: (?:([\w.]+):)?(\w+)\(-?\d+\) is not a registered function/op"
)
_UNSUPPORTED_MODEL = (
    "ValidateOpsetForDomain",
    "Unsupported model IR version",
    "is under development",
    "is till opset",
    "Unsupported model IR",
)
# Schema-level errors, with the op and the node they name.
_TYPE_ERRORS = (
    re.compile(r"of operator \((\w+)\) in node \(([^)]*)\) is invalid"),
    re.compile(
        r"Type parameter \(\w+\) of Optype \((\w+)\) bound to different types .* in node \(([^)]*)\)"
    ),
    re.compile(
        r'In Node, \("([^"]*)", (\w+), "[^"]*", -?\d+\) .*Error (?:Required attribute|Unrecognized attribute)'
    ),
)
_ONNX_DOMAINS = {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.preview"}


def classify(error: str, model: onnx.ModelProto) -> Label:
    """Sort a session-creation error for ``model``: does the runtime refuse a valid model, why,
    and which node does the error name (``node`` empty when it names none of the user's)?"""
    if not error:
        return Label("ok")
    m = _STATUS.search(error)
    status = m.group(1) if m else ""
    nodes = _node_domains(model)

    def fails(cause: str, node: str = "", op: str = "") -> Label:
        return Label("fails", _user_node(node, nodes, model), op, error, cause, status)

    m = _NAMED.search(error)
    if m:
        return fails("kernel", m.group(2), m.group(1))
    if "No Op registered for" in error:
        m = _NO_OP.search(error)
        return fails("kernel", m.group(1), m.group(2)) if m else fails("kernel")
    m = _NOT_REGISTERED.search(error)
    if m:
        return fails("kernel", op=m.group(2))
    if any(s in error for s in _UNSUPPORTED_MODEL):
        return fails("model")
    if "NOT_IMPLEMENTED" in error:
        return fails("kernel")
    if "Exception during initialization" in error:
        return fails("constructor")
    for pattern in _TYPE_ERRORS:
        m = pattern.search(error)
        if not m:
            continue
        op, node = (m.group(1), m.group(2)) if pattern is not _TYPE_ERRORS[2] else m.group(2, 1)
        if node not in nodes:
            return fails("body", op=op)  # a node the runtime made by inlining a function
        if nodes[node] not in _ONNX_DOMAINS:
            return fails("schema", node, op)  # the runtime's own schema for a domain onnx lacks
        break
    return Label("invalid", error=error, status=status)


@functools.lru_cache(maxsize=64)
def _node_domains_cached(data: bytes) -> dict[str, str]:
    model = onnx.ModelProto.FromString(data)
    out: dict[str, str] = {}

    def walk(g: onnx.GraphProto) -> None:
        for n in g.node:
            out[n.name] = n.domain
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)

    walk(model.graph)
    for f in model.functions:
        for n in f.node:
            out[n.name] = n.domain
    out.pop("", None)
    return out


def _node_domains(model: onnx.ModelProto) -> dict[str, str]:
    """Name → domain of every named node of the user's model (graphs, subgraphs, functions)."""
    return _node_domains_cached(model.SerializeToString())


def _user_node(name: str, nodes: dict[str, str], model: onnx.ModelProto) -> str:
    """The user's node an error's node name stands for: itself, or for a node the runtime made by
    inlining a model-local function (``_inlfunc_<function>_<node>``) the function's node; else
    ""."""
    if name in nodes:
        return name
    for f in model.functions:
        prefix = f"_inlfunc_{f.name}_"
        if name.startswith(prefix) and name[len(prefix) :] in nodes:
            return name[len(prefix) :]
    return ""


def _pin(label: Label, case: Case) -> Label:
    """Give a node-level failure that names none of the user's nodes the node it must be: the one
    the case's generator made faulty, else the main graph's only node."""
    if label.kind != "fails" or label.node or label.cause == "model":
        return label
    g = case.model.graph
    node = case.fault or (g.node[0].name if len(g.node) == 1 else "")
    if node:
        label.node = node
    return label


def _worker() -> None:
    """Child side: one path per stdin line → one JSON line ``{"error": "..."}`` on stdout."""
    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    for line in sys.stdin:
        path = line.strip()
        try:
            ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            error = ""
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
        sys.stdout.write(json.dumps({"error": error}) + "\n")
        sys.stdout.flush()


class _Child:
    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def ask(self, path: Path) -> str | None:
        """The session error for ``path`` ("" if none); None if the child crashed or hung."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.core.runtime_truth", "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                cwd=ROOT,
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(SESSION_TIMEOUT_S)
        if not answer or not answer[0]:
            self.close()
            reader.join()
            return None
        return json.loads(answer[0])["error"]

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
            self.proc = None


def _key(case: Case, version: str) -> str:
    return f"{version}:{hashlib.sha1(case.data()).hexdigest()}"


def label_cases(cases: list[Case], cache: Path = CACHE) -> dict[str, Label]:
    """case id → truth, from the cache where present, else from sessions in child processes."""
    import onnxruntime

    version = onnxruntime.__version__
    stored: dict[str, dict] = json.loads(cache.read_text()) if cache.exists() else {}
    keys = {c.id: _key(c, version) for c in cases}
    todo = [c for c in cases if keys[c.id] not in stored]
    if todo:
        with tempfile.TemporaryDirectory() as tmp:
            lock = threading.Lock()
            queue = list(enumerate(todo))

            def work() -> None:
                child = _Child()
                try:
                    while True:
                        with lock:
                            if not queue:
                                return
                            i, case = queue.pop()
                        path = Path(tmp) / f"case{i}.onnx"
                        path.write_bytes(case.data())
                        error = child.ask(path)
                        with lock:
                            stored[keys[case.id]] = {"crash": error is None, "error": error or ""}
                        path.unlink()
                finally:
                    child.close()

            threads = [threading.Thread(target=work) for _ in range(WORKERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp_cache = cache.with_suffix(".tmp")
        tmp_cache.write_text(json.dumps(stored))
        os.replace(tmp_cache, cache)
    out = {}
    for c in cases:
        said = stored[keys[c.id]]
        crashed = said.get("crash", said.get("kind") == "crash")
        out[c.id] = Label("crash") if crashed else _pin(classify(said["error"], c.model), c)
    return out


# --------------------------------------------------------------------------------- the score


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    pinned: int = 0  # true failures whose failing node is known
    named: int = 0  # ... whose failing node the check names
    set_aside: dict[str, int] = field(default_factory=dict)  # invalid / crash counts
    by_status: dict[str, list[int]] = field(default_factory=dict)  # status → [found, total]
    by_cause: dict[str, list[int]] = field(default_factory=dict)  # cause → [found, total]
    misses: list[str] = field(default_factory=list)  # ids of wrong predictions, for reading

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def naming(self) -> float:
        return self.named / max(1, self.pinned)

    def text(self) -> str:
        per = lambda d: ", ".join(f"{k or '?'} {a}/{b}" for k, (a, b) in sorted(d.items()))  # noqa: E731
        return (
            f"cases {self.tp + self.fp + self.fn + self.tn} (set aside {self.set_aside}); "
            f"fails {self.tp + self.fn}: precision {self.precision:.4f}, recall {self.recall:.4f}, "
            f"failing node named {self.naming:.4f} ({self.named}/{self.pinned} node-pinned)\n"
            f"  found by status: {per(self.by_status)}\n  found by cause: {per(self.by_cause)}"
        )


def score(cases: list[Case], labels: dict[str, Label]) -> Score:
    """Predict each case with the check (no session) and compare with its label."""
    from inspector.core.checks import RuntimeTarget
    from inspector.core.checks.runtime_support import check
    from inspector.core.graph import build_model
    from inspector.core.loader import LoadedFile

    s = Score()
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            label = labels[case.id]
            if label.kind in ("invalid", "crash"):
                s.set_aside[label.kind] = s.set_aside.get(label.kind, 0) + 1
                continue
            loaded = LoadedFile(Path(tmp) / "m.onnx", case.model.ByteSize(), case.model, {}, 0)
            errors = [
                f
                for f in check(build_model(loaded), RuntimeTarget())
                if f.severity.value == "error"
            ]
            fails = label.kind == "fails"
            if fails:
                for table, key in ((s.by_status, label.status), (s.by_cause, label.cause)):
                    row = table.setdefault(key, [0, 0])
                    row[0] += bool(errors)
                    row[1] += 1
            if fails and errors:
                s.tp += 1
                if label.node:
                    s.pinned += 1
                    # A node inside a subgraph of the node the runtime names is that failure.
                    if any(f.node == label.node or label.node in f.path for f in errors):
                        s.named += 1
                    else:
                        s.misses.append(f"unnamed {case.id}: {label.node} ({label.cause})")
                elif not label.op and not any(f.node_index is None for f in errors):
                    s.misses.append(f"not model-level {case.id}")
            elif fails:
                s.fn += 1
                s.misses.append(f"fn {case.id}: {label.error[:200]}")
            elif errors:
                s.fp += 1
                s.misses.append(f"fp {case.id}: {errors[0].code} {errors[0].message[:150]}")
            else:
                s.tn += 1
    return s


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
