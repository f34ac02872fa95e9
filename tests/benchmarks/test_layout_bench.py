"""Layout benchmarks: our layered layout on real transformer exports, and a comparison table.

Run with ``pytest tests/benchmarks/test_layout_bench.py -m benchmark --benchmark-enable``; the
comparison table alone with ``python -m tests.benchmarks.test_layout_bench [--limit SECONDS]``
(it prints the Markdown table of ``docs/layout.md``).

Transformer models are exported with torch + transformers from configs built in code (random
weights, nothing downloaded) into ``tests/benchmarks/.cache/``, which ignores itself in git, and
are regenerated when missing. The 100k-box export takes a few minutes the first time.

Metrics (computed the same way for every tool):

- *crossings*: for every pair of adjacent ranks (the distinct box-centre y's), every edge that
  passes both rank lines gives a segment (x at the upper line, x at the lower line), polylines
  being extended to the box centres; two segments between the same lines cross when their x's
  swap strictly. When there are more than ``max_pairs`` (edge, gap) pairs, a random sample of
  gaps is counted and scaled up; the table marks those numbers with "~".
- *length*: total polyline length from source centre to target centre, in pixels.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from inspector.core.layout import layered_layout

ONNX_DATA = Path(__import__("onnx").__file__).parent / "backend/test/data/light"
CACHE = Path(__file__).parent / ".cache"
BOX_SEP, RANK_GAP = 24.0, 44.0  # the spacing we give dot and use to scale igraph
LIMIT = 120.0

#: name → (family, layers); llama: ~1k, ~10k and ~100k boxes.
TRANSFORMERS = {
    "gpt2-8L": ("gpt2", 8),
    "llama-6L": ("llama", 6),
    "llama-55L": ("llama", 55),
    "llama-550L": ("llama", 550),
}
GRAPHS = [
    "light_resnet50",
    "light_inception_v2",
    "light_densenet121",
    "gpt2-8L",
    "llama-6L",
    "llama-55L",
    "llama-550L",
]


# ---------------------------------------------------------------- models → layout input arrays
def onnx_arrays(
    path: Path, shared_copies: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One box per node, graph input and graph output; one edge per (producer, consumer) use.

    With ``shared_copies`` (what the window draws), small values shared by several nodes get a
    copy box per extra consumer, by the diagram's own rule (``inspector.core.diagram_shared``).
    """
    import onnx

    from inspector.core.diagram_shared import plan_copies, shared_nodes
    from inspector.core.graph import open_model

    graph = onnx.load(str(path), load_external_data=False).graph
    ops: list[str] = []
    producer: dict[str, int] = {}
    uses: list[tuple[str, int]] = []
    for vi in graph.input:
        producer[vi.name] = len(ops)
        ops.append("Input")
    first_node = len(ops)
    for node in graph.node:
        uses += [(t, len(ops)) for t in node.input if t]
        producer.update((t, len(ops)) for t in node.output)
        ops.append(node.op_type)
    for vo in graph.output:
        uses.append((vo.name, len(ops)))
        ops.append("Output")
    edges = [(producer[t], c) for t, c in uses if t in producer]
    src, dst = np.array(edges, dtype=np.int64).reshape(-1, 2).T
    widths = np.array([8 * max(len(op), 12) + 16 for op in ops], dtype=np.float64)
    if shared_copies:  # the types the window has when it first draws: no shape inference yet
        shared = np.zeros(len(ops), bool)
        shared[first_node : first_node + len(graph.node)] = shared_nodes(
            open_model(path, infer=False).graph
        )
        src, original = plan_copies(len(ops), src, dst, shared)
        widths = np.concatenate((widths, widths[original]))
    return widths, np.full(len(widths), 40.0), src, dst


