"""Closing a tab frees the model (issue 12, acceptance 5) on the transformer exports.

Run with ``pytest tests/benchmarks/test_close_frees_bench.py -m benchmark -s``.

The 10k- and 100k-node Llama exports (:mod:`tests.benchmarks.bench_models`) are opened and closed
ten times in the window; printed: resident memory after the first and the last close, their
ratio, and the graph-model objects (nodes, values, models, protobufs) still alive. The bar is no
object left and at most 10% growth; ``tests/ui/test_close_frees.py`` checks the same on a built
model in the default suite.
"""

from __future__ import annotations

import pytest

from tests.benchmarks.bench_models import get_model
from tests.ui.close_frees import open_close
from tests.ui.conftest import window  # noqa: F401  (the window-level tests' fixture)

pytestmark = pytest.mark.benchmark

ROUNDS = 10


@pytest.mark.parametrize("size", ["10k", "100k"])
def test_closing_a_big_model_ten_times_frees_it(qtbot, window, size):  # noqa: F811
    rounds = open_close(qtbot, window, get_model(size), ROUNDS)
    first, last = rounds.rss_after_close[0], rounds.rss_after_close[-1]
    print(
        f"\n{size}: resident after close 1: {first / 2**20:.0f} MiB, after close {ROUNDS}: "
        f"{last / 2**20:.0f} MiB ({100 * (rounds.growth - 1):+.1f}%); "
        f"graph-model objects left: {rounds.left or 'none'}\n"
        f"after each close (MiB): {[round(r / 2**20) for r in rounds.rss_after_close]}"
    )
    assert rounds.left == {}, "\n".join(rounds.holders)
    assert rounds.growth <= 1.10


def test_closing_a_small_tab_beside_a_big_model(qtbot, window, tmp_path):  # noqa: F811
    """With the 100k-node export open, opening and closing a small model: the close frees the
    small one without thawing and rescanning the big one. Printed: the GUI thread's time in
    ``Session.free_closed`` for each close, and one full thaw-collect-freeze for comparison."""
    import gc
    import time

    import onnx

    from tests.bad_models import small_model
    from tests.ui.window_driving import open_and_wait

    big = open_and_wait(qtbot, window, get_model("100k"))
    small = tmp_path / "small.onnx"
    onnx.save(small_model(), small)
    session = window.session
    timed: list[float] = []
    free_closed = session.free_closed

    def timed_free() -> None:
        start = time.perf_counter()
        free_closed()
        timed.append(time.perf_counter() - start)

    session.free_closed = timed_free
    for i in range(3):
        view = open_and_wait(qtbot, window, small)
        with qtbot.waitSignal(view.destroyed, timeout=10_000):
            window.tabs.tabCloseRequested.emit(window.tabs.indexOf(view))
        del view
        qtbot.waitUntil(lambda n=i: len(timed) > n, timeout=60_000)
    start = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    full = time.perf_counter() - start
    print(
        f"\nclosing a small tab beside the 100k model: {[f'{t * 1000:.1f} ms' for t in timed]}; "
        f"a full thaw-collect-freeze: {full * 1000:.0f} ms ({full / max(timed):.0f}x)"
    )
    assert big.document.model is not None
    assert max(timed) < full
