"""The layer hierarchy: a graph's nodes grouped by the module they came from.

Three sources, tried in order (the first that groups any node wins):

* ``metadata``: the dynamo exporter writes each node's module path into ``metadata_props``:
  ``pkg.torch.onnx.name_scopes`` = ``"['', 'model', 'model.layers.0', 'model.layers.0.mlp',
  'linear_3']"`` (the root module ``''``, then each module's full name as
  ``named_modules()`` gives it, then the FX node's own name, which is not a module).
* ``names``: the TorchScript exporter names nodes by scope, ``/layers.0/mlp/mlp.0/MatMul``:
  one component per called module, a container's child as ``<container>.<index>``, and the op
  last.
* ``repeats``: for models with neither, the same op-type sequence repeated N times in node order
  becomes one ``block ×N`` group with a child per copy (:mod:`inspector.core.hierarchy_repeats`).

A :class:`Hierarchy` answers what a view needs: group ids that stay the same across loads of
the file (``Group.key``, the module path), node → innermost group, recursive node and parameter
counts, the tensors crossing a group's boundary, the worst finding inside a group, which groups
are boxes when the tree is expanded to depth N, and the groups on the way to a node.

Known limitations: only the graph given is grouped (a subgraph's nodes belong to their control-flow
node's group, and are counted there); a module called twice by the dynamo exporter keeps one group for both calls when
the metadata names them alike; in the TorchScript form a container child ``x.0`` inside a called
module whose own last name is ``x`` is read as that module's child ``0`` (the usual case), so a
module ``x`` holding a container that is also called ``x`` is misread.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.core.finding_places import finding_places
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Graph
from inspector.core.tasks import gc_paused

NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"

ROOT = 0  # the id of the root group: the whole graph

# Deeper scopes are cut here (their nodes join the group at this depth): real exports nest about
# ten deep, and a hostile name with thousands of "/" must not make a tree JSON cannot nest.
MAX_DEPTH = 32


@dataclass(slots=True)
class Group:
    """One box of the hierarchy. Example: ``Group(id=4, key="layers.0.mlp", name="mlp",
    parent=3, depth=2, children=[5, 6, 7], nodes=8, params=1056)``."""

    id: int  # index in ``Hierarchy.groups``; 0 is the root (the whole graph)
    key: str  # stable across loads: the module path ("layers.0.mlp"), "" for the root
    name: str  # what a box shows: "mlp", "layers.0", "mlp.0", "block ×12", "block 3"
    parent: int  # the parent group's id; -1 for the root
    depth: int  # 0 for the root, 1 for a top-level group
    children: list[int] = field(default_factory=list)  # in order of their first node
    nodes: int = 0  # nodes inside, counted recursively
    params: int = 0  # initializer elements read by nodes inside, each initializer counted once


@dataclass(frozen=True)
class GroupTally:
    """The worst finding inside a group: its severity, how many findings of that severity, and
    how many findings in all. ``text`` is what a box's badge says ("3 errors")."""

    severity: Severity
    count: int
    total: int

    @property
    def text(self) -> str:
        return f"{self.count} {self.severity.value}{'' if self.count == 1 else 's'}"