def export_transformer(family: str, layers: int, path: Path) -> None:
    """Export a tiny random-weight GPT-2 or Llama with ``layers`` blocks (dynamo exporter)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if family == "gpt2":
        config = GPT2Config(n_embd=32, n_layer=layers, n_head=2, vocab_size=100, n_positions=64)
        model = GPT2LMHeadModel(config)
    else:
        config = LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=1,
            vocab_size=100,
            max_position_embeddings=64,
        )
        model = LlamaForCausalLM(config)
    model.config.use_cache = False
    model.eval()
    ids = torch.randint(0, 100, (1, 8))
    program = torch.onnx.export(model, (ids,), dynamo=True, optimize=False, verbose=False)
    tmp = path.with_suffix(".tmp.onnx")
    program.save(str(tmp))
    tmp.replace(path)


def graph_arrays(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if name.startswith("light_"):
        return onnx_arrays(ONNX_DATA / f"{name}.onnx")
    family, layers = TRANSFORMERS[name]
    CACHE.mkdir(exist_ok=True)
    if not (CACHE / ".gitignore").exists():
        (CACHE / ".gitignore").write_text("*\n")  # the cache ignores itself
    path = CACHE / f"{family}_{layers}.onnx"
    if not path.exists():
        export_transformer(family, layers, path)
    arrays_path = path.with_suffix(".copies.npz")
    if not arrays_path.exists():  # parsing the 100k model takes seconds; keep the arrays
        np.savez(arrays_path, *onnx_arrays(path))
    with np.load(arrays_path) as z:
        return z["arr_0"], z["arr_1"], z["arr_2"], z["arr_3"]


# --------------------------------------------------------------------------------- metrics
def layout_quality(
    node_x: np.ndarray,
    node_y: np.ndarray,
    tails: np.ndarray,
    heads: np.ndarray,
    points: np.ndarray,
    offsets: np.ndarray,
    max_pairs: int = 3_000_000,
    seed: int = 0,
) -> tuple[float, float, bool]:
    """(crossings between adjacent ranks, total edge length, whether crossings were sampled)."""
    m = len(tails)
    counts = np.diff(offsets)
    # Extend every polyline to the box centres and orient it downwards.
    ext_off = np.concatenate(([0], np.cumsum(counts + 2)))
    pts = np.empty((int(ext_off[-1]), 2))
    pts[ext_off[:-1]] = np.c_[node_x[tails], node_y[tails]]
    pts[ext_off[1:] - 1] = np.c_[node_x[heads], node_y[heads]]
    inner = np.ones(len(pts), bool)
    inner[ext_off[:-1]] = inner[ext_off[1:] - 1] = False
    pts[inner] = points
    seg_len = np.hypot(*np.diff(pts, axis=0).T)
    same_edge = np.ones(len(pts) - 1, bool)
    same_edge[ext_off[1:-1] - 1] = False
    length = float(seg_len[same_edge].sum()) if len(seg_len) else 0.0
    edge_of = np.repeat(np.arange(m), counts + 2)
    flip = pts[ext_off[:-1], 1] > pts[ext_off[1:] - 1, 1]
    if flip.any():  # reversed edges: read their points backwards
        k = np.arange(len(pts)) - ext_off[edge_of]
        src_idx = np.where(flip[edge_of], ext_off[edge_of + 1] - 1 - k, ext_off[edge_of] + k)
        pts = pts[src_idx]
    ys = pts[:, 1].copy()
    span_y = float(ys.max() - ys.min()) + 1.0 if len(ys) else 1.0
    ys = np.maximum.accumulate(ys - ys.min() + edge_of * 2 * span_y) - edge_of * 2 * span_y
    ys += pts[:, 1].min()
    lines = np.unique(np.round(node_y, 1))
    y0, y1 = ys[ext_off[:-1]], ys[ext_off[1:] - 1]
    first = np.searchsorted(lines, y0 - 0.5, "left")
    last = np.searchsorted(lines, y1 + 0.5, "right") - 1
    n_gaps = len(lines) - 1
    n_pairs = int(np.maximum(last - first, 0).sum())
    sampled = n_pairs > max_pairs
    gaps = np.arange(max(n_gaps, 0))
    if sampled:
        rng = np.random.default_rng(seed)
        gaps = np.sort(rng.choice(n_gaps, max(1, int(n_gaps * max_pairs / n_pairs)), replace=False))
    lo = np.searchsorted(gaps, first, "left")
    hi = np.searchsorted(gaps, last, "left")  # gaps k with first <= k <= last - 1
    per_edge = np.maximum(hi - lo, 0)
    e = np.repeat(np.arange(m), per_edge)
    gap = gaps[
        np.repeat(lo, per_edge)
        + np.arange(len(e))
        - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    ]
    key = ys - ys.min() + edge_of * 2 * span_y

    def x_at(edge: np.ndarray, y: np.ndarray) -> np.ndarray:
        q = y - ys.min() + edge * 2 * span_y
        j = np.clip(np.searchsorted(key, q, "right"), ext_off[edge] + 1, ext_off[edge + 1] - 1)
        xa, xb = pts[j - 1, 0], pts[j, 0]
        dy = ys[j] - ys[j - 1]
        t = np.where(dy > 0, (y - ys[j - 1]) / np.where(dy > 0, dy, 1.0), 1.0)
        return xa + (xb - xa) * np.clip(t, 0.0, 1.0)

    a, b = x_at(e, lines[gap]), x_at(e, lines[gap + 1])
    crossings = float(_crossings(gap, a, b))
    if sampled:
        crossings *= n_gaps / len(gaps)
    return crossings, length, sampled


def _crossings(gap: np.ndarray, a: np.ndarray, b: np.ndarray) -> int:
    """Pairs within the same gap with a_i < a_j and b_i > b_j (merge-sort inversion count)."""
    if len(gap) < 2:
        return 0
    order = np.lexsort((b, a, gap))
    bk = np.unique(b, return_inverse=True)[1].reshape(-1)
    v = np.unique(gap[order] * (bk.max() + 1) + bk[order], return_inverse=True)[1].reshape(-1)
    n, big = len(v), len(v) + 1
    idx = np.arange(n)
    total, s = 0, 1
    while s < n:
        block = idx // (2 * s)
        right = (idx // s) % 2 == 1
        left_keys = np.sort(block[~right] * big + v[~right])
        rb, rv = block[right], v[right]
        le = np.searchsorted(left_keys, rb * big + rv, "right") - np.searchsorted(
            left_keys, rb * big, "left"
        )
        n_left = np.bincount(block[~right], minlength=int(block.max()) + 1)[rb]
        total += int((n_left - le).sum())
        s *= 2
    return total


# ------------------------------------------------------------------------------ the tools
def run_ours(w, h, src, dst):
    t = time.perf_counter()
    lay = layered_layout(w, h, src, dst)
    elapsed = time.perf_counter() - t
    return elapsed, lay.x, lay.y, src, dst, lay.edge_points, lay.edge_offsets


def run_dot(w, h, src, dst, limit: float = LIMIT):
    """Graphviz dot with the same box sizes and spacing; None past the time limit."""
    lines = [
        "digraph G {",
        f"graph [nodesep={BOX_SEP / 72:.4f}, ranksep={RANK_GAP / 72:.4f}, splines=polyline];",
        'node [shape=box, fixedsize=true, label=""];',
    ]
    lines += [
        f"n{i} [width={wi / 72:.4f}, height={hi / 72:.4f}];"
        for i, (wi, hi) in enumerate(zip(w, h, strict=True))
    ]
    lines += [f"n{s} -> n{d};" for s, d in zip(src.tolist(), dst.tolist(), strict=True)]
    lines.append("}")
    t = time.perf_counter()
    try:
        out = subprocess.run(
            ["dot", "-Tplain"],
            input="\n".join(lines),
            capture_output=True,
            text=True,
            timeout=limit,
            check=True,
        ).stdout
    except subprocess.TimeoutExpired:
        return None
    elapsed = time.perf_counter() - t
    n = len(w)
    x, y = np.zeros(n), np.zeros(n)
    tails, heads, polys = [], [], []
    height = 0.0
    for line in out.splitlines():
        f = line.split()
        if f[0] == "graph":
            height = float(f[3])
        elif f[0] == "node":
            i = int(f[1][1:])
            x[i], y[i] = float(f[2]) * 72, (height - float(f[3])) * 72
        elif f[0] == "edge":
            k = int(f[3])
            xy = np.array(f[4 : 4 + 2 * k], dtype=float).reshape(k, 2)
            polys.append(np.c_[xy[:, 0] * 72, (height - xy[:, 1]) * 72])
            tails.append(int(f[1][1:]))
            heads.append(int(f[2][1:]))
    pts = np.concatenate(polys) if polys else np.zeros((0, 2))
    off = np.concatenate(([0], np.cumsum([len(p) for p in polys])))
    return elapsed, x, y, np.array(tails, np.int64), np.array(heads, np.int64), pts, off


def _igraph_child(conn, n, edges) -> None:
    import igraph

    t = time.perf_counter()
    lay = igraph.Graph(n, edges, directed=True).layout_sugiyama()
    conn.send((time.perf_counter() - t, lay.coords, lay.edge_routing))


def run_igraph(w, h, src, dst, limit: float = LIMIT):
    """igraph's layout_sugiyama in a child process (it cannot be interrupted); None past the limit.

    igraph ignores box sizes (unit gaps), so its x is scaled by the widest box plus BOX_SEP and
    its y by the box height plus RANK_GAP, which is what it takes to make its boxes not overlap.
    """
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_igraph_child,
        args=(child, len(w), list(zip(src.tolist(), dst.tolist(), strict=True))),
    )
    proc.start()
    ready = parent.poll(limit)
    result = parent.recv() if ready else None
    proc.kill()
    proc.join()
    if result is None:
        return None
    elapsed, coords, routing = result
    sx, sy = float(w.max()) + BOX_SEP, float(h.max()) + RANK_GAP
    xy = np.array(coords, dtype=float)[: len(w)] * (sx, sy)
    polys = [np.array(r, dtype=float).reshape(-1, 2) * (sx, sy) for r in routing]
    pts = np.concatenate(polys) if polys else np.zeros((0, 2))
    off = np.concatenate(([0], np.cumsum([len(p) for p in polys])))
    return elapsed, xy[:, 0], xy[:, 1], src, dst, pts, off


TOOLS = {"ours": run_ours, "igraph sugiyama": run_igraph, "dot": run_dot}


def comparison_table(names: list[str], limit: float = LIMIT, out=print) -> str:
    rows = [
        "| graph | boxes | edges | "
        + " | ".join(f"{t}: time / crossings / length" for t in TOOLS)
        + " |",
        "|---|---:|---:|" + "---|" * len(TOOLS),
    ]
    out("\n".join(rows))
    for name in names:
        w, h, src, dst = graph_arrays(name)
        cells = []
        for tool, run in TOOLS.items():
            if tool == "dot" and shutil.which("dot") is None:
                cells.append("not installed")
                continue
            r = run(w, h, src, dst) if tool == "ours" else run(w, h, src, dst, limit)
            if r is None:
                cells.append(f"> {limit:.0f} s")
                continue
            crossings, length, sampled = layout_quality(*r[1:])
            cells.append(
                f"{r[0]:.3g} s / {'~' if sampled else ''}{crossings:,.0f} / {length / 1e6:.2f} Mpx"
            )
        rows.append(f"| {name} | {len(w):,} | {len(src):,} | " + " | ".join(cells) + " |")
        out(rows[-1])
    return "\n".join(rows)


# ------------------------------------------------------------------------------ benchmarks
@pytest.mark.benchmark
@pytest.mark.parametrize("name", ["llama-6L", "llama-55L", "llama-550L"])
def test_layout_time(benchmark, name: str) -> None:
    w, h, src, dst = graph_arrays(name)
    lay = benchmark.pedantic(layered_layout, args=(w, h, src, dst), rounds=3, iterations=1)
    assert len(lay.x) == len(w)
    benchmark.extra_info["boxes"] = len(w)


@pytest.mark.benchmark
def test_comparison_table(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("igraph")
    if shutil.which("dot") is None:
        pytest.skip("graphviz dot is not installed")
    table = comparison_table(GRAPHS)
    with capsys.disabled():
        print("\n" + table)
    rows = table.splitlines()[2:]
    assert len(rows) == len(GRAPHS)
    ours = list(TOOLS).index("ours")
    for row in rows:
        cell = row.strip("|").split("|")[3 + ours].strip()
        # ours always finishes (igraph and dot hit the limit on the big transformers) and fast
        assert not cell.startswith(">"), row
        assert float(cell.split(" s /")[0]) < 2.0, row


if __name__ == "__main__":
    limit = float(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else LIMIT
    comparison_table(
        sys.argv[1:2] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else GRAPHS, limit
    )
