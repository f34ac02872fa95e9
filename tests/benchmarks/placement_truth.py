"""Where ONNX Runtime really places each node: the "Node placements" lines a session writes at
verbose log level, read from a session created in a child process (the child layer keeps its
stderr as the log).

ONNX Runtime (``session_state.cc``, ``VerifyEachNodeIsAssignedToAnEp``) writes, after
partitioning::

    Node placements
     All nodes placed on [CPUExecutionProvider]. Number of nodes: 3

or, when more than one provider got nodes::

    Node placements
     Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 2
      Relu (n0)
      Relu (n2)
     Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1
      Acos (n1)

The session is created with every graph optimization off, so the nodes are the file's own (plus
the Memcpy nodes ONNX Runtime inserts at device crossings, which are left out here).
"""

from __future__ import annotations

import re
from pathlib import Path

from inspector.core.child import ChildJob, Emitter, run_job

_ALL = re.compile(r"All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)")
_SOME = re.compile(r"Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)")
_NODE = re.compile(r"\]\s{2,}(\S+) \((.*)\)\s*$|^\s{2,}(\S+) \((.*)\)\s*$")


def create_session(emit: Emitter, model: str, providers: list[str]) -> dict:
    """The job (in a child): create a session at verbose log level, optimizations off."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 0
    options.log_verbosity_level = 0
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model, options, providers=providers)
    return {"providers": session.get_providers()}


def parse_placements(log: list[str]) -> tuple[str | None, dict[str, str]]:
    """(the provider every node went to, when the log says "All nodes placed on"; else None),
    and node name → provider for the nodes listed one by one."""
    everything: str | None = None
    named: dict[str, str] = {}
    current: str | None = None
    for line in log:
        if m := _ALL.search(line):
            everything = m.group(1)
            current = None
        elif m := _SOME.search(line):
            current = m.group(1)
        elif current is not None and (m := _NODE.search(line)):
            op, name = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            if not op.startswith("Memcpy"):
                named[name] = current
        elif current is not None and "placed on" not in line and line.strip():
            current = None  # the list ended: another log line
    return everything, named


def real_placement(path: Path, providers: list[str], timeout: float = 120) -> dict[str, str] | None:
    """node name → provider as ONNX Runtime placed the (uniquely named) main-graph nodes of
    ``path``; None when no session could be created."""
    import onnx

    job = ChildJob(
        "tests.benchmarks.placement_truth:create_session",
        {"model": str(path), "providers": providers},
        timeout,
        "a verbose session",
    )
    outcome = run_job(job)
    if outcome.failure is not None:
        return None
    everything, named = parse_placements(outcome.log)
    names = [n.name for n in onnx.load(str(path), load_external_data=False).graph.node]
    if everything is not None:
        return dict.fromkeys(names, everything)
    return {n: named[n] for n in names if n in named}