@dataclass
class Hierarchy:
    """The groups of one graph's nodes. Built by :func:`build_hierarchy`."""

    source: str  # "metadata" | "names" | "repeats" | "none"
    groups: list[Group]  # groups[0] is the root; a parent always comes before its children
    node_group: np.ndarray  # int32, node index → id of the innermost group holding it (0: none)
    #: int64, group id → the nodes it holds itself, each control-flow node with its subgraphs'
    #: (so the counts add up to the model's node count, as ``info`` gives it)
    direct: np.ndarray
    _order: np.ndarray = field(repr=False)  # node indices sorted so each group's are one slice
    _span: np.ndarray = field(repr=False)  # group id → (start, end) of its slice of _order
    _by_key: dict[str, int] = field(repr=False)

    # ---------------------------------------------------------------------------- lookups

    def group(self, key: str) -> Group | None:
        """The group with that stable key, if this graph has it."""
        gid = self._by_key.get(key)
        return None if gid is None else self.groups[gid]

    def group_of(self, node_index: int) -> int:
        """The innermost group holding the node (0 when it is in none)."""
        return int(self.node_group[node_index])

    def path_to(self, node_index: int) -> list[int]:
        """The groups on the way to a node, outermost first (open these to show it)."""
        out: list[int] = []
        gid = int(self.node_group[node_index])
        while gid > ROOT:
            out.append(gid)
            gid = self.groups[gid].parent
        out.reverse()
        return out

    def nodes_of(self, gid: int) -> np.ndarray:
        """Every node index inside the group, its subgroups' included, in graph order."""
        start, end = self._span[gid]
        return np.sort(self._order[start:end])

    @property
    def max_depth(self) -> int:
        return max((g.depth for g in self.groups), default=0)

    # ------------------------------------------------------------------ expand and collapse

    def expanded_to_depth(self, depth: int) -> set[int]:
        """The groups open when the tree is expanded to ``depth``: 0 shows the top-level groups
        as boxes, 1 opens them and shows their children as boxes, and so on."""
        return {g.id for g in self.groups[1:] if g.depth <= depth}

    def collapse(self, expanded: Collection[int]) -> tuple[np.ndarray, list[int]]:
        """What is drawn when the groups in ``expanded`` are open and all others closed:
        (node index → the id of the closed box it is drawn inside, or -1 when the node is drawn
        itself; the ids of the closed boxes, in group order). A closed group hides its subgroups
        whether they are in ``expanded`` or not."""
        n = len(self.groups)
        rep = np.full(n, -1, dtype=np.int32)
        is_open = np.zeros(n, dtype=bool)
        is_open[ROOT] = True
        boxes: list[int] = []
        for g in self.groups[1:]:  # parents come first
            p = g.parent
            if is_open[p]:
                if g.id in expanded:
                    is_open[g.id] = True
                else:
                    rep[g.id] = g.id
                    boxes.append(g.id)
            else:
                rep[g.id] = rep[p]
        return rep[self.node_group], boxes

    def depth_for(self, max_items: int) -> int:
        """The deepest expansion that draws at most ``max_items`` boxes and loose nodes (at
        least 0): what a view opens at so that everything drawn stays readable."""
        depths = np.fromiter((g.depth for g in self.groups), np.int32, len(self.groups))
        group_depths = np.bincount(depths, minlength=self.max_depth + 2)
        node_depths = np.bincount(depths[self.node_group], minlength=self.max_depth + 2)
        best = 0
        for d in range(self.max_depth + 1):
            if int(group_depths[d + 1] + node_depths[: d + 1].sum()) <= max_items:
                best = d
            else:
                break
        return best

    # ------------------------------------------------------------- edges and findings

    def boundary(self, gid: int, graph: Graph) -> tuple[list[str], list[str]]:
        """The tensors crossing the group's border: (inputs: read inside, made outside or a
        graph input; outputs: made inside, read outside or a graph output). Initializers are
        parameters, not edges, and are left out."""
        inside = self.nodes_of(gid)
        member = np.zeros(len(self.node_group), dtype=bool)
        member[inside] = True
        values = graph.values
        ins: dict[str, None] = {}
        outs: dict[str, None] = {}
        for i in inside.tolist():
            node = graph.nodes[i]
            for name in node.inputs:
                v = values.get(name) if name else None
                if v is None or v.initializer is not None:
                    continue
                if v.producer is None or not member[v.producer]:
                    ins[name] = None
            for name in node.outputs:
                v = values.get(name) if name else None
                if v is None:
                    continue
                if v.is_output or any(not member[c] for c in v.consumers):
                    outs[name] = None
        return list(ins), list(outs)

    def tally_findings(self, findings: Iterable[Finding], graph: Graph) -> dict[int, GroupTally]:
        """Group id → the worst finding inside it (recursively) with counts, for every group
        holding a finding on ``graph``: a finding counts once in every group holding one of
        its nodes (a function body's finding: every call, as the view's badges), or the node
        that stands for it (:meth:`~inspector.core.finding_places.Place.anchor`)."""
        counts: dict[int, list[int]] = {}  # gid → per-severity counts [error, warning, info]
        n_nodes = len(self.node_group)
        for place in finding_places(findings, graph):
            anchor = place.anchor(graph)
            indices = place.nodes or ((anchor,) if anchor is not None else ())
            rank = Severity(place.finding.severity).rank
            counted: set[int] = set()
            for index in indices:
                if not 0 <= index < n_nodes:
                    continue
                gid = int(self.node_group[index])
                while gid > ROOT and gid not in counted:
                    counted.add(gid)
                    counts.setdefault(gid, [0, 0, 0])[rank] += 1
                    gid = self.groups[gid].parent
        order = (Severity.ERROR, Severity.WARNING, Severity.INFO)
        out: dict[int, GroupTally] = {}
        for gid, c in counts.items():
            worst = next(i for i in range(3) if c[i])
            out[gid] = GroupTally(order[worst], c[worst], sum(c))
        return out

    # ------------------------------------------------------------------------ output

    def tree(self) -> list[dict[str, Any]]:
        """The top-level groups as nested JSON-ready dicts: ``{"name", "nodes", "params",
        "children"}`` (what ``info --json`` prints under ``groups.tree``)."""

        def one(gid: int) -> dict[str, Any]:
            g = self.groups[gid]
            return {
                "name": g.name,
                "nodes": g.nodes,
                "params": g.params,
                "children": [one(c) for c in g.children],
            }

        return [one(c) for c in self.groups[ROOT].children]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "tree": self.tree()}


