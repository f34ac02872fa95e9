"""The layer hierarchy drawn: groups collapsed into one box each, expanded on demand.

A :class:`Folding` joins one graph's :class:`~inspector.core.hierarchy.Hierarchy` to its full
:class:`~inspector.core.diagram.Diagram` and answers "what is drawn when these groups are open":
a diagram where every closed group is one ``BoxKind.GROUP`` box (its name, op count and
parameter count), whose edges are the values crossing its border, one edge per value and end
box. Nothing is re-read from the graph: the collapsed diagram is the full one with node boxes
replaced by their group's box, so building one costs a few numpy passes over the full diagram's
edges (~10 ms at 100k nodes) and expanding then collapsing gives back the very same diagram.

Deep repeated chains are folded: a run of at least ``FOLD_MIN + 1`` sibling groups named alike
(``layers.0``, ``layers.1``, …) with the same op and parameter counts keeps its first member as
a sample, drawn like any group, and the rest become one fold box ("layers.1–31 ×31"). A fold is
one more id in the expansion state (ids past the hierarchy's groups); opening it shows its
members. Repeated structure found without names is already grouped as ``block ×N`` by
:mod:`inspector.core.hierarchy_repeats`.

:func:`default_expansion` picks what a view opens at: the deepest expansion whose drawing, fitted
into the viewport, still shows its titles at ``MIN_LABEL_PX`` or more; a graph that is readable
fully expanded (or has under ``AUTO_COLLAPSE_MIN_NODES`` nodes, or under
``AUTO_COLLAPSE_REPEATS_MIN_NODES`` when its groups come from repeated structure alone) opens fully
expanded.

Known limitations: a fold's parameter count adds its members' counts, so weights shared between
members are counted once per member; folds are found among siblings only (not across parents).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from inspector.core.categories import Category
from inspector.core.diagram import (
    PAD_X,
    PAD_Y,
    BoxKind,
    Diagram,
    DrawnGraph,
    build_diagram,
    layout_diagram,
    shown_text,
)
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Graph, Model
from inspector.core.hierarchy import ROOT, GroupTally, Hierarchy, build_hierarchy
from inspector.core.layout import Layout
from inspector.core.tasks import CancelToken, ProgressFn, gc_paused, no_progress

#: A group box's name: its font size in pixels, the average advance of that (bold) font, and the
#: height of its line. Larger than a node's title, so a collapsed model reads from afar.
GROUP_TITLE_PX = 20
GROUP_TITLE_CHAR_W = 15.0
GROUP_TITLE_H = 26.0
#: A group box's detail lines (counts): font size, average advance, line height.
GROUP_BODY_PX = 14
GROUP_BODY_CHAR_W = 7.8
GROUP_LINE_H = 18.0
#: The folder tab drawn above a group box's body (inside its rectangle).
TAB_H = 8.0
GROUP_MIN_W = 120.0
GROUP_MAX_W = 460.0
#: A node box's title font size (the scene's), for readability estimates.
NODE_TITLE_PX = 11
#: Text smaller than this on screen is not counted as readable.
MIN_LABEL_PX = 8.0
#: Empty space around a drawing in the view (the scene's margin), in scene pixels.
FIT_MARGIN = 40.0
#: A fitted drawing is never shown larger than its natural size.
MAX_FIT_ZOOM = 1.0
#: Graphs with fewer nodes open fully expanded whatever their shape; groups guessed from repeated
#: structure alone (no module names) only collapse a view that opens on more than the larger
#: count (a 900-node CNN from the onnx zoo opens as it always did).
AUTO_COLLAPSE_MIN_NODES = 150
AUTO_COLLAPSE_REPEATS_MIN_NODES = 2000
#: Expansions drawing more boxes than this are not tried as a default (each costs a layout).
MAX_DEFAULT_BOXES = 600
#: What a group holds is listed in at most this many lines of about this many characters.
CONTENT_LINES = 2
CONTENT_CHARS = 36
#: A fold holds at least this many alike siblings (after the sample kept beside it).
FOLD_MIN = 3
#: The canvas of a new window's graph view, in pixels: what the window opens a model for.
WINDOW_VIEWPORT = (990.0, 790.0)

_INDEXED = re.compile(r"^(.*)\.(\d+)$")


@dataclass(frozen=True)
class Fold:
    """A run of alike siblings drawn as one box. Example: ``Fold(id=21664, parent=2,
    sample=3, members=(13, 23, …), title="layers.1–1665 ×1665")``."""

    id: int  # past the hierarchy's group ids
    parent: int  # the real group holding the run
    sample: int  # the run's first member, drawn on its own beside the fold
    members: tuple[int, ...]  # the rest of the run, in order
    title: str


def human_count(n: int) -> str:
    """``15362298`` → ``"15.4M"``: counts on a box, short."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


