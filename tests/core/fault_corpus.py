"""A corpus of known dtype/shape faults, injected into valid models, to measure the edges check.

``inject(proto, kind)`` breaks one valid model in one known way and records where the fault is:
the node it breaks and the edge it sits on. Every node is named first (``node<i>_<Op>``), so a
tool's message can be matched to the node by name. The fault kinds are those of issue 5:

==================  ==========================================================  ====================
kind                what is injected                                            expected code
==================  ==========================================================  ====================
float64-constant    a float32 constant input of Add/Sub/Mul/Div becomes float64  dtype-mismatch
                    (or, with none, a float64 scalar Add is spliced into an
                    edge)
float16-input       a float32 graph input becomes float16 where it meets a       dtype-mismatch
                    float32 weight
matmul-inner        a MatMul/Gemm weight gets K+1 (transB honoured)              shape-mismatch
conv-channels       a Conv weight gets one input channel too many                shape-mismatch
reshape-count       a constant Reshape target gets one element too many per row  shape-mismatch
concat-offaxis      a Slice trims one off-axis dim of one Concat input           shape-mismatch
declared-type       value_info (or a graph output) declares the wrong dtype     declared-type-conflict
declared-shape      a graph output (or value_info) declares a dim one too big    declared-shape-conflict
==================  ==========================================================  ====================

``build_cases(sources)`` makes one case per (model, applicable kind) and one case per model with
three faults of different kinds on different nodes. ``score_ours`` / ``score_checker`` /
``score_ort`` measure detection (the tool says something is wrong) and localization (it names
the faulty node or edge); ORT runs in child processes (``python -m tests.core.fault_corpus
--ort-worker`` reads model paths on stdin), creating a session and running it on random feeds.

Known limitations: faults go into the main graph only; sites are chosen deterministically from
the model's name, one per kind, so a model contributes at most one case per kind.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

KINDS = (
    "float64-constant",
    "float16-input",
    "matmul-inner",
    "conv-channels",
    "reshape-count",
    "concat-offaxis",
    "declared-type",
    "declared-shape",
)
CODES = {
    "float64-constant": "dtype-mismatch",
    "float16-input": "dtype-mismatch",
    "matmul-inner": "shape-mismatch",
    "conv-channels": "shape-mismatch",
    "reshape-count": "shape-mismatch",
    "concat-offaxis": "shape-mismatch",
    "declared-type": "declared-type-conflict",
    "declared-shape": "declared-shape-conflict",
}
_FLOATS = {TensorProto.FLOAT}


@dataclass(frozen=True)
class Fault:
    kind: str
    node: str  # the node the fault breaks (by name; every node is named)
    edges: frozenset[str]  # the edge(s) it sits on
    also_nodes: frozenset[str] = frozenset()  # other nodes where it equally shows

    @property
    def code(self) -> str:
        return CODES[self.kind]

    @property
    def nodes(self) -> frozenset[str]:
        return self.also_nodes | {self.node}


@dataclass
class Case:
    id: str  # "simple/test_add+float16-input"
    proto: onnx.ModelProto
    faults: list[Fault]
    path: Path | None = None


@dataclass
class _Site:
    """What an injector needs to know about the model: inferred types and who uses what."""

    proto: onnx.ModelProto
    types: dict[str, tuple[int, tuple[int | str | None, ...] | None]] = field(default_factory=dict)
    consumers: dict[str, list[int]] = field(default_factory=dict)
    producer: dict[str, int] = field(default_factory=dict)
    inits: dict[str, TensorProto] = field(default_factory=dict)
    constants: dict[str, TensorProto] = field(default_factory=dict)  # Constant node outputs

    @property
    def opset(self) -> int:
        return next((o.version for o in self.proto.opset_import if o.domain in ("", "ai.onnx")), 1)

    def shape(self, name: str) -> tuple[int | str | None, ...] | None:
        return self.types.get(name, (0, None))[1]

    def elem(self, name: str) -> int:
        return self.types.get(name, (0, None))[0]


def prepare(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy with every node named ``node<i>_<Op>`` (names kept where unique and non-empty)."""
    p = copy.deepcopy(proto)
    seen: set[str] = set()
    for i, n in enumerate(p.graph.node):
        if not n.name or n.name in seen:
            n.name = f"node{i}_{n.op_type}"
        seen.add(n.name)
    return p


