"""The ``structure`` family against the real onnx.checker and the real ONNX Runtime.

Each violation of :mod:`tests.core.structure_cases` is asserted three ways: onnx.checker
(``check_model(full_check=True)``) and ONNX Runtime (``InferenceSession`` on the CPU provider,
created in child processes by :func:`tests.core.runtime_truth.label_cases`) still do what the
table says; the family's own checks, without the checker, find the violation's code on its node
or tensor; and the model gets an error exactly when one of the two rejects it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from inspector.core.checks import run_checks, structure
from inspector.core.findings import Finding, Severity, has_errors
from inspector.core.graph import open_model
from inspector.core.tasks import Cancelled, CancelToken
from tests.bad_models import external_model
from tests.core.runtime_truth import Case, label_cases
from tests.core.structure_cases import (
    ERROR,
    INFO,
    VALID,
    VIOLATIONS,
    F,
    Violation,
    chain,
    model,
    mutants,
    node,
    raw,
    vi,
)
from tests.model_zoo import shipped_model_id, shipped_models

# ----------------------------------------------------------------------------------- fixtures


def checker_rejects(m: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception:
        return True
    return False


@pytest.fixture(scope="module")
def ort_rejects() -> dict[str, bool]:
    """Case id → whether ONNX Runtime's session creation fails, for every model built here."""
    cases = [Case(v.id, v.build()) for v in VIOLATIONS]
    cases += [Case(f"valid/{k}", build()) for k, build in VALID.items()]
    return {k: label.kind != "ok" for k, label in label_cases(cases).items()}


def open_proto(m: onnx.ModelProto, tmp_path, name: str = "m"):
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(m.SerializeToString())
    return open_model(path)


def check_proto(m: onnx.ModelProto, tmp_path, name: str = "m") -> list[Finding]:
    return structure.check(open_proto(m, tmp_path, name))


# -------------------------------------------------------------------------------------- tests


def test_the_table_has_one_case_per_code_and_unique_ids():
    ids = [v.id for v in VIOLATIONS]
    assert len(ids) == len(set(ids))
    assert {v.code for v in VIOLATIONS} >= {
        "graph-cycle", "node-reads-own-output", "undefined-input", "node-order", "ssa-violation",
        "duplicate-initializer", "duplicate-input", "output-not-produced", "missing-type",
        "empty-graph", "no-outputs", "duplicate-node-name", "recursive-function",
        "duplicate-function", "function-opset-mismatch", "initializer-size-mismatch",
        "initializer-invalid", "duplicate-opset-import", "domain-not-imported",
        "ir-version-too-old", "initializer-not-input", "attribute-type-mismatch",
        "missing-attribute", "unknown-attribute", "invalid-attribute", "wrong-input-count",
        "wrong-output-count", "deprecated-op", "invalid-node", "onnx-checker-failed",
    }  # fmt: skip


@pytest.mark.parametrize("v", VIOLATIONS, ids=lambda v: v.id)
def test_violation(v: Violation, ort_rejects, tmp_path):
    m = v.build()
    assert checker_rejects(m) is v.checker, "onnx.checker's verdict changed"
    assert ort_rejects[v.id] is v.ort, "ONNX Runtime's verdict changed"
    loaded = open_proto(m, tmp_path)
    findings = structure.check(loaded)
    hits = [f for f in findings if f.code == v.code]
    assert hits, f"no {v.code} in {[(f.code, f.message) for f in findings]}"
    if v.node is not None or v.tensor is not None or v.path:
        assert any(
            (v.node is None or f.node_index == v.node)
            and (v.tensor is None or f.tensor == v.tensor)
            and f.path == v.path
            for f in hits
        ), [(f.node_index, f.tensor, f.path) for f in hits]
    assert {Severity(f.severity) for f in hits} == {v.expected}
    assert has_errors(findings) is (v.checker or v.ort)
    if v.node is not None:
        f = next(f for f in hits if f.node_index == v.node)
        graph = loaded.find_graph(f.path)
        assert graph is not None
        assert (f.op_type, f.node) == (graph.nodes[v.node].op_type, graph.nodes[v.node].name)
    if v.code != "onnx-checker-failed":  # found by the family's own checks, checker or not
        assert v.code in {f.code for f in structure.own_findings(loaded)}


@pytest.mark.parametrize("key", sorted(VALID))
def test_valid_oddities_get_no_warning(key: str, ort_rejects, tmp_path):
    m = VALID[key]()
    assert not checker_rejects(m) and not ort_rejects[f"valid/{key}"]
    loaded = open_proto(m, tmp_path)
    for findings in (structure.check(loaded), structure.own_findings(loaded)):
        assert [(f.code, f.message) for f in findings if f.severity is not INFO] == []


