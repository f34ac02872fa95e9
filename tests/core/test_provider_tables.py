"""The shipped provider tables: their stamps, the per-node verdict, the runtime releases, and the
proof of the parser (the CPU table from OperatorKernels.md against the live CPU registry)."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

from inspector.core.checks.runtime_registry import load_registry
from inspector.core.checks.runtime_support import check_registry
from inspector.core.graph import Model, open_model
from inspector.core.providers import releases
from inspector.core.providers.tables import (
    CPU,
    CUDA,
    DML,
    KERNEL_TABLE_PROVIDERS,
    OPENVINO,
    PROVIDERS,
    QNN,
    TENSORRT,
    WEBGPU,
    XNNPACK,
    data,
    doc_registry,
    installed_release,
    model_verdicts,
    node_verdict,
    table_info,
)
from tests.core import provider_agreement, runtime_corpus
from tests.core.runtime_corpus import Case
from tests.core.runtime_truth import label_cases
from tests.model_zoo import SHIPPED_SAMPLE, shipped_model_id, shipped_models

F = TensorProto.FLOAT


def _open(tmp_path: Path, proto: onnx.ModelProto, name: str = "m.onnx") -> Model:
    path = tmp_path / name
    onnx.save(proto, path)
    return open_model(path)


def _chain(ops: list[str], opset: int, ir: int | None = None, elem: int = F) -> onnx.ModelProto:
    """x → ops[0] → ops[1] → ... → y on a [2, 4] tensor of ``elem``."""
    names = ["x"] + [f"t{i}" for i in range(len(ops) - 1)] + ["y"]
    nodes = [
        helper.make_node(op, [names[i]], [names[i + 1]], name=f"n{i}_{op}")
        for i, op in enumerate(ops)
    ]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", elem, [2, 4])],
        [helper.make_tensor_value_info("y", elem, [2, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir if ir is not None else 8
    return model


# ------------------------------------------------------------------------------- the data file


def test_every_table_is_stamped_with_source_release_commit_and_date():
    tables = data()["kernels"]
    assert {"1.14", "1.16", "1.20", "1.22"} <= set(tables)
    for key, entry in tables.items():
        stamps = [entry["stamp"]] if entry["stamp"] else []
        stamps += [entry["cpu_stamp"]] if "cpu_stamp" in entry else []
        assert stamps, key
        for stamp in stamps:
            assert stamp["source"].startswith("docs/OperatorKernels.md"), stamp
            assert stamp["release"].startswith(key), stamp
            assert len(stamp["commit"]) == 40 and stamp["date"][:2] == "20", stamp
    assert data()["compatibility"]["stamp"]["source"] == "docs/reference/compatibility.md"
    assert data()["tensorrt"]["stamp"]["repository"] == "onnx/onnx-tensorrt"


def test_table_info_names_the_table_each_provider_is_judged_by():
    assert table_info(CPU)["live"] and table_info(CPU)["release"] == onnxruntime.__version__
    old = table_info(CPU, "1.16.3")
    assert (old["live"], old["release"], old["ref"]) == (False, "1.16.3", "v1.16.3")
    assert table_info(CUDA, "1.22")["release"] == "1.22.1"
    # No CUDA table of 1.32's own: the newest older one is used, and its stamp says so.
    newest = table_info(CUDA, installed_release())
    assert newest["table"] != installed_release() and newest["requested"] == installed_release()
    assert table_info(TENSORRT)["source"] == "docs/operators.md"
    assert table_info(OPENVINO)["source"].endswith("ov_versions/data_ops.cc")
    assert table_info(WEBGPU)["source"] is None


def test_cuda_falls_back_on_lpnormalization_where_its_table_lacks_it(tmp_path):
    model = _open(tmp_path, _chain(["Relu", "LpNormalization", "Relu"], 17))
    at_122 = [node_verdict(CUDA, n, model, "1.22") for n in model.graph.nodes]
    assert [v.status for v in at_122] == ["yes", "no", "yes"]
    assert "LpNormalization" in at_122[1].reason and at_122[1].reason.startswith("unsupported-op")
    assert at_122[0].source == "OperatorKernels.md (onnxruntime 1.22.1)"
    # The CUDA provider gained LpNormalization kernels later (1.29's table has them).
    assert node_verdict(CUDA, model.graph.nodes[1], model, "1.29").status == "yes"
    # The installed build registers CPU kernels itself: the live registry answers, and says so.
    cpu = node_verdict(CPU, model.graph.nodes[1], model)
    assert cpu.status == "yes" and cpu.source.startswith("live registry")


def test_cuda_types_are_matched_by_parameter_name(tmp_path):
    """CUDA's Relu takes no int32 (its table lists float types only); DirectML's does."""
    model = _open(tmp_path, _chain(["Relu"], 17, elem=TensorProto.INT32))
    (node,) = model.graph.nodes
    assert node_verdict(CUDA, node, model, "1.22").status == "no"
    assert "unsupported-type" in node_verdict(CUDA, node, model, "1.22").reason
    assert node_verdict(DML, node, model, "1.22").status == "yes"


def test_tensorrt_quotes_its_documented_restriction(tmp_path):
    pool = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], name="pool")
    graph = helper.make_graph(
        [pool],
        "g",
        [helper.make_tensor_value_info("x", F, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", F, [1, 1, 3, 3])],
    )
    model = _open(tmp_path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    v = node_verdict(TENSORRT, model.graph.nodes[0], model)
    assert v.status == "restricted" and "documented support" in v.reason
    assert "dilations" in v.reason and v.source.startswith("onnx-tensorrt operators.md")
    bits = _open(tmp_path, _chain(["BitwiseNot"], 18, elem=TensorProto.INT32), "b.onnx")
    assert node_verdict(TENSORRT, bits.graph.nodes[0], bits).status == "no"


def test_source_lists_give_documented_support_and_nothing_more(tmp_path):
    model = _open(tmp_path, _chain(["Relu", "LpNormalization"], 17))
    relu = model.graph.nodes[0]
    qnn = node_verdict(QNN, relu, model)
    assert qnn.status == "restricted" and "op builder" in qnn.reason
    assert "onnxruntime's source" in qnn.source
    assert node_verdict(OPENVINO, relu, model).status == "restricted"
    assert "OpenVINO 20" in node_verdict(OPENVINO, relu, model).reason
    xnn = node_verdict(XNNPACK, relu, model)
    assert xnn.status == "no" and "registered kernels" in xnn.reason
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    graph = helper.make_graph(
        [conv],
        "g",
        [helper.make_tensor_value_info("x", F, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", F, [1, 1, 3, 3])],
        [helper.make_tensor("w", F, [1, 1, 2, 2], [1.0] * 4)],
    )
    cnn = _open(
        tmp_path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), "c.onnx"
    )
    assert node_verdict(XNNPACK, cnn.graph.nodes[0], cnn).status == "restricted"


def test_providers_without_a_table_answer_unknown(tmp_path):
    model = _open(tmp_path, _chain(["Relu"], 17))
    assert set(PROVIDERS) >= {CPU, CUDA, TENSORRT, DML, OPENVINO, QNN, XNNPACK, WEBGPU}
    v = node_verdict(WEBGPU, model.graph.nodes[0], model)
    assert (v.status, v.source) == ("unknown", "")
    with pytest.raises(ValueError, match="unknown execution provider"):
        node_verdict("NoSuchExecutionProvider", model.graph.nodes[0], model)


def test_verdicts_reach_subgraph_nodes(tmp_path):
    then_g = helper.make_graph(
        [helper.make_node("LpNormalization", ["x"], ["t"], name="inner")],
        "then",
        [],
        [helper.make_tensor_value_info("t", F, [2, 4])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["e"], name="inner_relu")],
        "else",
        [],
        [helper.make_tensor_value_info("e", F, [2, 4])],
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", F, [2, 4]),
        ],
        [helper.make_tensor_value_info("y", F, [2, 4])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    model = _open(tmp_path, proto)
    verdicts = model_verdicts(CUDA, model, "1.22")
    inner = {path: v.status for (path, i), v in verdicts.items() if path}
    assert sorted(inner.values()) == ["no", "yes"]


# ------------------------------------------------------------------------------- the releases

_COMPAT = {  # ONNX Runtime's compatibility table, as published (opset, IR)
    "1.14": (18, 8),
    "1.15": (19, 8),
    "1.16": (19, 9),
    "1.17": (20, 9),
    "1.18": (21, 10),
    "1.20": (21, 10),
}


def test_release_limits_follow_the_compatibility_table():
    for release, (opset, ir) in _COMPAT.items():
        got = releases.limits(release)
        assert (got["opset"][""], got["ir"]) == (opset, ir), release
        assert "compatibility table" in got["source"]
    # Past the table: the ONNX release the runtime pins (1.21 and 1.22 build against onnx 1.17).
    assert (releases.limits("1.22")["opset"][""], releases.limits("1.22")["ir"]) == (22, 10)
    assert "onnx 1.17.0" in releases.limits("1.22")["source"]
    live = load_registry(CPU)
    here = releases.limits(installed_release())
    assert (here["opset"][""], here["ir"]) == (live.max_opset[""], live.max_ir)
    with pytest.raises(ValueError, match="known releases"):
        releases.limits("1.31")


@pytest.mark.parametrize("opset", [17, 18, 19, 20, 21, 22])
@pytest.mark.parametrize("ir", [8, 9, 10, 11])
def test_release_16_names_exactly_the_models_it_cannot_load(tmp_path, opset, ir):
    model = _open(tmp_path, _chain(["Relu", "Abs"], opset, ir))
    codes = sorted({f.code for f in releases.release_findings(model, "1.16")})
    want = sorted({"unsupported-opset"} if opset > 19 else set()) + (
        ["unsupported-ir"] if ir > 9 else []
    )
    want.sort()
    assert codes == want
    oldest, why = releases.oldest_release(model)
    table_first = min(
        (r for r, (o, i) in _COMPAT.items() if o >= opset and i >= ir),
        key=lambda r: int(r.split(".")[1]),
        default=None,
    )
    if table_first is not None:
        assert oldest == table_first, why
    else:  # opset 22 or IR 11: newer than the table reaches; the ONNX pins decide
        assert oldest in releases.known_releases() and int(oldest.split(".")[1]) > 20


def test_oldest_release_says_which_op_needs_the_opset(tmp_path):
    model = _open(tmp_path, _chain(["Relu", "Gelu"], 20, 9))
    oldest, why = releases.oldest_release(model)
    assert releases.summary(oldest, why) == "needs 1.17: opset 20 (Gelu)"
    assert releases.has_kernel("1.20", "", "Gelu", 20)
    assert not releases.has_kernel("1.17", "", "Gelu", 20)  # 1.17 inlines Gelu's function body


def test_report_is_json_for_the_cli(tmp_path):
    model = _open(tmp_path, _chain(["Relu", "Gelu"], 20, 9))
    out = releases.report(model, "1.16")
    assert out["oldest"]["summary"] == "needs 1.17: opset 20 (Gelu)"
    assert out["release"]["loads"] is False and out["release"]["opset"][""] == 19
    assert [f["code"] for f in out["release"]["findings"]] == ["unsupported-opset"]
    json.dumps(out)
    assert releases.report(model)["release"] is None


def test_installed_release_agrees_with_the_real_runtime():
    """Session creation in children (the truth corpus's labeller) against release_findings."""
    live = load_registry(CPU)
    too_new_opset, too_new_ir = live.max_opset[""] + 1, live.max_ir + 1
    protos = {
        "opset17-ir8": _chain(["Relu"], 17, 8),
        "opset22-ir11": _chain(["Relu", "Gelu"], 22, 11),
        f"opset{too_new_opset}": _chain(["Relu"], too_new_opset, 10),
        f"ir{too_new_ir}": _chain(["Relu"], 21, too_new_ir),
    }
    cases = [Case(f"releases/{k}", p) for k, p in protos.items()]
    labels = label_cases(cases)
    for case in cases:
        model = _model_of(case.model)
        errors = [
            f
            for f in releases.release_findings(model, installed_release())
            if f.severity.value == "error"
        ]
        assert (labels[case.id].kind == "fails") == bool(errors), (case.id, labels[case.id])


def _model_of(proto: onnx.ModelProto) -> Model:
    from inspector.core.graph import build_model
    from inspector.core.loader import LoadedFile

    return build_model(LoadedFile(Path("m.onnx"), proto.ByteSize(), proto, {}, 0))


# ------------------------------------------------------------- the parser's proof (acceptance 4)


def test_parsed_cpu_table_is_the_live_registry_as_the_document_writes_it():
    """Every kernel of the installed runtime, grouped the way gen_opkernel_doc.py writes rows
    (one per op and version range, each parameter's types unioned; kernels without type
    constraints get no row), equals the table parsed from the document: nothing lost, nothing
    added, no type misread."""
    live = load_registry(CPU)
    doc = doc_registry(CPU, installed_release())
    expected: dict[tuple, dict[str, set[str]]] = {}
    for (domain, op), kernels in live.kernels.items():
        for k in kernels:
            if not k.constraints:
                continue
            row = expected.setdefault((domain, op, k.since, k.until), {})
            for name, allowed in k.constraints:
                row.setdefault(name, set()).update(allowed)
    parsed = {
        (domain, op, k.since, k.until): {n: set(a) for n, a in k.constraints}
        for (domain, op), kernels in doc.kernels.items()
        for k in kernels
    }
    assert parsed == expected
    assert len(parsed) > 600


def test_doc_cpu_table_agrees_with_the_live_registry_on_a_sample(tmp_path):
    """A sample in the default run (the full corpus is ``test_doc_cpu_table_full_corpus``):
    every difference must be one the document's format explains."""
    live = load_registry(CPU)
    doc = doc_registry(CPU, installed_release())
    assert doc is not None and doc.runtime_version == onnxruntime.__version__
    protos = [(c.id, c.model) for c in runtime_corpus.hand_cases()]
    protos += [
        (shipped_model_id(p), onnx.load(p))
        for p in shipped_models()
        if shipped_model_id(p) in SHIPPED_SAMPLE
    ]
    agree, explained = 0, []
    for name, proto in protos:
        model = _model_of(proto)
        a = provider_agreement._signature(check_registry(model, live))
        b = provider_agreement._signature(check_registry(model, doc))
        if a == b:
            agree += 1
            continue
        for key in set(a) | set(b):
            if a.get(key) != b.get(key):
                why = provider_agreement._explain(model, key, live, doc)
                explained.append(f"{name}: {why}")
    assert len(protos) > len(SHIPPED_SAMPLE) + 10
    print(f"{agree}/{len(protos)} agree; differences: {explained}")
    assert not [e for e in explained if e.endswith("unexplained")], explained
    assert agree >= len(protos) - 2


@pytest.mark.slow
@pytest.mark.parametrize("part", ["tuned", "heldout", "heldout2"])
def test_doc_cpu_table_full_corpus(part):
    """Every model of the runtime-support truth corpus (with the onnx wheel's models), judged
    with the doc-derived CPU table and with the live registry."""
    result = provider_agreement.sweep(part)
    print(result.text())
    assert not result.unexplained(), result.unexplained()[:20]


def test_kernel_tables_cover_the_doc_providers():
    for release in ("1.14", "1.22", "1.29"):
        for provider in KERNEL_TABLE_PROVIDERS:
            reg = doc_registry(provider, release)
            assert reg is not None and len(reg.kernels) > 150, (release, provider)
