"""The truth the runtime-support check is measured against: does session creation really fail?

``build_corpus()`` makes the models (deterministic order, unique ids):

* every node test case of ``onnx.backend.test.case.node.collect_testcases()``;
* the single-node ones re-stamped at other opsets (the op's previous schema version, and the
  newest opset onnx knows) and at other input dtypes the schema allows (bfloat16, float16,
  double, ...); many re-stamps are invalid models, which the labels set aside;
* some com.microsoft ops at several dtypes, and a few hand-built cases (an unknown op and domain,
  an opset or IR version too new, a bfloat16 node inside an If branch, a model-local function);
* the onnx wheel's shipped models.

Every node gets a unique name, so the node a session names can be matched to the prediction.

``label_cases()`` creates ``onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])``
for each model in child processes (two workers; a crash or a hang kills only that child, and the
case is labelled ``crash``) and sorts the outcome: ``ok``; ``unsupported`` (NOT_IMPLEMENTED, no op
registered, an unknown domain, an opset or IR version too new, a FAIL from kernel matching) with
the node and op named by the error; ``invalid`` (any other failure: the model itself is wrong).
Labels are cached in ``tests/benchmarks/.cache/runtime_truth.json`` (git-ignored), keyed by the
model bytes' hash and the onnxruntime version.

``score()`` compares the check's prediction with the labels: precision and recall of "session
creation fails", and the fraction of failing cases whose failing node the check names.

Run the worker by hand: ``python -m tests.core.runtime_truth --worker`` reads paths on stdin.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "tests" / "benchmarks" / ".cache" / "runtime_truth.json"
SESSION_TIMEOUT_S = 60.0
WORKERS = 2
# dtype re-stamps, most telling first (bfloat16 has the fewest CPU kernels).
_DTYPE_VARIANTS = ("bfloat16", "float16", "double", "int8", "uint16")


@dataclass
class Case:
    id: str
    model: onnx.ModelProto

    def data(self) -> bytes:
        return self.model.SerializeToString()


@dataclass
class Label:
    kind: str  # "ok" | "unsupported" | "invalid" | "crash"
    node: str = ""  # the node the runtime named, if any
    op: str = ""
    error: str = ""


# --------------------------------------------------------------------------------- the corpus


def _name_nodes(graph: onnx.GraphProto, prefix: str = "n") -> None:
    for i, n in enumerate(graph.node):
        if not n.name:
            n.name = f"{prefix}{i}_{n.op_type}"
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _name_nodes(a.g, f"{n.name}_{a.name}_")
            for sg in a.graphs:
                _name_nodes(sg, f"{n.name}_{a.name}_")


def _named(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    _name_nodes(m.graph)
    for f in m.functions:
        for i, n in enumerate(f.node):
            n.name = n.name or f"{f.name}_n{i}_{n.op_type}"
    return m


def _restamp_opset(model: onnx.ModelProto, version: int) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = version
    return m


def _restamp_dtype(model: onnx.ModelProto, old: int, new: int) -> onnx.ModelProto | None:
    if any(t.data_type == old for t in model.graph.initializer):
        return None  # would need the weights converted too
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in [*m.graph.input, *m.graph.output, *m.graph.value_info]:
        tt = vi.type.tensor_type
        if vi.type.HasField("tensor_type") and tt.elem_type == old:
            tt.elem_type = new
    return m


def _testcase_variants(model: onnx.ModelProto, name: str) -> list[Case]:
    """Other opsets and dtypes of a single-node ai.onnx test case."""
    out: list[Case] = []
    node = model.graph.node[0]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or node.domain not in ("", "ai.onnx"):
        return out
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, "")
    except onnx.defs.SchemaError:
        return out
    older: list[int] = []
    if schema.since_version > 1:
        with contextlib.suppress(onnx.defs.SchemaError):  # SchemaError: new at this version
            older = [onnx.defs.get_schema(node.op_type, schema.since_version - 1, "").since_version]
    for v in sorted({*older[-1:], onnx.defs.onnx_opset_version()} - {opset}):
        out.append(Case(f"{name}@opset{v}", _restamp_opset(model, v)))
    if not model.graph.input or not schema.inputs:
        return out
    first = model.graph.input[0].type.tensor_type.elem_type
    param = schema.inputs[0].type_str
    allowed = next(
        (set(c.allowed_type_strs) for c in schema.type_constraints if c.type_param_str == param),
        set(),
    )
    picked = 0
    for dt in _DTYPE_VARIANTS:
        elem = _ELEM[dt]
        if elem == first or f"tensor({dt})" not in allowed or picked == 2:
            continue
        m = _restamp_dtype(model, first, elem)
        if m is not None:
            out.append(Case(f"{name}@{dt}", m))
            picked += 1
    return out


_ELEM = {
    "bfloat16": TensorProto.BFLOAT16,
    "float16": TensorProto.FLOAT16,
    "double": TensorProto.DOUBLE,
    "float": TensorProto.FLOAT,
    "int8": TensorProto.INT8,
    "uint16": TensorProto.UINT16,
}

_CONTRIB = (  # (op, number of same-typed inputs): simple com.microsoft ops
    ("Gelu", 1),
    ("FastGelu", 1),
    ("QuickGelu", 1),
    ("BiasGelu", 2),
    ("FusedMatMul", 2),
    ("Inverse", 1),
    ("BiasSoftmax", 2),
    ("SkipLayerNormalization", 3),
    ("NoSuchContribOp", 1),
)


def _single(
    op: str, n_in: int, elem: int, opset: int = 21, domain: str = "", **kw
) -> onnx.ModelProto:
    shapes = [[4, 4]] * n_in
    if op == "SkipLayerNormalization":
        shapes = [[2, 4, 4], [2, 4, 4], [4]]
    if op == "BiasGelu":
        shapes = [[4, 4], [4]]
    ins = [helper.make_tensor_value_info(f"x{i}", elem, s) for i, s in enumerate(shapes)]
    node = helper.make_node(op, [i.name for i in ins], ["y"], name="the_node", domain=domain, **kw)
    graph = helper.make_graph([node], op, ins, [helper.make_tensor_value_info("y", elem, None)])
    imports = [helper.make_opsetid("", opset)]
    if domain:
        imports.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=imports)


def hand_cases() -> list[Case]:
    """Known-answer models, also used by the unit tests."""
    f, bf = TensorProto.FLOAT, TensorProto.BFLOAT16
    out = [
        Case("hand/unknown-op", _single("NoSuchOp", 1, f)),
        Case("hand/unknown-domain", _single("Thing", 1, f, domain="example.custom")),
        Case("hand/opset-too-new", _single("Relu", 1, f, opset=onnx.defs.onnx_opset_version() + 1)),
        Case("hand/bf16-add", _single("Add", 2, bf)),
        Case("hand/if-bf16", if_model(bf)),
        Case("hand/if-float", if_model(f)),
        Case("hand/local-function-bf16", local_function_model(bf)),
        Case("hand/local-function-float", local_function_model(f)),
    ]
    ir = _single("Relu", 1, f)
    ir.ir_version = onnx.IR_VERSION + 1
    out.append(Case("hand/ir-too-new", ir))
    return out


def if_model(elem: int) -> onnx.ModelProto:
    """An If whose then-branch adds ``x + x`` (of ``elem``) and else-branch returns ``x``."""
    x = helper.make_tensor_value_info("x", elem, [2])
    y = helper.make_tensor_value_info("y", elem, [2])
    then_g = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["t"], name="branch_add")],
        "then",
        [],
        [helper.make_tensor_value_info("t", elem, [2])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"], name="branch_id")],
        "else",
        [],
        [helper.make_tensor_value_info("e", elem, [2])],
    )
    node = helper.make_node(
        "If", ["c"], ["y"], name="the_if", then_branch=then_g, else_branch=else_g
    )
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    g = helper.make_graph([node], "if_model", [c, x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])


def local_function_model(elem: int) -> onnx.ModelProto:
    """A model-local function ``custom.AddTwice(a) = Add(Add(a, a), a)`` called once."""
    body = [
        helper.make_node("Add", ["a", "a"], ["b"], name="fn_add1"),
        helper.make_node("Add", ["b", "a"], ["out"], name="fn_add2"),
    ]
    fn = helper.make_function(
        "custom", "AddTwice", ["a"], ["out"], body, [helper.make_opsetid("", 21)]
    )
    x = helper.make_tensor_value_info("x", elem, [2])
    y = helper.make_tensor_value_info("y", elem, [2])
    call = helper.make_node("AddTwice", ["x"], ["y"], name="call", domain="custom")
    g = helper.make_graph([call], "fn_model", [x], [y])
    return helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("custom", 1)],
        functions=[fn],
    )


def build_corpus() -> list[Case]:
    """Every model of the measurement, in a fixed order."""
    import io
    import warnings

    from onnx.backend.test.case.node import collect_testcases

    from tests.model_zoo import shipped_model_id, shipped_models

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        testcases = collect_testcases(None)
    cases: list[Case] = []
    for tc in sorted(testcases, key=lambda t: t.name):
        cases.append(Case(f"node/{tc.name}", tc.model))
        if len(tc.model.graph.node) == 1 and "expanded" not in tc.name:
            cases += _testcase_variants(tc.model, f"node/{tc.name}")
    for op, n in _CONTRIB:
        for dt in ("float", "float16", "double", "bfloat16"):
            cases.append(
                Case(f"contrib/{op}@{dt}", _single(op, n, _ELEM[dt], domain="com.microsoft"))
            )
    cases += hand_cases()
    for path in shipped_models():
        cases.append(Case(f"shipped/{shipped_model_id(path)}", onnx.load(path)))
    return [Case(c.id, _named(c.model)) for c in cases]


def sample(cases: list[Case], n: int, seed: int = 4) -> list[Case]:
    """A deterministic sample of ``n`` cases that always includes the hand-built ones."""
    hand = [c for c in cases if c.id.startswith("hand/")]
    rest = [c for c in cases if not c.id.startswith("hand/")]
    return hand + random.Random(seed).sample(rest, max(0, n - len(hand)))


# --------------------------------------------------------------------------------- the labels

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


def classify(error: str) -> Label:
    """Sort a session-creation error: does the runtime lack support, and for which node?"""
    if not error:
        return Label("ok")
    m = _NAMED.search(error)
    if m:
        return Label("unsupported", node=m.group(2), op=m.group(1), error=error)
    if "No Op registered for" in error:
        m = _NO_OP.search(error)
        node, op = (m.group(1), m.group(2)) if m else ("", "")
        return Label("unsupported", node=node, op=op, error=error)
    m = _NOT_REGISTERED.search(error)
    if m:
        return Label("unsupported", op=m.group(2), error=error)
    if any(s in error for s in _UNSUPPORTED_MODEL):
        return Label("unsupported", error=error)
    if "NOT_IMPLEMENTED" in error:
        return Label("unsupported", error=error)
    return Label("invalid", error=error)


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
                        label = Label("crash") if error is None else classify(error)
                        with lock:
                            stored[keys[case.id]] = label.__dict__
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
    # Classified again on every read: the cache holds what the runtime said, the rules may improve.
    return {c.id: _relabel(Label(**stored[keys[c.id]])) for c in cases}


def _relabel(label: Label) -> Label:
    return label if label.kind == "crash" else classify(label.error)


# --------------------------------------------------------------------------------- the score


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    named: int = 0  # failing cases whose failing node (or op, if unnamed) the check names
    set_aside: dict[str, int] = field(default_factory=dict)  # invalid / crash counts
    misses: list[str] = field(default_factory=list)  # ids of wrong predictions, for reading

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def naming(self) -> float:
        return self.named / max(1, self.tp + self.fn)

    def text(self) -> str:
        return (
            f"cases {self.tp + self.fp + self.fn + self.tn} (set aside {self.set_aside}); "
            f"fails {self.tp + self.fn}: precision {self.precision:.4f}, recall {self.recall:.4f}, "
            f"failing node named {self.naming:.4f}"
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
            fails = label.kind == "unsupported"
            if fails and errors:
                s.tp += 1
                if _names(label, errors, case.model):
                    s.named += 1
                else:
                    s.misses.append(f"unnamed {case.id}: {label.node or label.op}")
            elif fails:
                s.fn += 1
                s.misses.append(f"fn {case.id}: {label.error[:200]}")
            elif errors:
                s.fp += 1
                s.misses.append(f"fp {case.id}: {errors[0].code} {errors[0].message[:150]}")
            else:
                s.tn += 1
    return s


def _names(label: Label, errors: list, model: onnx.ModelProto) -> bool:
    if not label.node and not label.op:
        return any(f.node_index is None for f in errors)  # a model-level failure
    if label.node and any(f.node == label.node for f in errors):
        return True
    if label.node not in _all_node_names(model):
        # A node the runtime made by inlining a function body (onnxruntime leaves those unnamed):
        # the node of the user's graph that failed is the calling one, which the check names.
        return any(f.node_index is not None for f in errors)
    return bool(label.op) and any(f.op_type == label.op for f in errors)


def _all_node_names(model: onnx.ModelProto) -> set[str]:
    names: set[str] = set()

    def walk(g: onnx.GraphProto) -> None:
        for n in g.node:
            names.add(n.name)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)

    walk(model.graph)
    for f in model.functions:
        names.update(n.name for n in f.node)
    return names


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