def _analyse(proto: onnx.ModelProto) -> _Site:
    s = _Site(proto)
    # Types from inference alone: a declared shape the producer does not give is no truth to
    # build a "declared-*" fault on (the injected declaration must contradict the producer).
    bare = copy.deepcopy(proto)
    del bare.graph.value_info[:]
    for vi in bare.graph.output:
        vi.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(bare, strict_mode=False)
    except Exception:
        inferred = bare
    g = inferred.graph
    for vi in (*g.input, *g.value_info, *g.output):
        tt = vi.type.tensor_type
        if vi.type.HasField("tensor_type"):
            shape = None
            if tt.HasField("shape"):
                shape = tuple(
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                    for d in tt.shape.dim
                )
            s.types[vi.name] = (tt.elem_type, shape)
    for t in proto.graph.initializer:
        s.inits[t.name] = t
        s.types[t.name] = (t.data_type, tuple(t.dims))
    for i, n in enumerate(proto.graph.node):
        for name in n.input:
            s.consumers.setdefault(name, []).append(i)
        for name in n.output:
            s.producer[name] = i
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                    s.constants[n.output[0]] = a.t
    return s


def _pick(sites: list, key: str) -> object | None:
    """One site, chosen deterministically from the case id (so cases differ across models)."""
    return sites[zlib.crc32(key.encode()) % len(sites)] if sites else None


def _add_initializer(proto: onnx.ModelProto, t: TensorProto) -> None:
    proto.graph.initializer.append(t)
    if proto.ir_version < 4:  # IR < 4: every initializer must also be a graph input
        proto.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))


def _fresh(proto: onnx.ModelProto, base: str) -> str:
    used = {n for node in proto.graph.node for n in (*node.input, *node.output)}
    used |= {t.name for t in proto.graph.initializer} | {vi.name for vi in proto.graph.input}
    name, k = f"{base}__fault", 1
    while name in used:
        name, k = f"{base}__fault{k}", k + 1
    return name


def _const_values(s: _Site, name: str) -> np.ndarray | None:
    t = s.inits.get(name) or s.constants.get(name)
    if t is None:
        return None
    try:
        return numpy_helper.to_array(t)
    except Exception:  # the light models' weights are stripped to their shapes
        return None


# ------------------------------------------------------------------------------------ injectors


def _float64_constant(s: _Site, taken: set[str], key: str) -> Fault | None:
    g = s.proto.graph
    sites = []
    for i, n in enumerate(g.node):
        if n.op_type not in ("Add", "Sub", "Mul", "Div") or n.name in taken or len(n.input) != 2:
            continue
        for slot, name in enumerate(n.input):
            other = n.input[1 - slot]
            if (
                (name in s.inits or name in s.constants)
                and s.elem(name) in _FLOATS
                and s.elem(other) in _FLOATS
                and _const_values(s, name) is not None
            ):
                sites.append((i, slot))
    site = _pick(sites, key)
    if site is not None:
        i, slot = site  # type: ignore[misc]
        n = g.node[i]
        new = _fresh(s.proto, n.input[slot])
        arr = _const_values(s, n.input[slot]).astype(np.float64)  # type: ignore[union-attr]
        _add_initializer(s.proto, numpy_helper.from_array(arr, new))
        n.input[slot] = new
        return Fault("float64-constant", n.name, frozenset({new}))
    # No constant operand: splice ``Add(x, float64 scalar)`` into a float32 edge.
    edges = [
        (i, slot)
        for i, n in enumerate(g.node)
        if n.name not in taken
        for slot, name in enumerate(n.input)
        if name and s.elem(name) in _FLOATS and name not in s.inits
    ]
    site = _pick(edges, key)
    if site is None:
        return None
    i, slot = site  # type: ignore[misc]
    consumer = g.node[i]
    src = consumer.input[slot]
    c, out = _fresh(s.proto, "offset64"), _fresh(s.proto, src + "_plus")
    _add_initializer(s.proto, numpy_helper.from_array(np.array(0.5, np.float64), c))
    add = helper.make_node("Add", [src, c], [out], name=_fresh(s.proto, "fault_add"))
    g.node.insert(i, add)
    consumer.input[slot] = out
    return Fault("float64-constant", add.name, frozenset({c}))