def test_a_cycle_names_its_nodes(tmp_path):
    v = next(v for v in VIOLATIONS if v.id == "cycle")
    cycle = [f for f in check_proto(v.build(), tmp_path) if f.code == "graph-cycle"]
    assert sorted(f.node for f in cycle) == ["n1", "n2", "n3"]  # n4 only reads the cycle
    assert all("n1" in f.message and "n2" in f.message and "n3" in f.message for f in cycle)


def test_every_violation_of_one_model_is_reported(tmp_path):
    """onnx.checker names one fault; the family names each, on its own node or tensor."""
    w = numpy_helper.from_array(np.ones(2, np.float32), "w")
    m = model(
        [
            node("Relu", ["b"], ["a"], "on_cycle_1"),
            node("Neg", ["a"], ["b"], "on_cycle_2"),
            node("Add", ["x", "missing"], ["c"], "reads_nothing"),
            node("Relu", ["x"], ["c"], "writes_c_again", foo=1),
            node("Cast", ["x"], ["d"], "dup"),
            node("Neg", ["x"], ["e"], "dup"),
        ],
        [vi("x")],
        [vi("c"), vi("never")],
        [w, w, raw(F, [2, 3], 20, "short")],
        imports=[helper.make_opsetid("", 13)],
    )
    assert checker_rejects(m)
    codes = {(f.code, f.node_index, f.tensor) for f in check_proto(m, tmp_path)}
    assert codes >= {
        ("graph-cycle", 0, "b"),
        ("graph-cycle", 1, "a"),
        ("undefined-input", 2, "missing"),
        ("ssa-violation", 3, "c"),
        ("unknown-attribute", 3, None),
        ("missing-attribute", 4, None),
        ("duplicate-node-name", 5, None),
        ("duplicate-initializer", None, "w"),
        ("initializer-size-mismatch", None, "short"),
        ("output-not-produced", None, "never"),
        ("duplicate-opset-import", None, None),
    }


def test_shipped_models_that_load_have_no_structure_error(tmp_path):
    """The onnx wheel's shipped models that onnx.checker and ONNX Runtime accept: no error."""
    paths = shipped_models()
    labels = label_cases([Case(shipped_model_id(p), onnx.load(p)) for p in paths])
    accepted = 0
    for p in paths:
        m = onnx.load(p)
        if labels[shipped_model_id(p)].kind != "ok" or checker_rejects(m):
            continue
        accepted += 1
        loaded = open_model(p)
        for findings in (structure.check(loaded), structure.own_findings(loaded)):
            assert [f for f in findings if f.severity is ERROR] == [], shipped_model_id(p)
    assert accepted >= 100


def test_run_checks_says_each_fault_once(tmp_path):
    """Other families meet some of these faults too (edges through onnx's inference, which
    verifies the schema first; runtime_support's domain lookup; the checker's one message)."""

    def codes_at(m: onnx.ModelProto, index: int) -> list[str]:
        path = tmp_path / "m.onnx"
        path.write_bytes(m.SerializeToString())
        return sorted(f.code for f in run_checks(open_model(path)) if f.node_index == index)

    unknown_attr = next(v for v in VIOLATIONS if v.id == "unknown-attribute").build()
    assert codes_at(unknown_attr, 0) == ["unknown-attribute"]
    ml = next(v for v in VIOLATIONS if v.id == "ml-domain-not-imported").build()
    assert codes_at(ml, 1) == ["domain-not-imported"]
    unknown_op = model([node("Frobnicate", ["x"], ["y"], "f")], [vi("x")], [vi("y")])
    assert codes_at(unknown_op, 0) == ["unsupported-op"]  # not also onnx-checker-failed
    no_op_type = next(v for v in VIOLATIONS if v.id == "empty-op-type").build()
    assert codes_at(no_op_type, 0) == ["invalid-node"]  # not also "no operator ai.onnx."


def test_graphs_attributes_are_checked(tmp_path):
    """A custom op's GRAPHS attribute (which the graph model does not build) is checked too."""
    body = helper.make_graph([node("Neg", ["ghost"], ["t"], "inner")], "b", [], [vi("t")])
    n = node("Custom", ["x"], ["y"], "custom", "com.example")
    n.attribute.append(helper.make_attribute("bodies", [body]))
    m = model([n], [vi("x")], [vi("y")], imports=[helper.make_opsetid("com.example", 1)])
    hits = [f for f in check_proto(m, tmp_path) if f.code == "undefined-input"]
    assert [(f.path, f.node_index, f.tensor) for f in hits] == [
        (("custom", "bodies[0]"), 0, "ghost")
    ]