class Folding:
    """One graph's hierarchy (with folds) over its full diagram; builds collapsed diagrams.

    Tree ids: ``0`` the root, ``1 .. len(groups) - 1`` the hierarchy's groups, then the folds.
    An expansion state is a collection of open tree ids; a closed id hides everything under it.
    """

    def __init__(self, hierarchy: Hierarchy, full: Diagram) -> None:
        self.hierarchy = hierarchy
        self.full = full
        groups = hierarchy.groups
        self.folds = _find_folds(hierarchy)
        n_groups = len(groups)
        self.size = n_groups + len(self.folds)
        parent = np.array([g.parent for g in groups] + [f.parent for f in self.folds], np.int64)
        for f in self.folds:
            parent[list(f.members)] = f.id
        self.parent = parent
        # depth in the tree with folds, and whether some fold is above: each pass settles one
        # more level (parents come before their children in the tree, at most MAX_DEPTH deep)
        up = parent.copy()
        up[ROOT] = ROOT
        is_fold = np.zeros(self.size, dtype=bool)
        is_fold[n_groups:] = True
        depth = np.zeros(self.size, np.int64)
        in_fold = np.zeros(self.size, dtype=bool)
        while True:
            new_depth = depth[up] + 1
            new_depth[ROOT] = 0
            new_in = in_fold[up] | is_fold[up]
            new_in[ROOT] = False
            if np.array_equal(new_depth, depth) and np.array_equal(new_in, in_fold):
                break
            depth, in_fold = new_depth, new_in
        self.depth = depth
        self._in_fold = in_fold
        self._levels = [np.flatnonzero(depth == d) for d in range(1, int(depth.max(initial=0)) + 1)]
        ids = {v: i for i, v in enumerate(dict.fromkeys(full.edge_value))}
        self._edge_value_id = np.fromiter(
            map(ids.__getitem__, full.edge_value), np.int64, full.edge_count
        )
        is_node = full.kind == BoxKind.NODE
        self._node_boxes = np.flatnonzero(is_node)  # full box ids of nodes, in box order
        self._other_boxes = np.flatnonzero(~is_node)  # inputs, outputs: kept, in order
        # The node whose group each node box is drawn in: its own, but a copy of a shared value
        # (diagram_shared) sits with the one node it feeds, and closes with that node's group.
        home = full.ref[self._node_boxes].astype(np.int64)
        copies = np.flatnonzero(full.copy_of[self._node_boxes] >= 0) if len(full.copy_of) else []
        if len(copies):
            consumer = np.full(full.box_count, -1, np.int64)
            consumer[full.edge_src] = full.edge_dst  # a copy has edges to one box only
            reads = consumer[self._node_boxes[copies]]
            into_node = full.kind[reads] == BoxKind.NODE  # not a graph output's box
            home[copies[into_node]] = full.ref[reads[into_node]]
        self._box_home = home
        self._lines: dict[int, tuple[str, ...]] = {}
        # per group: how many nodes it holds directly, and of each category (recursively)
        node_group = hierarchy.node_group.astype(np.int64)
        self._direct = hierarchy.direct
        n_cats = len(Category)
        cats = full.category[full.node_box].astype(np.int64)
        per = np.bincount(node_group * n_cats + cats, minlength=n_groups * n_cats)
        per = per.reshape(n_groups, n_cats)
        real_parent = parent[:n_groups].copy()  # the hierarchy's own parents (no folds)
        for f in self.folds:
            real_parent[list(f.members)] = f.parent
        real_depth = np.array([g.depth for g in groups], np.int64)
        for d in range(int(real_depth.max(initial=0)), 0, -1):  # the deepest first
            level = np.flatnonzero(real_depth == d)
            np.add.at(per, real_parent[level], per[level])
        self._category_counts = per
        self._group_category = np.where(per.any(axis=1), per.argmax(axis=1), int(Category.OTHER))

    # ----------------------------------------------------------------------------- the tree

    @property
    def max_depth(self) -> int:
        return self.hierarchy.max_depth

    @property
    def everything(self) -> frozenset[int]:
        """Every group and fold open: the full diagram."""
        return frozenset(range(1, self.size))

    def expanded_to_depth(self, depth: int) -> frozenset[int]:
        """Groups down to ``depth`` open (0: the top-level groups are boxes); folds and what
        they hold stay closed unless ``depth`` reaches the deepest group, which opens
        everything."""
        if depth >= self.max_depth:
            return self.everything
        # a fold's members stay closed: opening the fold shows them as boxes
        return frozenset(g for g in self.hierarchy.expanded_to_depth(depth) if not self._in_fold[g])

    def is_fold(self, tid: int) -> bool:
        return tid >= len(self.hierarchy.groups)

    def fold(self, tid: int) -> Fold:
        return self.folds[tid - len(self.hierarchy.groups)]

    def name(self, tid: int) -> str:
        return self.fold(tid).title if self.is_fold(tid) else self.hierarchy.groups[tid].name

    def members(self, tid: int) -> list[int]:
        """The real groups a tree id stands for (itself, or a fold's members)."""
        return list(self.fold(tid).members) if self.is_fold(tid) else [tid]

    def path_to(self, node_index: int) -> list[int]:
        """The tree ids to open to show a node, outermost first."""
        out: list[int] = []
        tid = int(self.hierarchy.node_group[node_index])
        while tid > ROOT:
            out.append(tid)
            tid = int(self.parent[tid])
        out.reverse()
        return out

    def innermost_open(self, node_index: int, expanded: Collection[int]) -> int | None:
        """The innermost open tree id holding a node (what "collapse" on it closes)."""
        path = self.path_to(node_index)
        for tid in reversed(path):
            if tid in expanded:
                return tid
        return None

    def box_ids(self, expanded: Collection[int]) -> tuple[np.ndarray, list[int]]:
        """(tree id → the closed tree id drawn for it, or -1 when it is open; the closed ids that
        are boxes, in id order). Vectorised per tree level."""
        rep = np.full(self.size, -1, np.int64)
        is_open = np.zeros(self.size, dtype=bool)
        is_open[ROOT] = True
        if expanded:
            opened = np.zeros(self.size, dtype=bool)
            keys = np.fromiter((t for t in expanded if 0 < t < self.size), np.int64)
            opened[keys] = True
        else:
            opened = np.zeros(self.size, dtype=bool)
        for level in self._levels:
            p = self.parent[level]
            parent_open = is_open[p]
            is_open[level] = parent_open & opened[level]
            rep[level] = np.where(parent_open, np.where(opened[level], -1, level), rep[p])
        boxes = np.flatnonzero(rep == np.arange(self.size))
        return rep, boxes.tolist()

    # -------------------------------------------------------------------------- the drawing

    def _node_box_rep(self, expanded: Collection[int]) -> tuple[np.ndarray, list[int]]:
        """Per node box of the full diagram, the closed tree id it is drawn inside (-1: drawn
        itself); and the closed tree ids drawn as boxes (none: everything is open)."""
        rep, boxes = self.box_ids(expanded)
        return rep[self.hierarchy.node_group][self._box_home], boxes

    def box_count(self, expanded: Collection[int]) -> int:
        """The number of boxes :meth:`diagram` draws for ``expanded``."""
        box_rep, boxes = self._node_box_rep(expanded)
        if not boxes:
            return self.full.box_count
        return int(np.count_nonzero(box_rep < 0)) + len(boxes) + len(self._other_boxes)

    def diagram(self, expanded: Collection[int]) -> Diagram:
        """What is drawn with the tree ids in ``expanded`` open: closed groups are GROUP boxes
        (``ref`` is the tree id) placed after the nodes drawn, before the inputs and outputs."""
        full = self.full
        box_rep, boxes = self._node_box_rep(expanded)
        if not boxes:
            return full
        shown = self._node_boxes[box_rep < 0]
        others = self._other_boxes
        n_shown, n_groups = len(shown), len(boxes)
        group_box = np.full(self.size, -1, np.int64)
        group_box[boxes] = n_shown + np.arange(n_groups)
        new = np.empty(full.box_count, np.int64)  # full box → collapsed box
        new[self._node_boxes] = group_box[box_rep]
        new[shown] = np.arange(n_shown)
        new[others] = n_shown + n_groups + np.arange(len(others))
        keep = np.concatenate([shown, others])

        lines = [full.lines[i] for i in shown.tolist()]
        lines += [self.box_lines(t) for t in boxes]
        lines += [full.lines[i] for i in others.tolist()]
        widths = np.empty(n_groups)
        heights = np.empty(n_groups)
        for k, ls in enumerate(lines[n_shown : n_shown + n_groups]):
            widths[k], heights[k] = group_box_size(ls)
        cats = np.fromiter((self._category(t) for t in boxes), np.int8, n_groups)

        def spliced(a: np.ndarray, middle: np.ndarray) -> np.ndarray:
            return np.concatenate([a[shown], middle.astype(a.dtype), a[others]])

        src = new[full.edge_src]
        dst = new[full.edge_dst]
        crossing = np.flatnonzero(src != dst)  # an edge inside one group box is not drawn
        key = self._edge_value_id[crossing] * (len(keep) + n_groups) + dst[crossing]
        _, first = np.unique(key, return_index=True)  # one edge per value and end box
        kept = crossing[np.sort(first)]
        kept_list = kept.tolist()
        copy_of = full.copy_of
        if len(copy_of):  # a shown copy of a shared value repeats its original's box, remapped
            copied = copy_of[shown]
            copy_of = np.full(len(keep) + n_groups, -1, np.int32)
            copy_of[:n_shown] = np.where(copied >= 0, new[np.maximum(copied, 0)], -1)
        return Diagram(
            graph=full.graph,
            kind=spliced(full.kind, np.full(n_groups, BoxKind.GROUP)),
            ref=spliced(full.ref, np.array(boxes, np.int64)),
            category=spliced(full.category, cats),
            lines=lines,
            sizes=np.concatenate(
                [full.sizes_of(shown), np.stack((widths, heights)), full.sizes_of(others)], axis=1
            ),
            edge_src=src[kept].astype(np.int32),
            edge_dst=dst[kept].astype(np.int32),
            edge_value=[full.edge_value[i] for i in kept_list],
            edge_label=[full.edge_label[i] for i in kept_list],
            node_box=new[full.node_box].astype(np.int32),
            copy_of=copy_of,
        )

    def box_lines(self, tid: int) -> tuple[str, ...]:
        """A group box's lines: its name, "60 ops · 9.5k params", then what it holds (its
        subgroups' names, or its op types): "self_attn · mlp", "MatMul ×2 · Softmax"."""
        cached = self._lines.get(tid)
        if cached is None:
            groups = self.hierarchy.groups
            members = [groups[m] for m in self.members(tid)]
            nodes = sum(g.nodes for g in members)
            params = sum(g.params for g in members)
            counts = f"{nodes:,} op{'' if nodes == 1 else 's'}"
            if params:
                counts += f" · {human_count(params)} params"
            if self.is_fold(tid):
                f = self.fold(tid)
                inside = self._contents(f.sample)
                inside[0] = f"each: {inside[0]}"
                cached = (shown_text(f.title), counts, *inside)
            else:
                cached = (shown_text(members[0].name), counts, *self._contents(tid))
            self._lines[tid] = cached
        return cached

    def _contents(self, gid: int) -> list[str]:
        """What a group holds, in at most ``CONTENT_LINES`` lines of ``CONTENT_CHARS``."""
        g = self.hierarchy.groups[gid]
        if g.children:
            names: list[str] = []
            for c in g.children:
                above = int(self.parent[c])
                if above == gid:
                    names.append(shown_text(self.hierarchy.groups[c].name))
                elif self.fold(above).sample != c and self.fold(above).members[0] == c:
                    names.append(shown_text(self.fold(above).title))
            direct = int(self._direct[gid])
            if direct:
                names.append(f"{direct} op{'' if direct == 1 else 's'}")
        else:
            nodes = self.full.graph.nodes
            ops: dict[str, int] = {}
            for i in self.hierarchy.nodes_of(gid).tolist():
                ops[nodes[i].op_type] = ops.get(nodes[i].op_type, 0) + 1
            ranked = sorted(ops.items(), key=lambda kv: -kv[1])
            names = [op if n == 1 else f"{op} ×{n}" for op, n in ranked]
        return _wrap(names)

    def _category(self, tid: int) -> int:
        """The most common category of the nodes inside (their colour hints at what it does)."""
        if not self.is_fold(tid):
            return int(self._group_category[tid])
        counts = self._category_counts[list(self.fold(tid).members)].sum(axis=0)
        return int(np.argmax(counts)) if counts.any() else int(Category.OTHER)

    # ----------------------------------------------------------------------------- findings

    def tallies(self, findings: Iterable[Finding]) -> dict[int, GroupTally]:
        """Tree id → the worst finding inside it and its count, for every group and fold
        holding a finding (a fold adds up its members)."""
        out = self.hierarchy.tally_findings(findings, self.full.graph)
        for f in self.folds:
            parts = [out[m] for m in f.members if m in out]
            if not parts:
                continue
            worst = min((t.severity for t in parts), key=lambda s: Severity(s).rank)
            count = sum(t.count for t in parts if t.severity == worst)
            out[f.id] = GroupTally(worst, count, sum(t.total for t in parts))
        return out