def _float16_input(s: _Site, taken: set[str], key: str) -> Fault | None:
    g = s.proto.graph
    sites = []
    for vi in g.input:
        if vi.name in s.inits or vi.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        if any(g.node[i].name in taken for i in s.consumers.get(vi.name, [])):
            continue  # two faults meeting at one node would hide which type is right
        meets = [
            g.node[i].name
            for i in s.consumers.get(vi.name, [])
            if g.node[i].name not in taken
            and g.node[i].op_type in _SAME_TYPE_OPS
            and any(o != vi.name and s.elem(o) in _FLOATS for o in g.node[i].input)
        ]
        if meets:
            sites.append((vi, meets))
    site = _pick(sites, key)
    if site is None:
        return None
    vi, meets = site  # type: ignore[misc]
    vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    return Fault("float16-input", meets[0], frozenset({vi.name}), frozenset(meets))


_SAME_TYPE_OPS = frozenset(
    [
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Pow",
        "MatMul",
        "Gemm",
        "Conv",
        "ConvTranspose",
        "Concat",
        "Max",
        "Min",
        "Sum",
        "Mean",
        "Where",
        "PRelu",
        "BatchNormalization",
        "InstanceNormalization",
        "LayerNormalization",
        "Equal",
        "Greater",
        "Less",
    ]
)


def _matmul_inner(s: _Site, taken: set[str], key: str) -> Fault | None:
    g = s.proto.graph
    sites = [
        i
        for i, n in enumerate(g.node)
        if n.op_type in ("MatMul", "Gemm")
        and n.name not in taken
        and len(n.input) > 1
        and n.input[1] in s.inits
        and len(s.inits[n.input[1]].dims) == 2
    ]
    i = _pick(sites, key)
    if i is None:
        return None
    n = g.node[i]  # type: ignore[index]
    w = s.inits[n.input[1]]
    dims = list(w.dims)
    trans_b = any(a.name == "transB" and a.i for a in n.attribute)
    dims[1 if (n.op_type == "Gemm" and trans_b) else 0] += 1
    return _replace_weight(s, n, 1, dims, "matmul-inner")


def _replace_weight(s: _Site, n: onnx.NodeProto, slot: int, dims: list[int], kind: str) -> Fault:
    w = s.inits[n.input[slot]]
    new = _fresh(s.proto, n.input[slot])
    arr = np.zeros(dims, helper.tensor_dtype_to_np_dtype(w.data_type))
    _add_initializer(s.proto, numpy_helper.from_array(arr, new))
    n.input[slot] = new
    return Fault(kind, n.name, frozenset({new}))


def _conv_channels(s: _Site, taken: set[str], key: str) -> Fault | None:
    g = s.proto.graph
    sites = [
        i
        for i, n in enumerate(g.node)
        if n.op_type == "Conv"
        and n.name not in taken
        and n.input[1] in s.inits
        and len(s.inits[n.input[1]].dims) >= 3
        and s.shape(n.input[0]) is not None
        and isinstance(s.shape(n.input[0])[1], int)  # type: ignore[index]
    ]
    i = _pick(sites, key)
    if i is None:
        return None
    n = g.node[i]  # type: ignore[index]
    dims = list(s.inits[n.input[1]].dims)
    dims[1] += 1
    return _replace_weight(s, n, 1, dims, "conv-channels")


def _reshape_count(s: _Site, taken: set[str], key: str) -> Fault | None:
    g = s.proto.graph
    if s.opset < 5:
        return None
    sites = []
    for i, n in enumerate(g.node):
        if n.op_type != "Reshape" or n.name in taken or len(n.input) < 2:
            continue
        if any(a.name == "allowzero" and a.i for a in n.attribute):
            continue
        if _const_values(s, n.input[1]) is None:
            continue
        out, data = s.shape(n.output[0]), s.shape(n.input[0])
        if not out or data is None:
            continue
        target = []
        for k, d in enumerate(out):
            if isinstance(d, int) and d > 0:
                target.append(d)
            elif d is not None and k < len(data) and data[k] == d:
                target.append(0)  # a symbol copied from the input
            else:
                break
        else:
            ints = [k for k, d in enumerate(target) if d > 0]
            if ints:
                target[ints[-1]] += 1
                sites.append((i, target))
    site = _pick(sites, key)
    if site is None:
        return None
    i, target = site  # type: ignore[misc]
    n = g.node[i]
    new = _fresh(s.proto, n.input[1])
    _add_initializer(s.proto, numpy_helper.from_array(np.array(target, np.int64), new))
    n.input[1] = new
    return Fault("reshape-count", n.name, frozenset({new}))


