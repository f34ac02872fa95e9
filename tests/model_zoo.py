"""Real ONNX models for the test suite: the onnx wheel's shipped models, and models built here.

Loaded as a pytest plugin by the root conftest (``pytest_plugins = ["tests.model_zoo"]``).

Two sources:

* ``shipped_models()`` lists the models the onnx wheel ships under
  ``onnx/backend/test/data/{light,pytorch-converted,pytorch-operator,simple}``. They cost nothing
  to build and cover a wide spread of real operators (the ``light_*`` ones are full-size CNNs
  such as ResNet-50 and DenseNet-121 whose weights are replaced by shapes, so they do not run).
  Tests that loop over all of them parametrize with ``shipped_model_params()``: the default run
  keeps the ``SHIPPED_SAMPLE`` (one model per kind of graph), ``-m corpus`` runs the rest.
* Session-scoped fixtures that build small models once per test session into
  ``tmp_path_factory``:

  ============================  ======================================================  =========
  fixture                       what the model contains                                 exporter
  ============================  ======================================================  =========
  ``torch_cnn``                 Conv, BatchNormalization, Relu, MaxPool, Gemm; dynamic  dynamo,
                                ``batch`` dim; BatchNormalization kept as its own node  unoptimized
  ``torch_transformer``         one ``nn.TransformerEncoderLayer`` (d_model 32,         dynamo
                                4 heads): MatMul, Softmax, LayerNormalization
  ``torch_lstm``                a 2-layer ``nn.LSTM`` and a linear head: LSTM, Gemm     dynamo
  ``torch_if_loop``             a ``torch.jit.script``-ed module with a data-dependent  TorchScript
                                ``if`` (ONNX If, two branches) and a ``for`` loop whose  (legacy)
                                trip count is an input (ONNX Loop with a body)
  ``helper_if_loop_function``   built with ``onnx.helper``: an If with two branches,    none
                                a Loop with a body, and a model-local function
                                (FunctionProto with an attribute) called from the
                                main graph
  ============================  ======================================================  =========

Every torch export runs in a child process (``export_in_child``), so the test process never
imports torch and a hung export is killed by a timeout. A fixture skips when torch is not
installed. All models pass ``onnx.checker.check_model`` and load in ONNX Runtime's CPU provider
(tests/core/test_model_zoo.py).

Exporter notes (torch 2.13, onnxscript 0.7): the dynamo exporter (``torch.export`` +
onnxscript) handles the CNN, transformer and LSTM in about a second each. Its optimizer folds an
eval-mode BatchNormalization into the preceding Conv, so the CNN is exported with
``optimize=False`` to keep the BatchNormalization node. For If/Loop, the legacy TorchScript
exporter (``dynamo=False``) still turns a scripted module's Python ``if`` and ``for`` into ONNX
If and Loop in one go, and it was tried first as planned; the dynamo exporter traces Python
control flow away (a ``for`` is unrolled, an ``if`` on data fails) and would need
``torch.cond`` for If. The TorchScript exporter is deprecated and prints a warning (silenced
in the child).

Known limitations: the light models' ``*_output_0.pb`` files are references for inputs that are
not shipped; ``shipped_test_data`` returns the ``test_data_set_*`` folders only, and
``shipped_reference_outputs`` the light models' output files.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import onnx
import pytest

SHIPPED_MODEL_FOLDERS = ("light", "pytorch-converted", "pytorch-operator", "simple")

EXPORT_TIMEOUT_S = 300.0


# --- models shipped with the onnx wheel -----------------------------------------------------


def shipped_data_dir() -> Path:
    """The onnx wheel's ``onnx/backend/test/data`` folder (found without importing onnx)."""
    spec = importlib.util.find_spec("onnx")
    if spec is None or spec.origin is None:
        raise RuntimeError("the onnx package is not installed")
    return Path(spec.origin).parent / "backend" / "test" / "data"


def shipped_models() -> list[Path]:
    """Every model the onnx wheel ships in the light, pytorch-*, and simple test folders, sorted.

    ``light/`` holds ``*.onnx`` files directly; the other folders hold one ``<case>/model.onnx``
    per test case.
    """
    root = shipped_data_dir()
    models: list[Path] = []
    for folder in SHIPPED_MODEL_FOLDERS:
        base = root / folder
        if folder == "light":
            models.extend(base.glob("*.onnx"))
        else:
            models.extend(base.glob("*/model.onnx"))
    return sorted(models)