# ------------------------------------------------------------------------------------ building


def build_hierarchy(graph: Graph) -> Hierarchy:
    """The hierarchy of ``graph``'s nodes from the first source that groups any of them.

    About 0.5 s of CPU at 100k nodes (most of it reading the protobuf's metadata)."""
    with gc_paused():  # tens of thousands of small objects: the collector would rescan the model
        return _build(graph)


def _build(graph: Graph) -> Hierarchy:
    from inspector.core.hierarchy_repeats import repeat_chains

    for source, keys_of, parse in (
        ("metadata", _metadata_keys, _parse_scope_key),
        ("names", _name_keys, _parse_name_key),
    ):
        builder = _TreeBuilder()
        node_group = builder.assign(keys_of(graph), parse)  # names only read if needed
        if len(builder.groups) > 1:
            return builder.finish(source, graph, node_group)
    builder = _TreeBuilder()
    chains, order = repeat_chains(graph)
    for chain in order:  # list the blocks in order, not by where their weights sit
        builder.group_of_chain(chain)
    node_group = builder.assign(chains, tuple)
    return builder.finish("repeats" if order else "none", graph, node_group)


def _metadata_keys(graph: Graph) -> list[str | tuple[str] | None]:
    """Per node, its dynamo name scopes as a key for :func:`_parse_scope_key`, None for a node
    without them: ``"['', 'a', 'a.b', 'linear_3']"`` → ``"', 'a', 'a.b"``. Module names are
    identifiers and indices, so a plain split reads them; other text is kept whole, in a
    tuple, and parsed as a Python literal."""
    keys: list[str | tuple[str] | None] = []
    append = keys.append
    for node in graph.nodes:
        key = None
        for prop in reversed(node.proto.metadata_props):  # the exporter writes it near the end
            if prop.key == NAME_SCOPES_KEY:
                text = prop.value
                if isinstance(text, bytes):  # invalid UTF-8 comes back as bytes
                    text = text.decode("utf-8", "replace")
                # the list without its brackets and its last entry (the FX node's name): the
                # nodes of one module then share a key, and each module is parsed once
                cut = text.rfind("', '")
                if cut >= 2 and text.startswith("['', '") and '"' not in text and "\\" not in text:
                    key = text[2:cut]
                else:
                    key = (text,)  # anything unusual: parsed as a Python literal
                break
        append(key)
    return keys


