"""Names a subgraph reads from the graphs around it (ONNX's outer-scope, or implicit, inputs).

An If branch, a Loop or Scan body may read any value of an enclosing graph by name, without it
being listed among the node's inputs. The drawing shows those reads as edges into the
control-flow node, so a graph input that only a branch reads is not drawn unconnected.

A name counts as captured when the subgraph (or a subgraph nested in it, at any depth) reads it
and none of the graphs on the way defines it: as a graph input, an initializer or a node output.
A subgraph that defines a name of its own shadows the outer value, so its reads of it stay inside.
"""

from __future__ import annotations

from inspector.core.graph import Graph, Node


def captured_inputs(node: Node) -> list[str]:
    """The names ``node``'s subgraphs read from its graph or a graph enclosing it, in the order
    they are first read; empty for a node without subgraphs."""
    found: dict[str, None] = {}
    for _, sub in node.subgraphs:
        found.update(_free_names(sub))
    return list(found)


def captured_reads(graph: Graph) -> dict[str, list[int]]:
    """Name → the indices of ``graph``'s nodes whose subgraphs read it from outside them."""
    out: dict[str, list[int]] = {}
    for node in graph.nodes:
        if node.subgraph_by_attribute:  # None on all but control flow: keep this loop bare
            for name in captured_inputs(node):
                out.setdefault(name, []).append(node.index)
    return out


def _defined(graph: Graph) -> set[str]:
    """Every name ``graph`` itself defines (and so hides from its subgraphs' outer reads)."""
    names = set(graph.inputs)
    for v in graph.values.values():
        # A sparse initializer has no Initializer object; its value keeps that type source.
        if v.initializer is not None or v.type_source == "initializer":
            names.add(v.name)
    for node in graph.nodes:
        names.update(x for x in node.outputs if x)
    return names


def _free_names(graph: Graph) -> dict[str, None]:
    """The names ``graph`` and its nested subgraphs read without defining, in read order."""
    defined = _defined(graph)
    free: dict[str, None] = {}
    for node in graph.nodes:
        for name in node.inputs:
            if name and name not in defined:
                free[name] = None
        for _, sub in node.subgraphs:
            for name in _free_names(sub):
                if name not in defined:
                    free[name] = None
    return free