def test_external_data_is_checked_through_the_path(tmp_path):
    """onnx.checker needs the file's folder to find external data: no spurious error."""
    assert structure.check(open_model(external_model(tmp_path / "ext"))) == []


def test_a_huge_cycle_ends_with_a_bounded_report(tmp_path):
    m = chain(20_000)
    m.graph.node[0].input[0] = m.graph.node[-1].output[0]  # the last node feeds the first
    cycle = [f for f in check_proto(m, tmp_path) if f.code == "graph-cycle"]
    assert len(cycle) == 200 and all("cycle of 20000 nodes" in f.message for f in cycle)
    assert [f.node_index for f in cycle] == list(range(200))


def test_cancel_stops_the_check(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(chain(100).SerializeToString())
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        structure.check(open_model(path), cancel=token)


def test_check_json_exits_1_with_structure_codes(tmp_path):
    m = model(
        [node("Relu", ["x"], ["a"], "r"), node("Neg", ["ghost"], ["y"], "r")],
        [vi("x")],
        [vi("y")],
        imports=[helper.make_opsetid("", 17)],
    )
    path = tmp_path / "broken.onnx"
    path.write_bytes(m.SerializeToString())
    r = subprocess.run(
        [sys.executable, "-m", "inspector", "check", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr
    codes = {f["code"] for f in json.loads(r.stdout)["findings"]}
    assert {"undefined-input", "duplicate-node-name", "duplicate-opset-import"} <= codes


def test_mutants_never_break_the_check_and_every_checker_rejection_is_an_error(tmp_path):
    """Random structural changes to the models above: the family never raises, and each model
    onnx.checker rejects gets an error finding."""
    rejected = 0
    for i, (key, m) in enumerate(mutants(150)):
        path = tmp_path / f"{i}.onnx"
        path.write_bytes(m.SerializeToString())
        try:
            loaded = open_model(path, infer=False)
        except Exception:  # the loader refuses it; its own tests cover that
            continue
        findings = structure.check(loaded)
        if checker_rejects(m):
            rejected += 1
            assert has_errors(findings), key
    assert rejected >= 100


@pytest.mark.slow
def test_mutants_get_an_error_only_where_the_checker_or_the_runtime_rejects(tmp_path):
    """The other direction, against real sessions: no error on a mutant both tools accept."""
    models = dict(mutants(600, seed=12))
    labels = label_cases([Case(k, m) for k, m in models.items()])
    false_errors = []
    for i, (key, m) in enumerate(models.items()):
        path = tmp_path / f"{i}.onnx"
        path.write_bytes(m.SerializeToString())
        try:
            loaded = open_model(path, infer=False)
        except Exception:
            continue
        errors = [f for f in structure.check(loaded) if f.severity is ERROR]
        if errors and labels[key].kind == "ok" and not checker_rejects(m):
            false_errors.append((key, errors[0].code, errors[0].message))
    assert false_errors == []


@pytest.mark.slow
def test_onnx_node_test_models_get_no_error_where_the_checker_accepts(tmp_path):
    """Every node test model of the onnx wheel (about 1,900): none that onnx.checker accepts gets
    a structure error, from every check run as if it had not; each it rejects gets one."""
    from onnx.backend.test.case.node import collect_testcases

    cases = collect_testcases(None)
    for case in cases:
        loaded = open_proto(case.model, tmp_path)
        rejected = checker_rejects(case.model)
        assert has_errors(structure.check(loaded)) is rejected, case.name
        if not rejected:
            assert not has_errors(structure.own_findings(loaded)), case.name
    assert len(cases) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True], ids=["clean", "broken"])
def test_a_100k_node_chain_checks_in_under_a_second_of_cpu(broken: bool, tmp_path):
    """CPU time of the family without onnx.checker (process time: steady on a shared machine)."""
    m = chain(100_000)
    if broken:  # the checker rejects it, so every check runs
        m.graph.node[-1].input[0] = m.graph.node[-1].output[0]
    loaded = open_proto(m, tmp_path, "chain")
    start = time.process_time()
    findings = structure.own_findings(loaded, every_check=broken)
    elapsed = time.process_time() - start
    print(f"\n100k nodes, {'every check' if broken else 'checker accepted'}: {elapsed:.3f} s CPU")
    assert elapsed < 1.0
    assert [f.code for f in findings] == (["node-reads-own-output"] if broken else [])
