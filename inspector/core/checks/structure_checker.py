"""``onnx.checker.check_model(full_check=True)`` for the ``structure`` family: run it, and turn
its one error into a finding on the node it names, unless a structure code already says it.

The checker stops at its first error, and ``full_check`` adds onnx's strict shape inference. Its
message is matched against the structure codes that report the same fault (:data:`_COVERED`);
when one of them was found, the checker's line would say it twice and is dropped. Anything else
becomes ``onnx-checker-failed`` (an error: the checker rejects the model), placed on the node its
``Bad node spec for node. Name: X OpType: Y`` context or its ``(op_type:Y, node name: X)``
inference prefix names, when exactly one node matches.

Known limitations: a model with external data is checked through its path (the in-memory form
cannot find the data files); a model whose protobuf is 2 GB or more cannot be checked in memory
and, without a path, is not checked (an info finding says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import onnx
from onnx import TensorProto

from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model

CHECKER_CODE = "onnx-checker-failed"
_MAX_PROTO_BYTES = 2**31 - 1  # protobuf's limit for serializing the model in memory

# checker message → the structure codes that report the same fault (first match wins)
_COVERED: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = tuple(
    (re.compile(p, re.S), frozenset(codes.split()))
    for p, codes in (
        (
            r"must be topologically sorted",
            "undefined-input node-order graph-cycle node-reads-own-output",
        ),
        (r"used as graph input names multiple times", "duplicate-input"),
        (r"single static assignment", "ssa-violation"),
        (r"initializer name is not unique", "duplicate-initializer"),
        (r"Graph output '.*' is not an output of any node", "output-not-produced"),
        (r"Cycle detected in model-local function", "recursive-function"),
        (r"multiple local functions with the same", "duplicate-function"),
        (r"is not compatible with the version imported by model", "function-opset-mismatch"),
        (r"No [Oo]pset (import|registered) for domain", "domain-not-imported"),
        (r"is deprecated in domain_version|has been deprecated since", "deprecated-op"),
        (r"Mismatched attribute type", "attribute-type-mismatch"),
        (r"Required attribute '.*' is missing", "missing-attribute"),
        (r"Unrecognized attribute", "unknown-attribute"),
        (
            r"appeared multiple times|of 'attr' is required|is expected to have field"
            r"|type field and data field mismatch|more than one value field",
            "invalid-attribute",
        ),
        (r"has input size|more inputs|input \d+ is marked single", "wrong-input-count"),
        (r"has output size|more outputs|output \d+ is marked single", "wrong-output-count"),
        (r"Field 'op_type' of 'node'|has zero input and zero output", "invalid-node"),
        (
            r"of 'value_info' is required|Unrecognized type value case"
            r"|Element type of input \d+ unknown",
            "missing-type",
        ),
        (r"in initializer but not in graph input", "initializer-not-input"),
        (r"IR version < 3 cannot have opset_import", "ir-version-too-old"),
        (
            r"TensorProto|STRING data|Sparse tensor|sparse_tensor|0-element|should be stored in"
            r"|Negative dimension|of 'tensor' is required|of 'init' is required"
            r"|setting data_type field",
            "initializer-size-mismatch initializer-invalid",
        ),
    )
)
_NODE_SPEC = re.compile(r"Bad node spec for node\. Name: (.*?) OpType: (\S*)")
_INFERENCE_NODE = re.compile(r"\(op_type:([^,]*), node name: ([^)]*)\)")


@dataclass(frozen=True)
class CheckerResult:
    """What running the checker gave: ``error`` is its message ("" when it passed);
    ``ran`` is False when it could not be run at all (``error`` then says why)."""

    error: str
    ran: bool = True


def run_checker(model: Model) -> CheckerResult:
    """``onnx.checker.check_model(full_check=True)`` on the model, in memory or by its path."""
    path = model.path
    by_path = path is not None and path.is_file() and _has_external_data(model.proto)
    # the file's size stands for the protobuf's (computing ByteSize copies every weight)
    if not by_path and model.file_size > _MAX_PROTO_BYTES:
        if path is None or not path.is_file():
            return CheckerResult("the model is 2 GB or more and has no file to check", ran=False)
        by_path = True
    try:
        onnx.checker.check_model(str(path) if by_path else model.proto, full_check=True)
    except Exception as e:  # ValidationError, InferenceError, or a C++ error as RuntimeError
        return CheckerResult(str(e).strip() or type(e).__name__)
    return CheckerResult("")


def checker_findings(result: CheckerResult, found: list[Finding], model: Model) -> list[Finding]:
    """The checker's error as a finding, unless a finding in ``found`` already reports it."""
    if not result.ran:
        return [
            Finding(
                Severity.INFO,
                CHECKER_CODE,
                f"onnx.checker was not run: {result.error}",
                hint="the structure checks above still ran; run onnx.checker.check_model on "
                "the file's path to complete the check",
            )
        ]
    if not result.error:
        return []
    text = result.error
    codes = covering_codes(text)
    if codes and any(f.code in codes and f.severity is Severity.ERROR for f in found):
        return []
    line = " ".join(text.split())
    node_index, path, node = None, (), None
    where = locate(text, model)
    if where is not None:
        path, node = where
        node_index = node.index
    return [
        Finding(
            Severity.ERROR,
            CHECKER_CODE,
            f"onnx.checker rejects the model: {line[:400]}",
            hint="onnx.checker stops at the first error it meets; fix this one and check again",
            node=node.name if node else "",
            node_index=node_index,
            op_type=node.op_type if node else "",
            path=path,
        )
    ]


