"""Real transformer exports of about 1k, 10k, 100k and 300k ONNX nodes for the viewer benchmarks.

``get_model("1k" | "10k" | "100k" | "300k")`` returns a cached model, building it when it is
missing. ``python tests/benchmarks/bench_models.py [SIZE...]`` builds them (all by default) and
prints node counts and times.

What the models are: ``transformers``' ``LlamaForCausalLM`` from a ``LlamaConfig`` (hidden size
32, 4 attention heads, 2 key/value heads, MLP size 64, vocabulary 128, eager attention, no KV
cache), random weights with seed 0, exported by ``torch.onnx.export(dynamo=True)`` with
``input_ids`` of shape [1, 8] as input and ``logits`` as output. Nothing is downloaded. Each
decoder layer becomes 60 ONNX nodes (MatMul, Softmax, RMSNorm as Pow/ReduceMean/Sqrt, rotary
embedding as Slice/Neg/Concat, SiLU as Sigmoid/Mul) around 9 nodes of embedding and head, so
17, 166, 1666 and 5000 layers give 1,029, 9,969, 99,969 and 300,009 nodes.

How they are exported, and why (timings on this 2-CPU machine): the dynamo exporter's default
ONNX optimizer spends most of its time in onnxscript's pattern rewriter, whose cost grows faster
than linearly and which changes nothing in this model (64 layers: 50 s; 166 layers: 424 s). So
the export runs with ``optimize=False`` and then applies the optimizer's other passes (constant
folding with shape inference, dead-node removal, constants lifted to initializers, initializer
de-duplication, CSE, name fixing: ``onnxscript.optimizer.optimize_ir`` without its
``RewritePass``); the result has exactly the default export's nodes and op types. That builds
the 1k model in 17 s and the 10k model in 66 s. The 100k model exported the same way took
810 s (``torch.export`` itself is superlinear: 731 s of it), so instead torch exports 17
layers and ``_append_layer_copies`` appends 1,649 copies of the last exported decoder layer
(renamed tensors and node names, own copies of its weights, renumbered name-scope metadata),
which takes 14 s in all. The copy has the same op counts and initializer count as the real
1666-layer export (checked once against it) and runs in ONNX Runtime; only tensor names
differ (``<name>__layer<N>`` instead of the exporter's counters). The 300k model is made the
same way: 17 exported layers and 4,983 copies (113 s in all, 31 s of it copying).
Each node keeps the exporter's ``namespace`` / ``pkg.torch.onnx.name_scopes`` /
``pkg.torch.onnx.class_hierarchy`` metadata (module hierarchy, as a real export has); the
``stack_trace`` and ``fx_node`` entries are dropped because they would triple the file size and
hold paths of this machine. Sizes: 1.7 MB, 16.5 MB, 167 MB and 501 MB.

The export runs in a child process (torch and transformers are never imported by the caller)
with a timeout. Models are cached in ``tests/benchmarks/.cache/``, which ignores itself through
its own ``.gitignore``; delete a file to rebuild it.

Known limitations: the sequence length is fixed at 8 (no dynamic axes); weights are random;
in the 100k and 300k models, layers 17 and up share the weights' values of layer 16 (as separate
tensors). Building needs the ``bench`` extra (``transformers``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import onnx

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

# Decoder layers per size: 9 + 60 * layers nodes (see the module docstring).
LAYERS = {"1k": 17, "10k": 166, "100k": 1666, "300k": 5000}

# Layers that torch exports for each size; the rest are copies of the last exported layer.
EXPORTED_LAYERS = {"1k": 17, "10k": 166, "100k": 17, "300k": 17}

# Bump when the recipe changes so that stale cached files are not reused.
RECIPE = "llama-h32-v1"

BUILD_TIMEOUT_S = 30 * 60


def model_path(size: str) -> Path:
    """Where the model for ``size`` is cached (it may not exist yet)."""
    if size not in LAYERS:
        raise ValueError(f"size must be one of {sorted(LAYERS)}, not {size!r}")
    return CACHE_DIR / f"{RECIPE}-{LAYERS[size]}layers.onnx"


def get_model(size: str) -> Path:
    """The cached transformer export of about ``size`` nodes ("1k", "10k", "100k", "300k")."""
    path = model_path(size)
    if not path.is_file():
        build_model(size)
    return path


def build_model(size: str, timeout: float = BUILD_TIMEOUT_S) -> dict:
    """Build (or rebuild) the model for ``size`` in a child process; return its build report.

    The report (also saved next to the model as ``<name>.json``) holds ``nodes``, ``layers``,
    ``seconds`` (wall time of the child) and per-phase ``phases`` seconds.
    """
    path = model_path(size)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    gitignore = CACHE_DIR / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n", encoding="utf-8")
    partial = path.with_suffix(".partial.onnx")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            str(EXPORTED_LAYERS[size]),
            str(LAYERS[size]),
            str(partial),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"building the {size} model failed:\n{result.stderr[-4000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report.update(size=size, seconds=round(seconds, 1), bytes=partial.stat().st_size)
    # Rename last, so an interrupted build never leaves a file that looks complete.
    partial.replace(path)
    path.with_suffix(".json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


# --- the child process ----------------------------------------------------------------------

_DROPPED_METADATA = ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node")


_LAYER_SCOPE = re.compile(r"\.layers\.(\d+)$")


def _layer_of(node: onnx.NodeProto) -> int | None:
    """The decoder layer a node was exported from, read from its name-scope metadata."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            for scope in ast.literal_eval(prop.value):
                match = _LAYER_SCOPE.search(scope)
                if match:
                    return int(match.group(1))
    return None


