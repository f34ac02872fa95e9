"""The ``structure`` check family: every way the model breaks the ONNX spec, each on its node or
tensor, all at once (onnx.checker and ONNX Runtime each stop at the first).

Per graph (the main graph, every subgraph, every model-local function body):

* definitions: each tensor name defined once (``ssa-violation``: two nodes, a node and an
  input or initializer, or a subgraph reusing an enclosing graph's name), no graph input or
  initializer twice (``duplicate-input``, ``duplicate-initializer``);
* reads: every input defined (``undefined-input``; ``""`` marks an omitted optional input), in
  topological order (``node-order``), no cycle (``graph-cycle``, naming its nodes) and no node
  reading its own output (``node-reads-own-output``). A subgraph's reads of enclosing-scope
  values count as reads of the node that holds it;
* every graph output produced (``output-not-produced``), unique node names
  (``duplicate-node-name``), main-graph inputs and outputs typed (``missing-type``), a graph that
  computes something (``empty-graph``, ``no-outputs``);
* stored tensors (:mod:`.structure_data`): initializer, sparse-initializer and Constant data sized
  as their dims and dtype say (``initializer-size-mismatch``, ``initializer-invalid``);
* each node against its schema (:mod:`.structure_schema`).

Model level: opset domains imported twice (``duplicate-opset-import``), IR version against the
opsets and features used (``ir-version-too-old``, ``initializer-not-input``), model-local
functions defined twice, calling themselves or importing an opset that changes their ops
(``duplicate-function``, ``recursive-function``, ``function-opset-mismatch``).

``onnx.checker.check_model(full_check=True)`` runs first (:mod:`.structure_checker`); its error
becomes ``onnx-checker-failed`` unless a code here already reports it.

Severity: an error when onnx.checker or ONNX Runtime (1.32, CPU) rejects the model, else a
warning or note; each case is measured in ``tests/core/test_structure.py``. Faults that only
ONNX Runtime rejects, and only where it looks (data longer than its dims in a used initializer,
duplicate node names inside a called function), are errors only there.

Cost: linear in nodes and tensors. When onnx.checker accepts the model (the usual case), only
the checks it does not make run (node names, data longer than needed, function outputs, empty
graphs, opsets, IR): its C++ has made the others on every node and found nothing. When it
rejects the model, every pass runs, so each fault is named, not just its first. The cycle search
runs only when some node reads a later node's output, and only over the nodes between them.
Measured on a 100k-node chain (50k initializers): 0.17 s of CPU when the checker accepts it,
0.76 s with every pass; onnx.checker itself takes about 0.8 s.

Known limitations: ``target`` does not change what is checked (structure is runtime-neutral);
types and shapes are the ``edges`` family's; ops without an onnx schema are the
``runtime_support`` family's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import onnx
from onnx import AttributeProto, ValueInfoProto, helper

from inspector.core.checks.edges import node_label
from inspector.core.checks.runtime_registry import normalize_domain
from inspector.core.checks.structure_checker import checker_findings, run_checker
from inspector.core.checks.structure_data import (
    DataFault,
    raw_size_matches,
    sparse_faults,
    tensor_faults,
)
from inspector.core.checks.structure_schema import node_faults, schema_at
from inspector.core.checks.structure_topology import (
    GraphView,
    discover,
    nodes_for,
    scan,
    strongly_connected,
)
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model, Node
from inspector.core.tasks import CancelToken

if TYPE_CHECKING:
    from inspector.core.checks.target import RuntimeTarget

_STANDARD = frozenset(("", "ai.onnx", "ai.onnx.ml"))
_FUNCTIONS_IR = 8  # model-local functions came with IR version 8


def check(
    model: Model, target: RuntimeTarget | None = None, cancel: CancelToken | None = None
) -> list[Finding]:
    """Every structural fault of ``model``, then onnx.checker's error if no finding covers it."""
    checker = run_checker(model)
    if cancel is not None:
        cancel.check()
    found = own_findings(model, every_check=bool(checker.error) or not checker.ran, cancel=cancel)
    return found + checker_findings(checker, found, model)


def own_findings(
    model: Model, every_check: bool = True, cancel: CancelToken | None = None
) -> list[Finding]:
    """The family's findings without onnx.checker: every check, or, when onnx.checker has
    accepted the model (``every_check`` False), only those it does not make."""
    s = _Structure(model, cancel)
    s.run(every_check)
    return s.findings