def drop_repeats(findings: list[Finding]) -> list[Finding]:
    """``findings`` of every family without the ones that restate another's, at one place:

    * onnx.checker's error where another family has an error on the same node (or, for a
      model-level one, the model): the runtime-support or edges finding explains it better;
    * an edges ``shape-mismatch``/``dtype-mismatch`` that is onnx's schema-verify message
      (onnx's node inference verifies the schema first) where a structure code reports it;
    * runtime_support's "does not import domain" where ``domain-not-imported`` reports it.
    """
    errors: set[tuple] = set()
    codes_at: dict[tuple, set[str]] = {}
    for f in findings:
        place = (tuple(f.path), f.node_index)
        codes_at.setdefault(place, set()).add(f.code)
        if f.severity is Severity.ERROR and f.code != CHECKER_CODE:
            errors.add(place)

    def repeated(f: Finding) -> bool:
        place = (tuple(f.path), f.node_index)
        if f.code == CHECKER_CODE:
            return place in errors
        if f.code in ("shape-mismatch", "dtype-mismatch"):
            return bool(covering_codes(f.message) & codes_at[place])
        if f.code == "unsupported-opset" and "does not import domain" in f.message:
            return "domain-not-imported" in codes_at[place]
        return False

    return [f for f in findings if not repeated(f)]


def covering_codes(message: str) -> frozenset[str]:
    """The structure codes that report what this checker message says (empty if none)."""
    for pattern, codes in _COVERED:
        if pattern.search(message):
            return codes
    return frozenset()


def locate(message: str, model: Model):
    """(graph path, node) the checker's message names, when exactly one node matches; else None.

    The ``Bad node spec`` context names the node in the main graph whose check failed (for a
    fault inside a subgraph, the node that holds it); the inference prefix may name a node in
    any graph.
    """
    m = _NODE_SPEC.search(message)
    if m is not None:
        name, op = m.group(1).strip(), m.group(2)
        graphs = [model.graph]
    else:
        m = _INFERENCE_NODE.search(message)
        if m is None:
            return None
        op, name = m.group(1).strip(), m.group(2).strip()
        graphs = list(model.graph.iter_graphs())
    hits = [(g.path, n) for g in graphs for n in g.nodes if n.op_type == op and n.name == name]
    return hits[0] if len(hits) == 1 else None


def _has_external_data(proto: onnx.ModelProto) -> bool:
    return any(t.data_location == TensorProto.EXTERNAL for t in proto.graph.initializer)