# The shipped models every corpus loop keeps in the default run, each for a kind of graph the
# corpus holds that no other sample has; with them every corpus test still runs by default, in
# seconds instead of the minutes 149 models take (mostly the window tests, ~1.5 s a model).
# The rest are marked ``corpus`` and run with ``python -m pytest -m corpus``.
SHIPPED_SAMPLE = {
    "light/light_inception_v1": "full-size CNN (weights stripped): four-branch Concat, LRN",
    "light/light_resnet50": "full-size CNN: residual Adds over BatchNormalization, 415 nodes",
    "pytorch-converted/test_PixelShuffle": "a Constant -> Reshape -> Transpose chain",
    "pytorch-converted/test_Embedding": "an int64 index input (Gather)",
    "pytorch-converted/test_GLU": "Split with several outputs feeding one node",
    "pytorch-operator/test_operator_chunk": "one node, two graph outputs",
    "pytorch-operator/test_operator_symbolic_override_nested": "three outputs, variadic Sum",
    "simple/test_sequence_model1": "sequence-typed values, not tensors",
    "simple/test_strnorm_model_monday_empty_output": "string tensors, an empty output",
    "simple/test_gradient_of_add": "an op from another domain (ai.onnx.preview.training)",
    "simple/test_expand_shape_model1": "a shape given as a graph input (Expand)",
}


def shipped_model_params() -> list:
    """``shipped_models()`` as ``pytest.param``s for ``@pytest.mark.parametrize``: the
    ``SHIPPED_SAMPLE`` models plain, every other one marked ``corpus`` (not in the default run).

    The params carry no id, so a ``parametrize(..., ids=...)`` callable still names them.
    """
    return [
        pytest.param(p, marks=() if shipped_model_id(p) in SHIPPED_SAMPLE else pytest.mark.corpus)
        for p in shipped_models()
    ]


def shipped_test_data(model_path: Path) -> list[Path]:
    """The ``test_data_set_*`` folders next to a shipped model, sorted; empty if it has none.

    Each folder holds ``input_<i>.pb`` and ``output_<i>.pb`` TensorProtos in the order of the
    graph's inputs and outputs (load them with ``onnx.numpy_helper.to_array(onnx.load_tensor())``).
    """
    model_path = Path(model_path)
    return sorted(p for p in model_path.parent.glob("test_data_set_*") if p.is_dir())


def shipped_reference_outputs(model_path: Path) -> list[Path]:
    """For a ``light/`` model, its ``<name>_output_<i>.pb`` files (no inputs are shipped)."""
    model_path = Path(model_path)
    return sorted(model_path.parent.glob(f"{model_path.stem}_output_*.pb"))


def count_ops(graph: onnx.GraphProto) -> Counter:
    """Op type → count over a graph and its If/Loop/Scan subgraphs, straight from the protobuf."""
    c: Counter = Counter(n.op_type for n in graph.node)
    for n in graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                c += count_ops(a.g)
    return c


def shipped_model_id(model_path: Path) -> str:
    """A short test id for a shipped model, e.g. ``simple/test_sign_model``."""
    model_path = Path(model_path)
    if model_path.name == "model.onnx":
        return f"{model_path.parent.parent.name}/{model_path.parent.name}"
    return f"{model_path.parent.name}/{model_path.stem}"


# --- exporting torch models in a child process ----------------------------------------------

# The child runs the snippet file given as argv[1] (a real file, because ``torch.jit.script`` reads
# class sources with ``inspect``). The snippet runs with ``torch`` and ``nn`` in scope and must
# define ``model`` and ``args``; it may define ``export_kwargs`` (merged over the defaults).
_CHILD_DRIVER = """
import runpy
import sys
import warnings

warnings.filterwarnings("ignore")
import torch

torch.manual_seed(0)
snippet, out = sys.argv[1], sys.argv[2]
scope = runpy.run_path(snippet, init_globals={"torch": torch, "nn": torch.nn, "out": out})
model = scope["model"]
if isinstance(model, torch.nn.Module):
    model.eval()
kwargs = {"dynamo": True, "external_data": False, "verbose": False}
kwargs.update(scope.get("export_kwargs", {}))
if not kwargs["dynamo"]:
    kwargs.pop("external_data")
with torch.no_grad():
    torch.onnx.export(model, scope["args"], out, **kwargs)
"""


def torch_available() -> bool:
    """Whether torch can be imported in a child process (checked without importing it here)."""
    return importlib.util.find_spec("torch") is not None