class _Structure:
    def __init__(self, model: Model, cancel: CancelToken | None) -> None:
        self.model = model
        self.proto = model.proto
        self.cancel = cancel
        self.findings: list[Finding] = []
        # the last import of a domain wins, in onnx.checker and ONNX Runtime alike (measured)
        self.opsets = {normalize_domain(o.domain): o.version for o in self.proto.opset_import}
        self.local = {(normalize_domain(f.domain), f.name) for f in self.proto.functions}
        self.called: set[str] = set()

    def run(self, full: bool) -> None:
        """All checks with ``full``; without it, only those onnx.checker does not make (it
        accepted the model, so the others would find nothing)."""
        self._model_level()
        g = self.proto.graph
        main = GraphView(
            (),
            "main",
            nodes_for(self.model.graph, g),
            [vi.name for vi in g.input],
            [vi.name for vi in g.output],
            g.initializer,
            g.sparse_initializer,
            self.opsets,
        )
        roots = [discover(main, full)]
        built = {f.graph.path: f.graph for f in self.model.functions}
        for fp in self.proto.functions:
            fid = _function_id(fp)
            path = ("function", fid)
            opsets = {normalize_domain(o.domain): o.version for o in fp.opset_import}
            nodes = nodes_for(built.get(path), fp)
            view = GraphView(path, "function", nodes, list(fp.input), list(fp.output), (), (),
                             opsets, fid)  # fmt: skip
            roots.append(discover(view, full))
        self._functions(main, roots[1:])
        self._main_graph(main)
        for root in roots:
            self._tick()
            if full:
                scan(root, (), self._add)
            elif root.kind == "function":
                self._function_outputs(root)  # ONNX Runtime checks these, onnx.checker not
            for view in root.tree():
                self._tick()
                self._node_names(view)
                self._data(view, full)
                if full:
                    self._schema(view)

    # ------------------------------------------------------------------------------ reporting

    def _add(
        self,
        severity: Severity,
        code: str,
        message: str,
        hint: str = "",
        view: GraphView | None = None,
        node: Node | None = None,
        tensor: str | None = None,
    ) -> None:
        self.findings.append(
            Finding(
                severity,
                code,
                message,
                hint,
                node.name if node is not None else "",
                node.index if node is not None else None,
                node.op_type if node is not None else "",
                tensor,
                view.path if view is not None else (),
            )
        )

    def _tick(self) -> None:
        if self.cancel is not None:
            self.cancel.check()

    # ---------------------------------------------------------------------------- model level

    def _model_level(self) -> None:
        seen: dict[str, list[int]] = {}
        for o in self.proto.opset_import:
            seen.setdefault(normalize_domain(o.domain), []).append(o.version)
        for domain, versions in seen.items():
            if len(versions) > 1:
                self._add(
                    Severity.WARNING,
                    "duplicate-opset-import",
                    f"the model imports {domain or 'ai.onnx'} {len(versions)} times "
                    f"({', '.join(map(str, versions))}); onnx.checker and ONNX Runtime both use "
                    f"the last one ({versions[-1]})",
                    "keep one opset import per domain",
                )
        ir = self.proto.ir_version
        if ir < 3 and self.proto.opset_import:
            self._add(
                Severity.ERROR,
                "ir-version-too-old",
                f"IR version {ir} predates opset imports, yet the model has them",
                "set ir_version to the one its opsets need (onnx.helper.find_min_ir_version_for)",
            )
            return
        need, why = self._min_ir()
        if need > ir:
            self._add(
                Severity.INFO,
                "ir-version-too-old",
                f"IR version {ir} is older than {why} needs (IR {need}); onnx.checker and "
                "ONNX Runtime accept it, other tools may not",
                f"set ir_version to {need}",
            )
        if ir < 4:
            inputs = {vi.name for vi in self.proto.graph.input}
            for t in self.proto.graph.initializer:
                if t.name not in inputs:
                    self._add(
                        Severity.ERROR,
                        "initializer-not-input",
                        f"initializer '{t.name}' is not a graph input, which IR version {ir} "
                        "requires (onnx.checker rejects this)",
                        "list it among the graph inputs, or set ir_version to 4 or newer",
                        tensor=t.name,
                    )

    def _min_ir(self) -> tuple[int, str]:
        """The lowest IR version the model's opsets and features need, and what needs it."""
        ids = [helper.make_opsetid(d, v) for d, v in self.opsets.items()]
        try:
            need = helper.find_min_ir_version_for(ids, ignore_unknown=True)
        except Exception:  # an opset newer than this onnx knows: runtime_support reports it
            need = 0
        why = "its opset imports"
        if self.proto.functions and need < _FUNCTIONS_IR:
            need, why = _FUNCTIONS_IR, "a model with local functions"
        return need, why

    def _functions(self, main: GraphView, bodies: list[GraphView]) -> None:
        """Duplicate and recursive model-local functions; which ones the graph calls."""
        protos = self.proto.functions
        first: dict[tuple[str, str], int] = {}
        for k, f in enumerate(protos):
            key = (normalize_domain(f.domain), f.name)
            if key in first:
                self._add(
                    Severity.ERROR,
                    "duplicate-function",
                    f"model-local function {_function_id(f)} is defined twice",
                    "remove one definition (or rename it and its calls)",
                )
            first.setdefault(key, k)
        if not protos:
            return

        def calls_in(root: GraphView) -> list[tuple[int, GraphView, Node]]:
            return [
                (c, view, n)
                for view in root.tree()
                for n in view.nodes
                if (c := first.get((normalize_domain(n.domain), n.op_type))) is not None
            ]

        calls = [calls_in(body) for body in bodies]
        comp = strongly_connected(len(bodies), [[c for c, _, _ in out] for out in calls])
        for k, out in enumerate(calls):
            for callee, view, n in out:
                if comp[callee] == comp[k]:
                    self._add(
                        Severity.ERROR,
                        "recursive-function",
                        f"function {bodies[k].function} calls {bodies[callee].function}, which "
                        "leads back to it; model-local functions must not be recursive",
                        "inline or restructure the call; ONNX has no recursion",
                        view,
                        n,
                    )
        # called: reachable from the main graph (ONNX Runtime only inlines those)
        todo = [c for c, _, _ in calls_in(main)]
        reached: set[int] = set()
        while todo:
            k = todo.pop()
            if k not in reached:
                reached.add(k)
                todo += [c for c, _, _ in calls[k]]
        self.called = {bodies[k].function for k in reached}

    # ---------------------------------------------------------------------------- main graph

    def _main_graph(self, view: GraphView) -> None:
        g = self.proto.graph
        for kind, infos in (("input", g.input), ("output", g.output)):
            for vi in infos:
                problem = _type_problem(vi, kind == "input")
                if problem:
                    self._add(
                        Severity.ERROR,
                        "missing-type",
                        f"graph {kind} '{vi.name}' {problem}",
                        "declare its type (onnx.helper.make_tensor_value_info)",
                        view,
                        tensor=vi.name,
                    )
        if not view.outputs and all(n.op_type == "Constant" for n in view.nodes):
            self._add(
                Severity.ERROR,
                "empty-graph",
                "the graph has no outputs and no nodes that compute anything; ONNX Runtime "
                "cannot create a session for it",
                "add the nodes and graph outputs the model is meant to have",
            )
        elif not view.outputs:
            self._add(
                Severity.WARNING,
                "no-outputs",
                "the graph declares no outputs, so a session computes nothing",
                "declare the tensors the model produces as graph outputs",
            )
        elif not view.nodes:
            self._add(
                Severity.INFO,
                "empty-graph",
                "the graph has no nodes: its outputs are its inputs or initializers",
            )

    # ------------------------------------------------------------------------ per graph

    def _node_names(self, view: GraphView) -> None:
        names = [n.name for n in view.nodes]
        named = [n for n in names if n]
        if len(set(named)) == len(named):
            return  # the usual case, decided in C
        first: dict[str, Node] = {}
        # ONNX Runtime refuses two nodes of one graph with one name; in a function body, only
        # when the function is called (it inlines it); onnx.checker does not check names.
        rejected = view.function == "" or view.function in self.called
        for node in view.nodes:
            # ONNX Runtime turns ai.onnx Constants into initializers before it looks at names.
            if not node.name or (node.op_type == "Constant" and node.domain in ("", "ai.onnx")):
                continue
            other = first.setdefault(node.name, node)
            if other is not node:
                self._add(
                    Severity.ERROR if rejected else Severity.WARNING,
                    "duplicate-node-name",
                    f"{node_label(node)} has the same name as {node_label(other)} (#"
                    f"{other.index})" + ("" if rejected else " (in a function nothing calls)"),
                    "give each node a unique name (ONNX Runtime refuses duplicates)",
                    view,
                    node,
                )

    def _function_outputs(self, view: GraphView) -> None:
        """A function output nothing in its body produces (ONNX Runtime rejects the model,
        called or not; onnx.checker does not look)."""
        defined = set(view.inputs)
        for node in view.nodes:
            defined.update(node.outputs)
        for name in view.outputs:
            if name not in defined:
                self._add(
                    Severity.ERROR,
                    "output-not-produced",
                    f"function output '{name}' is not produced by any node",
                    "connect the output to the tensor that holds it, or remove it",
                    view,
                    tensor=name,
                )

    # ---------------------------------------------------------------------------------- data

    def _data(self, view: GraphView, full: bool) -> None:
        """Stored tensors' data: every initializer, sparse initializer and Constant value.
        Without ``full`` (onnx.checker accepted the model), an initializer whose raw_data has
        the size its dims need is passed at a glance."""
        for t in view.initializers:
            if full or not raw_size_matches(t):
                faults = tensor_faults(t, f"initializer '{t.name}'", named=True)
                self._report_data(view, None, t.name, faults)
        for s in view.sparse:
            name = s.values.name
            faults = sparse_faults(s, f"sparse initializer '{name}'", named=True)
            self._report_data(view, None, name, faults)
        for node in view.nodes:
            if node.op_type != "Constant" or node.domain not in _STANDARD:
                continue
            out = node.outputs[0] if node.outputs else ""
            what = f"the value of {node_label(node)}"
            for a in node.proto.attribute:
                if a.type == AttributeProto.TENSOR:
                    self._report_data(view, node, out, tensor_faults(a.t, what))
                elif a.type == AttributeProto.SPARSE_TENSOR:
                    self._report_data(view, node, out, sparse_faults(a.sparse_tensor, what))

    def _report_data(
        self, view: GraphView, node: Node | None, name: str, faults: list[DataFault]
    ) -> None:
        for f in faults:
            severity, message = Severity.ERROR, f.message
            if f.runtime_only and name not in view.used():
                severity = Severity.WARNING
                message += " (unused: ONNX Runtime drops it and onnx.checker accepts it)"
            self._add(severity, f.code, message, f.hint, view, node, name or None)

    # -------------------------------------------------------------------------------- schema

    def _schema(self, view: GraphView) -> None:
        model_opsets = self.opsets
        for node in view.nodes:
            for code, message, hint in node_faults(node, view.opsets, self.local):
                self._add(Severity.ERROR, code, message, hint, view, node)
            if view.function:
                self._function_opset(view, node, model_opsets)

    def _function_opset(self, view: GraphView, node: Node, model_opsets: dict[str, int]) -> None:
        """onnx.checker's rule: where a function and the model import one domain at different
        versions, each op of the body must have the same schema at both."""
        domain = normalize_domain(node.domain)
        fv, mv = view.opsets.get(domain), model_opsets.get(domain)
        if fv is None or mv is None or fv == mv:
            return
        a, b = schema_at(node.op_type, fv, domain), schema_at(node.op_type, mv, domain)
        if a is None and b is None:
            return
        if a is None or b is None or a.since_version != b.since_version:
            self._add(
                Severity.ERROR,
                "function-opset-mismatch",
                f"{node_label(node)}: function {view.function} imports "
                f"{domain or 'ai.onnx'} {fv}, the model {mv}, and {node.op_type} differs "
                "between them (onnx.checker rejects this)",
                f"import {domain or 'ai.onnx'} {mv} in the function, as the model does",
                view,
                node,
            )


# ---------------------------------------------------------------------------------- helpers


def _function_id(f: onnx.FunctionProto) -> str:
    return f"{f.domain}:{f.name}" if f.domain else f.name


def _type_problem(vi: ValueInfoProto, is_input: bool) -> str:
    """Why a main-graph input or output's declared type is not enough ("" when it is)."""
    if not vi.HasField("type") or vi.type.WhichOneof("value") is None:
        return "has no type"
    if is_input and vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type == 0:
        return "has no element type"
    return ""
