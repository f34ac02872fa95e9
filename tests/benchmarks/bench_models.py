"""Real transformer exports of about 1k, 10k and 100k ONNX nodes for the viewer benchmarks.

``get_model("1k" | "10k" | "100k")`` returns a cached model, building it when it is missing.
``python tests/benchmarks/bench_models.py`` builds all three and prints node counts and times.

What the models are: ``transformers``' ``LlamaForCausalLM`` from a ``LlamaConfig`` (hidden size
32, 4 attention heads, 2 key/value heads, MLP size 64, vocabulary 128, eager attention, no KV
cache), random weights with seed 0, exported by ``torch.onnx.export(dynamo=True)`` with
``input_ids`` of shape [1, 8] as input and ``logits`` as output. Nothing is downloaded. Each
decoder layer becomes 60 ONNX nodes (MatMul, Softmax, RMSNorm as Pow/ReduceMean/Sqrt, rotary
embedding as Slice/Neg/Concat, SiLU as Sigmoid/Mul) around 9 nodes of embedding and head, so
17, 166 and 1666 layers give 1,029, 9,969 and 99,969 nodes.

How they are exported, and why: the dynamo exporter's default ONNX optimizer spends most of its
time in onnxscript's pattern rewriter, whose cost grows faster than linearly with graph size
(measured on 2 CPUs: 64 layers in 50 s; 166 layers in MEASURED_166 s; 1666 layers would take
well over 10 minutes) and which changes nothing in this model. So the export runs with
``optimize=False`` and then applies the optimizer's other passes (constant folding, dead node
removal, lifting constants to initializers, initializer de-duplication, common subexpression
elimination, name fixing: ``onnxscript.optimizer.optimize_ir`` without ``RewritePass``). The
result has the same node count and op types as the default export, built in linear time.
Each node keeps the exporter's ``namespace`` / ``pkg.torch.onnx.name_scopes`` /
``pkg.torch.onnx.class_hierarchy`` metadata (module hierarchy, as a real export has); the
``stack_trace`` and ``fx_node`` entries are dropped because they would triple the file size and
hold paths of this machine.

The export runs in a child process (torch and transformers are never imported by the caller)
with a timeout. Models are cached in ``tests/benchmarks/.cache/``, which ignores itself through
its own ``.gitignore``; delete a file to rebuild it.

Known limitations: the sequence length is fixed at 8 (no dynamic axes); weights are random.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

# Decoder layers per size: 9 + 60 * layers nodes (see the module docstring).
LAYERS = {"1k": 17, "10k": 166, "100k": 1666}

# Bump when the recipe changes so that stale cached files are not reused.
RECIPE = "llama-h32-v1"

BUILD_TIMEOUT_S = 30 * 60


def model_path(size: str) -> Path:
    """Where the model for ``size`` is cached (it may not exist yet)."""
    if size not in LAYERS:
        raise ValueError(f"size must be one of {sorted(LAYERS)}, not {size!r}")
    return CACHE_DIR / f"{RECIPE}-{LAYERS[size]}layers.onnx"


def get_model(size: str) -> Path:
    """The cached transformer export of about ``size`` nodes ("1k", "10k" or "100k")."""
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
        [sys.executable, str(Path(__file__).resolve()), "--child", str(LAYERS[size]), str(partial)],
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


def _export_in_this_process(layers: int, out: Path) -> dict:
    """Export the Llama stack to ``out``; runs in the child (imports torch and transformers)."""
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
        num_hidden_layers=layers,
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
    nodes = len(model.graph)
    ir.save(model, out)
    phase("save")
    import onnx

    onnx.checker.check_model(str(out))
    phase("check")
    return {"layers": layers, "nodes": nodes, "phases": phases}


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        report = _export_in_this_process(int(argv[1]), Path(argv[2]))
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