def _wrap(items: list[str]) -> list[str]:
    """``items`` joined by " · " into at most ``CONTENT_LINES`` lines, "…" when cut."""
    lines: list[str] = []
    line = ""
    for item in items:
        joined = f"{line} · {item}" if line else item
        if len(joined) <= CONTENT_CHARS or not line:
            line = joined
            continue
        lines.append(line)
        line = item
        if len(lines) == CONTENT_LINES:
            lines[-1] += " · …"
            return lines
    if line:
        lines.append(line)
    return lines or [""]


def group_box_size(lines: tuple[str, ...]) -> tuple[float, float]:
    """A group box's width and height from its lines (a fixed text metric, as for nodes)."""
    longest = max(
        [len(lines[0]) * GROUP_TITLE_CHAR_W] + [len(s) * GROUP_BODY_CHAR_W for s in lines[1:]]
    )
    width = min(max(longest + 2 * PAD_X, GROUP_MIN_W), GROUP_MAX_W)
    height = TAB_H + 2 * PAD_Y + GROUP_TITLE_H + (len(lines) - 1) * GROUP_LINE_H
    return width, height


def _find_folds(h: Hierarchy) -> list[Fold]:
    """Runs of at least ``FOLD_MIN + 1`` consecutive siblings named ``<prefix>.<index>`` with
    the same prefix, node count, parameter count and number of children."""
    folds: list[Fold] = []
    groups = h.groups
    for g in groups:
        run: list[int] = []
        sig: tuple | None = None
        for c in [*g.children, -1]:  # -1 ends the last run
            if c >= 0:
                child = groups[c]
                m = _INDEXED.match(child.name)
                s = (m.group(1), child.nodes, child.params, len(child.children)) if m else None
            else:
                s = None
            if s is not None and s == sig:
                run.append(c)
                continue
            if len(run) > FOLD_MIN:
                first = _INDEXED.match(groups[run[1]].name)
                last = _INDEXED.match(groups[run[-1]].name)
                assert first is not None and last is not None
                title = f"{first.group(1)}.{first.group(2)}–{last.group(2)} ×{len(run) - 1}"
                fid = len(groups) + len(folds)
                folds.append(Fold(fid, g.id, run[0], tuple(run[1:]), title))
            run, sig = ([c], s) if s is not None else ([], None)
    return folds


