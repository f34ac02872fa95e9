"""Build resources/sample.onnx, the model ONNX Inspector opens when started with no file.

Run from the repository root: ``python packaging/make_sample_model.py`` (needs torch and
onnxscript; the app itself does not). The result is committed, so users never need torch.

The model, ``TinyHybridViT``, is a small image classifier that shows the common shapes of a
modern network in one screen: a convolutional stem (Conv + BatchNorm + ReLU, twice, stride 2),
a patch-token reshape with a learned position embedding, four pre-norm transformer blocks
(LayerNorm, multi-head self-attention written out as qkv projection / MatMul / Softmax / MatMul,
a GELU MLP, residual Adds), a final LayerNorm, mean pooling and a linear head.
Input ``image`` is float32 [batch, 3, 32, 32] with a dynamic ``batch`` dimension; output
``logits`` is [batch, 10]. Weights are random (seed 0) but fixed, so the file is reproducible.

Export: ``torch.onnx.export(dynamo=True, optimize=False)``, then the passes of the exporter's
default optimizer except its pattern rewrites (constant folding, dead-node removal, constants
lifted to initializers, CSE), so that each BatchNorm stays a node of its own instead of being
folded into its Conv; then two edits for a pleasant first view:

* every node is renamed after the module it came from, the way the TorchScript exporter names
  them (``/blocks.0/attn/qkv/MatMul``), using the exporter's ``pkg.torch.onnx.name_scopes``
  metadata, which is kept, together with ``namespace`` and ``class_hierarchy``;
* the ``stack_trace`` and ``fx_node`` metadata are dropped: they hold paths of the machine that
  ran this script and would make the file differ from one checkout to another.

The script checks the result with ``onnx.checker`` and runs it in ONNX Runtime against torch.
"""

from __future__ import annotations

import ast
import logging
import sys
import warnings
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import onnxruntime as ort
import onnxscript.optimizer
import torch
from onnx_ir.passes import common as common_passes
from torch import nn

OUT = Path(__file__).resolve().parent.parent / "resources" / "sample.onnx"

_DROPPED_METADATA = ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node")


class ConvBnRelu(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        weights = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyHybridViT(nn.Module):
    def __init__(self, dim: int = 32, depth: int = 4, heads: int = 4, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            OrderedDict(conv1=ConvBnRelu(3, dim // 2, 2), conv2=ConvBnRelu(dim // 2, dim, 2))
        )
        self.pos_embed = nn.Parameter(torch.randn(1, 64, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, 2 * dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stem(image).flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(dim=1))


def _scoped_name(node: ir.Node) -> str | None:
    """``/blocks.0/attn/qkv/MatMul`` from the node's name-scope metadata, or None."""
    raw = node.metadata_props.get("pkg.torch.onnx.name_scopes")
    if not raw:
        return None
    scopes = ast.literal_eval(raw)  # ['', 'blocks.0', 'blocks.0.attn', ..., '<fx node name>']
    # Skip the exporter's own pseudo-scopes such as ``_empty_nn_module_stack_from_metadata_hook``.
    modules = [s for s in scopes[:-1] if s and not s.startswith("_")]
    parts: list[str] = []
    previous = ""
    for qualified in modules:
        parts.append(qualified[len(previous) + 1 :] if previous else qualified)
        previous = qualified
    return "/" + "/".join([*parts, node.op_type])


def _optimize(model: ir.Model) -> None:
    """The exporter's default optimizer minus its rewrite rules (which fold BatchNorm into Conv).

    Initializer de-duplication is left out too: it would make unrelated layers share one tensor
    named after whichever came first (say, a LayerNorm reading ``stem.1.bn.weight``).
    """
    onnxscript.optimizer.fold_constants(model, onnx_shape_inference=True)
    ir.passes.Sequential(
        common_passes.RemoveUnusedNodesPass(),
        common_passes.RemoveUnusedFunctionsPass(),
        common_passes.RemoveUnusedOpsetsPass(),
        common_passes.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
        common_passes.CommonSubexpressionEliminationPass(),
        common_passes.OutputFixPass(),
        common_passes.NameFixPass(),
    )(model)


def _tidy(model: ir.Model) -> None:
    """Rename nodes after their modules and drop machine-specific metadata."""
    seen: Counter[str] = Counter()
    for node in ir.traversal.RecursiveGraphIterator(model.graph):
        name = _scoped_name(node) or f"/{node.op_type}"
        seen[name] += 1
        node.name = name if seen[name] == 1 else f"{name}_{seen[name] - 1}"
        for key in _DROPPED_METADATA:
            node.metadata_props.pop(key, None)
    model.doc_string = (
        "ONNX Inspector sample: a tiny hybrid CNN + vision transformer with random weights, "
        "made by packaging/make_sample_model.py."
    )
    model.graph.name = "TinyHybridViT"


def build(out: Path = OUT) -> Path:
    """Export the sample to ``out``, check it, and run it against torch."""
    # Quiet the exporter's notes about optional packages (torchvision) that the model never uses.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model = TinyHybridViT().eval()
    # Non-trivial normalization parameters and statistics, as a trained model has.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
                module.weight.uniform_(0.8, 1.2)
                module.bias.uniform_(-0.1, 0.1)
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    example = torch.randn(2, 3, 32, 32)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            optimize=False,
            verbose=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"image": {0: torch.export.Dim("batch")}},
        )
        expected = model(example).numpy()
    _optimize(program.model)
    _tidy(program.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    ir.save(program.model, out)

    proto = onnx.load(out)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"image": example.numpy()})
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
    (single,) = session.run(None, {"image": example[:1].numpy()})
    assert single.shape == (1, 10)
    ops = Counter(node.op_type for node in proto.graph.node)
    print(
        f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB, {len(proto.graph.node)} nodes, "
        f"opset {proto.opset_import[0].version}): {dict(ops.most_common())}"
    )
    return out


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