def _append_layer_copies(model: onnx.ModelProto, copies: int) -> None:
    """Grow the stack by ``copies`` copies of its last decoder layer, in place.

    The last layer's nodes are cloned with renamed tensors and node names, chained through the
    residual stream, and the final norm is rewired to the last copy. Initializers used only by
    that layer (its weights) are cloned; shared ones (rotary tables, de-duplicated constants)
    are shared. Name-scope metadata is renumbered, so copies look like layers of their own.
    """
    graph = model.graph
    layer_of = [_layer_of(node) for node in graph.node]
    last = max(layer for layer in layer_of if layer is not None)
    template = [node for node, layer in zip(graph.node, layer_of, strict=True) if layer == last]
    produced = {name for node in template for name in node.output}
    before = {
        name
        for node, layer in zip(graph.node, layer_of, strict=True)
        if layer == last - 1
        for name in node.output
    }
    (residual_in,) = {name for node in template for name in node.input if name in before}
    after = [
        node
        for node, layer in zip(graph.node, layer_of, strict=True)
        if layer is None and node not in template
    ]
    consumed_later = {name for node in after for name in node.input}
    (residual_out,) = produced & consumed_later
    users: dict[str, set[int]] = {}
    for node, layer in zip(graph.node, layer_of, strict=True):
        for name in node.input:
            users.setdefault(name, set()).add(-1 if layer is None else layer)
    own_weights = {init.name: init for init in graph.initializer if users.get(init.name) == {last}}
    value_infos = {vi.name: vi for vi in graph.value_info if vi.name in produced}
    scope_pattern = re.compile(rf"layers\.{last}(?!\d)")

    new_nodes: list[onnx.NodeProto] = []
    previous_out = residual_out
    for copy in range(1, copies + 1):
        layer = last + copy
        suffix = f"__layer{layer}"
        rename = {name: name + suffix for name in (*produced, *own_weights)}
        rename[residual_in] = previous_out
        for node in template:
            clone = onnx.NodeProto()
            clone.CopyFrom(node)
            clone.name = scope_pattern.sub(f"layers.{layer}", node.name) + suffix
            clone.input[:] = [rename.get(name, name) for name in node.input]
            clone.output[:] = [rename.get(name, name) for name in node.output]
            for prop in clone.metadata_props:
                prop.value = scope_pattern.sub(f"layers.{layer}", prop.value)
            new_nodes.append(clone)
        for name, init in own_weights.items():
            clone_init = graph.initializer.add()
            clone_init.CopyFrom(init)
            clone_init.name = name + suffix
        for name, info in value_infos.items():
            clone_info = graph.value_info.add()
            clone_info.CopyFrom(info)
            clone_info.name = name + suffix
        previous_out = residual_out + suffix
    for node in after:
        node.input[:] = [previous_out if name == residual_out else name for name in node.input]
    # Keep the list topologically sorted: the copies go right after the last exported layer.
    position = max(i for i, layer in enumerate(layer_of) if layer == last) + 1
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes[:position], *new_nodes, *nodes[position:]])