def _concat_offaxis(s: _Site, taken: set[str], key: str) -> Fault | None:
    g = s.proto.graph
    sites = []
    for i, n in enumerate(g.node):
        if n.op_type != "Concat" or n.name in taken or len(n.input) < 2:
            continue
        axis = next((a.i for a in n.attribute if a.name == "axis"), 1 if s.opset < 4 else 0)
        for slot, name in enumerate(n.input):
            shape = s.shape(name)
            if not shape or len(shape) < 2:
                continue
            ax = axis % len(shape)
            dims = [k for k, d in enumerate(shape) if k != ax and isinstance(d, int) and d >= 2]
            if dims:
                sites.append((i, slot, dims[-1]))
                break
    site = _pick(sites, key)
    if site is None:
        return None
    i, slot, dim = site  # type: ignore[misc]
    n = g.node[i]
    src = n.input[slot]
    size = s.shape(src)[dim]  # type: ignore[index]
    out = _fresh(s.proto, src + "_trimmed")
    name = _fresh(s.proto, "fault_slice")
    if s.opset >= 10:
        consts = []
        for label, values in (("starts", [0]), ("ends", [size - 1]), ("axes", [dim])):
            c = _fresh(s.proto, f"{name}_{label}")
            _add_initializer(s.proto, numpy_helper.from_array(np.array(values, np.int64), c))
            consts.append(c)
        sl = helper.make_node("Slice", [src, *consts], [out], name=name)
    else:
        sl = helper.make_node(
            "Slice", [src], [out], name=name, starts=[0], ends=[size - 1], axes=[dim]
        )
    g.node.insert(i, sl)
    n.input[slot] = out
    return Fault("concat-offaxis", n.name, frozenset({out}))


def _declared(kind: str) -> Callable[[_Site, set[str], str], Fault | None]:
    def inject(s: _Site, taken: set[str], key: str) -> Fault | None:
        g = s.proto.graph
        outputs = {vi.name for vi in g.output}
        produced = [
            (name, i)
            for name, i in s.producer.items()
            if g.node[i].name not in taken
            and s.elem(name)
            and s.shape(name) is not None
            # The check does not infer through model-local functions (a documented limit).
            and g.node[i].domain in ("", "ai.onnx", "ai.onnx.ml")
        ]
        if kind == "declared-shape":
            produced = [(n, i) for n, i in produced if any(isinstance(d, int) for d in s.shape(n))]  # type: ignore[union-attr]
        # declared-type prefers value_info (an intermediate), declared-shape a graph output.
        preferred = [p for p in produced if (p[0] in outputs) == (kind == "declared-shape")]
        site = _pick(sorted(preferred or produced), key)
        if site is None:
            return None
        name, i = site  # type: ignore[misc]
        elem, shape = s.types[name]
        if kind == "declared-type":
            elem = TensorProto.DOUBLE if elem != TensorProto.DOUBLE else TensorProto.FLOAT
        else:
            k = max(k for k, d in enumerate(shape) if isinstance(d, int))  # type: ignore[arg-type]
            shape = (*shape[:k], shape[k] + 1, *shape[k + 1 :])  # type: ignore[index, operator]
        vi = helper.make_tensor_value_info(name, elem, list(shape))  # type: ignore[arg-type]
        target = g.output if name in outputs else g.value_info
        for old in target:
            if old.name == name:
                old.CopyFrom(vi)
                break
        else:
            target.append(vi)
        return Fault(kind, g.node[i].name, frozenset({name}))

    return inject


INJECTORS: dict[str, Callable[[_Site, set[str], str], Fault | None]] = {
    "float64-constant": _float64_constant,
    "float16-input": _float16_input,
    "matmul-inner": _matmul_inner,
    "conv-channels": _conv_channels,
    "reshape-count": _reshape_count,
    "concat-offaxis": _concat_offaxis,
    "declared-type": _declared("declared-type"),
    "declared-shape": _declared("declared-shape"),
}


def inject(
    proto: onnx.ModelProto, kinds: Iterable[str], key: str
) -> tuple[onnx.ModelProto, list[Fault]]:
    """A named copy of ``proto`` with one fault of each kind that finds a site (on distinct
    nodes); the faults in the order injected."""
    p = prepare(proto)
    faults: list[Fault] = []
    taken: set[str] = set()
    for kind in kinds:
        site = _analyse(p)
        f = INJECTORS[kind](site, taken, f"{key}:{kind}")
        if f is not None:
            faults.append(f)
            # Keep later faults off the nodes this one feeds, so each shows on its own node.
            after = _analyse(p)
            taken |= f.nodes | {
                p.graph.node[i].name for e in f.edges for i in after.consumers.get(e, [])
            }
    return p, faults