def export_in_child(code: str, out: Path, timeout: float = EXPORT_TIMEOUT_S) -> Path:
    """Export a torch model to ``out`` in a child Python process and return ``out``.

    ``code`` defines ``model`` (an ``nn.Module`` or scripted module) and ``args`` (a tuple of
    example inputs); ``torch``, ``nn`` and ``out`` (a str) are already defined and the seed is 0. Optional
    ``export_kwargs`` override the defaults ``dynamo=True, external_data=False``, so the result
    is one self-contained file. Raises ``RuntimeError`` with the child's stderr if the export
    fails, and ``subprocess.TimeoutExpired`` (after killing the child) if it hangs.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # Export on the CPU even where a GPU exists: the models must not depend on the machine.
    env["CUDA_VISIBLE_DEVICES"] = ""
    with tempfile.TemporaryDirectory(prefix="zoo_export_") as scratch:
        snippet = Path(scratch) / "zoo_snippet.py"
        snippet.write_text(textwrap.dedent(code), encoding="utf-8")
        # subprocess.run kills the child when the timeout expires, then raises TimeoutExpired.
        result = subprocess.run(
            [sys.executable, "-c", _CHILD_DRIVER, str(snippet), str(out)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(
            f"export to {out.name} failed (exit code {result.returncode}):\n"
            + result.stderr[-4000:]
        )
    return out


# --- snippets for the session fixtures ------------------------------------------------------

TORCH_CNN_CODE = """
class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.block = nn.Sequential(
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.classifier = nn.Linear(16 * 8 * 8, 10)

    def forward(self, image):
        return self.classifier(torch.flatten(self.block(self.stem(image)), 1))

model = SmallCNN()
args = (torch.randn(2, 3, 32, 32),)
export_kwargs = {
    # The optimizer would fold the eval-mode BatchNormalization into the Conv.
    "optimize": False,
    "input_names": ["image"],
    "output_names": ["logits"],
    "dynamic_shapes": {"image": {0: torch.export.Dim("batch")}},
}
"""

TORCH_TRANSFORMER_CODE = """
model = nn.TransformerEncoderLayer(
    d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True
)
args = (torch.randn(1, 10, 32),)
export_kwargs = {"input_names": ["tokens"], "output_names": ["encoded"]}
"""

TORCH_LSTM_CODE = """
class SequenceClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=8, hidden_size=16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, sequence):
        hidden, _ = self.lstm(sequence)
        return self.head(hidden[:, -1])

model = SequenceClassifier()
args = (torch.randn(1, 5, 8),)
export_kwargs = {"input_names": ["sequence"], "output_names": ["scores"]}
"""

# torch.jit.script keeps Python control flow; the TorchScript exporter turns the data-dependent
# ``if`` into If and the ``for`` over an input count into Loop (the dynamo exporter cannot).
TORCH_IF_LOOP_CODE = """
class GatedAccumulator(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x, steps: torch.Tensor):
        if bool(x.sum() > 0):
            y = torch.relu(self.proj(x))
        else:
            y = -x
        for i in range(int(steps)):
            y = 0.5 * y + torch.tanh(y) + float(i)
        return y