# ------------------------------------------------------------------------------ drawings


@dataclass
class CollapsibleDrawing(DrawnGraph):
    """A drawn graph whose groups can be opened and closed: the drawing of ``expanded``."""

    folding: Folding
    expanded: frozenset[int]

    def with_expanded(self, expanded: Collection[int]) -> CollapsibleDrawing:
        """The drawing with exactly ``expanded`` open (laid out anew; ~ms for a few hundred
        boxes)."""
        state, diagram = self.diagram_for(expanded)
        return CollapsibleDrawing(diagram, layout_diagram(diagram), self.folding, state)

    def diagram_for(self, expanded: Collection[int]) -> tuple[frozenset[int], Diagram]:
        """The expansion state ``expanded`` stands for (ids of this folding only) and its
        diagram, not laid out yet."""
        state = self.state_for(expanded)
        return state, self.folding.diagram(state)

    def box_count_for(self, expanded: Collection[int]) -> int:
        """How many boxes the drawing with ``expanded`` open has, without making it (a few ms
        for 100k nodes; making a big one takes a second)."""
        return self.folding.box_count(self.state_for(expanded))

    def state_for(self, expanded: Collection[int]) -> frozenset[int]:
        """The expansion state ``expanded`` stands for: the ids of this folding in it."""
        return frozenset(t for t in expanded if 0 < t < self.folding.size)


