"""The scene's grid answers many rectangles at once exactly as it answers each alone."""

from __future__ import annotations

import numpy as np

from inspector.scene.spatial import UniformGrid


def test_query_many_agrees_with_query() -> None:
    rng = np.random.default_rng(1)
    x0, y0 = rng.random(2000) * 5000, rng.random(2000) * 5000
    w, h = rng.random(2000) * 200, rng.random(2000) * 60
    w[:5] = 4000  # a few long ones, kept in the grid's "big" list
    grid = UniformGrid(x0, y0, x0 + w, y0 + h)
    qx, qy = rng.random(300) * 5400 - 200, rng.random(300) * 5400 - 200  # some outside it
    queries = np.column_stack([qx, qy, qx + rng.random(300) * 400, qy + rng.random(300) * 100])
    owner, ids = grid.query_many(queries)
    assert len(ids) > 300
    for k, q in enumerate(queries.tolist()):
        assert np.array_equal(ids[owner == k], grid.query(*q)), k
    none = grid.query_many(np.zeros((0, 4)))
    assert len(none[0]) == len(none[1]) == 0