def build_cases(sources: Iterable[tuple[str, onnx.ModelProto]], multi: bool = True) -> list[Case]:
    """One case per (model, kind that applies), and one three-fault case per model that has
    three kinds on distinct nodes."""
    cases: list[Case] = []
    for sid, proto in sources:
        applicable = []
        for kind in KINDS:
            p, faults = inject(proto, [kind], sid)
            if faults:
                cases.append(Case(f"{sid}+{kind}", p, faults))
                applicable.append(kind)
        if multi and len(applicable) >= 3:
            # Rotate through the kinds so the corpus mixes dtype, shape and declared faults.
            start = zlib.crc32(sid.encode()) % len(applicable)
            order = applicable[start:] + applicable[:start]
            p, faults = inject(proto, order, sid)
            if len(faults) >= 3:
                p, faults = inject(proto, [f.kind for f in faults[:3]], sid)
                cases.append(Case(f"{sid}+multi", p, faults))
    return cases


def write_cases(cases: list[Case], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, c in enumerate(cases):
        c.path = folder / f"case{k:04d}.onnx"
        onnx.save(c.proto, c.path)


def node_indices(proto: onnx.ModelProto) -> dict[str, int]:
    return {n.name: i for i, n in enumerate(proto.graph.node)}


# -------------------------------------------------------------------------------------- scoring


def names_fault(message: str, fault: Fault) -> bool:
    """Whether a tool's error text names the fault's node, or one of its (distinctive) edges."""
    for name in (*fault.nodes, *(e for e in fault.edges if len(e) >= 4)):
        if re.search(rf"(?<![\w./]){re.escape(name)}(?![\w./])", message):
            return True
    return False


@dataclass
class Outcome:
    """Per case: whether the tool said something is wrong, and which faults it localized."""

    detected: bool
    localized: list[bool]  # per fault, in case order
    right_edge: list[bool] = field(default_factory=list)  # ours only: finding on the fault's edge


def score_ours(case: Case, findings: list) -> Outcome:
    index = node_indices(case.proto)
    errors = [f for f in findings if f.severity.value == "error" and not f.path]
    loc, edge = [], []
    for fault in case.faults:
        at = {index[n] for n in fault.nodes}
        hits = [f for f in errors if f.code == fault.code and f.node_index in at]
        loc.append(bool(hits))
        edge.append(any(f.tensor in fault.edges for f in hits))
    return Outcome(bool(errors), loc, edge)


def score_message(case: Case, error: str | None) -> Outcome:
    if not error:
        return Outcome(False, [False] * len(case.faults))
    return Outcome(True, [names_fault(error, f) for f in case.faults])


def checker_error(proto: onnx.ModelProto) -> str | None:
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:
        return str(e)
    return None


_WORKER = "tests.core.fault_corpus"


def ort_errors(paths: list[Path], timeout: float = 120.0) -> dict[Path, str | None]:
    """Session creation + one run on random feeds, in child processes; path → error or None.

    One worker handles many models; if it crashes or hangs, the model it was on is labelled
    with that, and a fresh worker goes on with the rest.
    """
    results: dict[Path, str | None] = {}
    todo = list(paths)
    while todo:
        proc = subprocess.Popen(
            [sys.executable, "-m", _WORKER, "--ort-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            out, _ = proc.communicate("\n".join(map(str, todo)) + "\n", timeout=timeout * len(todo))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        for line in out.splitlines():
            r = json.loads(line)
            results[Path(r["path"])] = r["error"]
        done = [p for p in todo if p in results]
        todo = [p for p in todo if p not in results]
        if todo:  # the worker died on todo[0]
            results[todo[0]] = f"worker crashed (exit code {proc.returncode})"
            todo = todo[1:]
        del done
    return results


def _ort_worker() -> None:
    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    rng = np.random.default_rng(0)
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        error = None
        try:
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            feeds = {}
            for i in sess.get_inputs():
                shape = [d if isinstance(d, int) else 1 for d in i.shape]
                dt = _ORT_TYPES.get(i.type, np.float32)
                feeds[i.name] = (
                    rng.random(shape).astype(dt) if dt != np.bool_ else np.ones(shape, bool)
                )
            sess.run(None, feeds)
        except Exception as e:
            error = str(e)
        print(json.dumps({"path": path, "error": error}), flush=True)


_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
}


if __name__ == "__main__" and sys.argv[1:] == ["--ort-worker"]:
    _ort_worker()