def fit_zoom(layout: Layout, viewport: tuple[float, float]) -> float:
    """The zoom at which the drawing fits ``viewport`` (as the view fits it)."""
    x0, y0, x1, y1 = layout.bounds
    w, h = x1 - x0 + 2 * FIT_MARGIN, y1 - y0 + 2 * FIT_MARGIN
    return min(viewport[0] / max(w, 1.0), viewport[1] / max(h, 1.0), MAX_FIT_ZOOM)


def readable_at_fit(diagram: Diagram, layout: Layout, viewport: tuple[float, float]) -> bool:
    """Whether every box title is at least ``MIN_LABEL_PX`` on screen with the drawing fitted."""
    smallest = NODE_TITLE_PX if (diagram.kind == BoxKind.NODE).any() else GROUP_TITLE_PX
    return smallest * fit_zoom(layout, viewport) >= MIN_LABEL_PX


def default_expansion(
    folding: Folding, viewport: tuple[float, float]
) -> tuple[frozenset[int], Diagram, Layout]:
    """What a view of ``viewport`` pixels opens at: the deepest expansion readable at fit (the
    least deep one when none is), with its diagram and layout."""
    full = folding.full
    h = folding.hierarchy
    least = AUTO_COLLAPSE_REPEATS_MIN_NODES if h.source == "repeats" else AUTO_COLLAPSE_MIN_NODES
    if len(h.node_group) < least or folding.size <= 1:
        return folding.everything, full, layout_diagram(full)
    best: tuple[frozenset[int], Diagram, Layout] | None = None
    for depth in range(folding.max_depth + 1):
        state = folding.expanded_to_depth(depth)
        diagram = folding.diagram(state)
        if best is not None and diagram.box_count > MAX_DEFAULT_BOXES:
            break  # laying out more to find it unreadable would only cost time
        layout = layout_diagram(diagram)
        readable = readable_at_fit(diagram, layout, viewport)
        if best is not None and not readable:
            break
        best = (state, diagram, layout)
        if not readable:
            break  # the least deep expansion is kept even when it is not readable
    assert best is not None  # depth 0 is always tried
    return best


def draw_collapsible(
    model: Model,
    graph: Graph,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    viewport: tuple[float, float] = WINDOW_VIEWPORT,
    depth: int | None = None,
) -> CollapsibleDrawing:
    """Build ``graph``'s diagram and hierarchy and lay out the drawing a view opens at: groups
    expanded to ``depth``, or (None) to what :func:`default_expansion` picks for ``viewport``."""
    progress(0.0, "building diagram")
    with gc_paused():
        full = build_diagram(model, graph)
    if cancel:
        cancel.check()
    progress(0.3, "grouping layers")
    folding = Folding(build_hierarchy(graph), full)
    if cancel:
        cancel.check()
    progress(0.5, "laying out")
    if depth is None:
        state, diagram, layout = default_expansion(folding, viewport)
    else:
        state = folding.expanded_to_depth(depth)
        diagram = folding.diagram(state)
        layout = layout_diagram(diagram, lambda f, m: progress(0.5 + 0.5 * f, m), cancel)
    diagram.make_edge_labels()
    return CollapsibleDrawing(diagram, layout, folding, state)