def _export_in_this_process(exported_layers: int, layers: int, out: Path) -> dict:
    """Export the Llama stack to ``out``; runs in the child (imports torch and transformers).

    Torch exports ``exported_layers`` decoder layers; copies of the last one bring the stack to
    ``layers``.
    """
    import warnings

    warnings.filterwarnings("ignore")
    phases: dict[str, float] = {}
    tick = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        phases[name] = round(now - tick, 2)
        tick = now

    import onnx_ir as ir
    import onnxscript.optimizer
    import torch
    from onnx_ir.passes import common as common_passes
    from transformers import LlamaConfig, LlamaForCausalLM

    phase("import")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=exported_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        attn_implementation="eager",
        use_cache=False,
    )
    llama = LlamaForCausalLM(config).eval()

    class CausalLM(torch.nn.Module):
        """input_ids → logits, without the cache and output dataclass."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.model = inner

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, use_cache=False).logits

    input_ids = torch.randint(0, config.vocab_size, (1, 8))
    phase("build")
    with torch.no_grad():
        program = torch.onnx.export(
            CausalLM(llama),
            (input_ids,),
            dynamo=True,
            optimize=False,
            verbose=False,
            input_names=["input_ids"],
            output_names=["logits"],
        )
    phase("export")
    model = program.model
    # onnxscript.optimizer.optimize_ir without its RewritePass (see the module docstring).
    onnxscript.optimizer.fold_constants(model, onnx_shape_inference=True)
    ir.passes.Sequential(
        common_passes.RemoveUnusedNodesPass(),
        common_passes.RemoveUnusedFunctionsPass(),
        common_passes.RemoveUnusedOpsetsPass(),
        common_passes.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
        common_passes.DeduplicateInitializersPass(),
        common_passes.CommonSubexpressionEliminationPass(),
        common_passes.OutputFixPass(),
        common_passes.NameFixPass(),
    )(model)
    phase("optimize")
    for node in model.graph:
        for key in _DROPPED_METADATA:
            node.metadata_props.pop(key, None)
    if layers > exported_layers:
        proto = ir.to_proto(model)
        _append_layer_copies(proto, layers - exported_layers)
        phase("replicate")
        onnx.save(proto, out)
        nodes = len(proto.graph.node)
    else:
        ir.save(model, out)
        nodes = len(model.graph)
    phase("save")
    onnx.checker.check_model(str(out))
    phase("check")
    return {"layers": layers, "exported_layers": exported_layers, "nodes": nodes, "phases": phases}


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        report = _export_in_this_process(int(argv[1]), int(argv[2]), Path(argv[3]))
        print(json.dumps(report))
        return 0
    sizes = argv or list(LAYERS)
    for size in sizes:
        path = model_path(size)
        if path.is_file() and path.with_suffix(".json").is_file():
            report = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            note = "cached"
        else:
            report = build_model(size)
            note = "built"
        print(
            f"{size:>5}: {report['nodes']:>7} nodes, {report['layers']:>5} layers, "
            f"{report['bytes'] / 1e6:6.1f} MB, {report['seconds']:7.1f} s ({note}) "
            f"phases {report['phases']}  {path}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