model = torch.jit.script(GatedAccumulator())
args = (torch.randn(2, 4), torch.tensor(3))
export_kwargs = {
    "dynamo": False,
    "input_names": ["x", "steps"],
    "output_names": ["y"],
    "dynamic_axes": {"x": {0: "batch"}, "y": {0: "batch"}},
}
"""


def build_helper_if_loop_function(out: Path) -> Path:
    """Write a model made with ``onnx.helper``: If, Loop and a model-local function.

    Graph (opset 18, plus the local domain ``inspector.test``)::

        x[batch,4] ─ ReduceSum ─ Greater(0) ─ If ─┬ then: Relu(x)
                                                  └ else: Neg(x)
        If ─ Loop(steps) body: acc = Tanh(acc) + x_in_outer_scope ─ ScaledAdd(alpha=0.5)(If, Loop)

    ``ScaledAdd`` is a FunctionProto ``a + alpha * b`` whose ``alpha`` attribute is a reference
    (``ref_attr_name``) that the calling node sets.
    """
    import onnx
    from onnx import TensorProto, helper

    float_2d = ["batch", 4]
    local = "inspector.test"

    then_branch = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["then_y"], name="then_relu")],
        "then_branch",
        [],
        [helper.make_tensor_value_info("then_y", TensorProto.FLOAT, float_2d)],
    )
    else_branch = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["else_y"], name="else_neg")],
        "else_branch",
        [],
        [helper.make_tensor_value_info("else_y", TensorProto.FLOAT, float_2d)],
    )
    loop_body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_keep_going"),
            helper.make_node("Tanh", ["acc_in"], ["body_tanh"], name="body_tanh"),
            # x comes from the outer scope: a subgraph reading a main-graph value.
            helper.make_node("Add", ["body_tanh", "x"], ["acc_out"], name="body_add_x"),
        ],
        "loop_body",
        [
            helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, float_2d),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, float_2d),
        ],
    )

    alpha = helper.make_node("Constant", [], ["alpha"])
    alpha.attribute.append(
        onnx.AttributeProto(
            name="value_float", ref_attr_name="alpha", type=onnx.AttributeProto.FLOAT
        )
    )
    scaled_add = helper.make_function(
        local,
        "ScaledAdd",
        inputs=["a", "b"],
        outputs=["sum"],
        nodes=[
            alpha,
            helper.make_node("Mul", ["b", "alpha"], ["scaled"]),
            helper.make_node("Add", ["a", "scaled"], ["sum"]),
        ],
        opset_imports=[helper.make_opsetid("", 18)],
        attributes=["alpha"],
        doc_string="a + alpha * b",
    )

    nodes = [
        helper.make_node("ReduceSum", ["x"], ["total"], name="sum_all", keepdims=0),
        helper.make_node(
            "Constant",
            [],
            ["zero"],
            name="zero",
            value=helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        ),
        helper.make_node("Greater", ["total", "zero"], ["is_positive"], name="is_positive"),
        helper.make_node(
            "If",
            ["is_positive"],
            ["gated"],
            name="gate",
            then_branch=then_branch,
            else_branch=else_branch,
        ),
        helper.make_node(
            "Constant",
            [],
            ["true"],
            name="true",
            value=helper.make_tensor("true", TensorProto.BOOL, [], [True]),
        ),
        helper.make_node(
            "Loop", ["steps", "true", "gated"], ["accumulated"], name="accumulate", body=loop_body
        ),
        helper.make_node(
            "ScaledAdd", ["gated", "accumulated"], ["y"], name="combine", domain=local, alpha=0.5
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "if_loop_function",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, float_2d),
            helper.make_tensor_value_info("steps", TensorProto.INT64, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, float_2d)],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(local, 1)],
        functions=[scaled_add],
        producer_name="onnx-inspector tests",
    )
    # Keep the IR version loadable by older ONNX Runtime builds too.
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    out = Path(out)
    onnx.save(model, out)
    return out


# --- fixtures -------------------------------------------------------------------------------


def _build_torch_model(tmp_path_factory: pytest.TempPathFactory, name: str, code: str) -> Path:
    if not torch_available():
        pytest.skip("torch is not installed")
    folder = tmp_path_factory.mktemp("model_zoo", numbered=True)
    return export_in_child(code, folder / f"{name}.onnx")


@pytest.fixture(scope="session")
def torch_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CNN: Conv, BatchNormalization, Relu, MaxPool, Gemm; batch dim ``batch``."""
    return _build_torch_model(tmp_path_factory, "torch_cnn", TORCH_CNN_CODE)


@pytest.fixture(scope="session")
def torch_transformer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``nn.TransformerEncoderLayer`` (d_model 32, 4 heads), dynamo export."""
    return _build_torch_model(tmp_path_factory, "torch_transformer", TORCH_TRANSFORMER_CODE)


@pytest.fixture(scope="session")
def torch_lstm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer ``nn.LSTM`` with a linear head, dynamo export (two ONNX LSTM nodes)."""
    return _build_torch_model(tmp_path_factory, "torch_lstm", TORCH_LSTM_CODE)


@pytest.fixture(scope="session")
def torch_if_loop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scripted module exported by the TorchScript exporter: one If and one Loop node."""
    return _build_torch_model(tmp_path_factory, "torch_if_loop", TORCH_IF_LOOP_CODE)


@pytest.fixture(scope="session")
def helper_if_loop_function(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``onnx.helper`` model with If, Loop and a model-local function call."""
    folder = tmp_path_factory.mktemp("model_zoo", numbered=True)
    return build_helper_if_loop_function(folder / "helper_if_loop_function.onnx")