def _parse_scope_key(key: str | tuple[str]) -> tuple[str, ...]:
    """A key from :func:`_metadata_keys` → the module paths, outermost first, without the root
    module."""
    if isinstance(key, tuple):
        try:
            value = ast.literal_eval(key[0])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return ()
        # A list that does not start at the root module '' is no module path: torch writes
        # ['_empty_nn_module_stack_from_metadata_hook', 'sym_size_int_1'] for shape arithmetic.
        if not isinstance(value, list) or value[:1] != [""]:
            return ()
        if not all(isinstance(p, str) for p in value):
            return ()
        parts = value[:-1]
    else:
        parts = key.split("', '")
    return tuple(p for p in parts if p)


def _name_keys(graph: Graph) -> list[str | None]:
    """Per node, the scope part of a TorchScript export's ``/a/b.0/c/Op`` name (``"a/b.0/c"``),
    or None for a name outside any module."""
    keys: list[str | None] = []
    append = keys.append
    for node in graph.nodes:
        name = node.name
        cut = name.rfind("/")
        append(name[1:cut] if cut > 1 and name.startswith("/") else None)
    return keys


def _parse_name_key(key: str) -> tuple[str, ...]:
    return _module_paths(key.split("/", MAX_DEPTH)[:MAX_DEPTH])


def _module_paths(components: list[str]) -> tuple[str, ...]:
    """``["layers.0", "mlp", "mlp.0"]`` → ``("layers.0", "layers.0.mlp", "layers.0.mlp.0")``:
    torch names a called container's child ``<container>.<index>``, so the container's own name
    is not repeated in the path."""
    out: list[str] = []
    path = ""
    for c in components:
        if not c:
            return tuple(out)
        head, dot, tail = c.partition(".")
        if path and dot and path.rsplit(".", 1)[-1] == head:
            path = f"{path}.{tail}"
        else:
            path = f"{path}.{c}" if path else c
        out.append(path)
    return tuple(out)


def _display_name(key: str, parent_key: str) -> str:
    """A box's name: the key below its parent's, with the parent's last name kept before a bare
    index ("layers.0", "mlp.0", "q"); a name of spaces alone is quoted (``"' '"``), so its box
    has a title one can see."""
    if parent_key and key.startswith(parent_key + "."):
        rel = key[len(parent_key) + 1 :]
        if rel.isdigit():
            return f"{parent_key.rsplit('.', 1)[-1]}.{rel}"
    else:
        rel = key
    return rel if rel.strip() else repr(rel)


class _TreeBuilder:
    """Groups created from per-node chains of module paths (``"a.b"``) or ``(key, name)``
    pairs, outermost first; then counted."""

    def __init__(self) -> None:
        self.groups = [Group(ROOT, "", "", -1, 0)]
        self.by_key: dict[str, int] = {"": ROOT}

    def group_of_chain(self, chain: tuple) -> int:
        """The id of the innermost group of ``chain``, creating the groups it names."""
        parent = ROOT
        for item in chain[:MAX_DEPTH]:
            key, name = item if isinstance(item, tuple) else (item, None)
            gid = self.by_key.get(key)
            if gid is None:
                up = self.groups[parent]
                gid = len(self.groups)
                self.groups.append(
                    Group(gid, key, name or _display_name(key, up.key), parent, up.depth + 1)
                )
                self.by_key[key] = gid
                up.children.append(gid)
            parent = gid
        return parent

    def assign(self, keys: list, parse: Callable[[Any], tuple]) -> np.ndarray:
        """Node index → innermost group id, from a per-node key (None: the root) that ``parse``
        turns into a chain; each distinct key is parsed once."""
        cache: dict[Any, int] = {}
        ids: list[int] = []
        append = ids.append
        for key in keys:
            if key is None:
                append(ROOT)
                continue
            gid = cache.get(key)
            if gid is None:
                gid = cache[key] = self.group_of_chain(parse(key))
            append(gid)
        return np.array(ids, dtype=np.int32)

    def finish(self, source: str, graph: Graph, node_group: np.ndarray) -> Hierarchy:
        groups = self.groups
        # Preorder positions make each group's nodes (subgroups included) one slice of _order.
        preorder = [0] * len(groups)
        walk: list[int] = []
        stack = [ROOT]
        while stack:
            g = stack.pop()
            preorder[g] = len(walk)
            walk.append(g)
            stack.extend(reversed(groups[g].children))
        order = np.argsort(np.array(preorder)[node_group], kind="stable").astype(np.int32)
        direct = np.bincount(node_group, minlength=len(groups))
        # a node's subgraphs belong to its group: their nodes count there (If and Loop bodies)
        weighted = direct.copy()
        identities: set[int] = set()  # plain Identity nodes (see _count_params)
        for node in graph.nodes:
            if node.subgraph_by_attribute:
                inside = sum(len(g.nodes) for _, sub in node.subgraphs for g in sub.iter_graphs())
                weighted[node_group[node.index]] += inside
            elif node.op_type == "Identity" and not node.domain:
                identities.add(node.index)
        here, counts = direct.tolist(), weighted.tolist()  # this graph's nodes; all nodes
        for g in reversed(walk):  # children before parents
            p = groups[g].parent
            if p >= 0:
                here[p] += here[g]
                counts[p] += counts[g]
        first = np.zeros(len(groups), dtype=np.int64)
        first[walk] = np.concatenate(([0], np.cumsum(direct[walk])))[:-1]
        span = np.stack((first, first + np.array(here, dtype=np.int64)), axis=1)
        for g, n in zip(groups, counts, strict=True):
            g.nodes = n
        _count_params(groups, node_group, graph, identities)
        return Hierarchy(source, groups, node_group, weighted, order, span, self.by_key)


def _count_params(
    groups: list[Group], node_group: np.ndarray, graph: Graph, identities: set[int]
) -> None:
    """Each group's initializer elements read by its nodes, an initializer once per group; the
    nodes reading the output of an ``Identity`` of it (``identities``) read it too: the
    TorchScript exporter hands a weight equal to an earlier one (a second LayerNorm's) to its
    module through a top-level ``Identity``, which belongs to no group."""
    ancestors: list[tuple[int, ...]] = []  # a group and every group above it, the root included
    for g in groups:  # parents come first
        ancestors.append((g.id, *ancestors[g.parent]) if g.parent >= 0 else (g.id,))
    params = [0] * len(groups)
    for v in graph.values.values():
        init = v.initializer
        if init is None or not v.consumers:
            continue
        numel = init.numel
        consumers = v.consumers
        if identities and not identities.isdisjoint(consumers):
            consumers = _through_identities(consumers, graph, identities)
        if len(consumers) == 1:
            holders: Iterable[int] = ancestors[node_group[consumers[0]]]
        else:
            holders = {a for c in consumers for a in ancestors[node_group[c]]}
        for a in holders:
            params[a] += numel
    for g, n in zip(groups, params, strict=True):
        g.params = n


def _through_identities(consumers: list[int], graph: Graph, identities: set[int]) -> list[int]:
    """``consumers`` and, for each that is an Identity, the nodes reading its output."""
    out: list[int] = []
    for c in consumers:
        out.append(c)
        node = graph.nodes[c]
        if c in identities and node.outputs and node.outputs[0] in graph.values:
            out += graph.values[node.outputs[0]].consumers
    return out
