"""Export diagnosis down to the user's line: each failing or degraded export of the corpus
(tests/export_cases/line_corpus.py and line_helpers.py, both exporters) must come back with the
right cause code and, where the cause is a line of the user's code, that line (within one).

The expected line is found by its ``# <- cause: TAG`` comment in the corpus files, so the
expectation follows the code. Every export runs in a child process through
:func:`export_model`, two at a time, as tests/core/test_export.py does; the test process never
imports torch. The full corpus (about 60 exports) is slow; the default run takes a small subset.
Run ``python -m pytest tests/core/test_export_lines.py -m slow -s`` for the figures.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from inspector.core.export import DynamicDim, ExportConfig, ExportResult, export_model
from inspector.core.export.explain import CODES, TORCHSCRIPT_STEPS, explain_error, failed_op
from tests.model_zoo import torch_available

CASES = Path(__file__).resolve().parent.parent / "export_cases"
CORPUS = CASES / "line_corpus.py"

pytestmark = [
    pytest.mark.skipif(not torch_available(), reason="torch is not installed"),
    pytest.mark.timeout(3600),
]

TS = {"exporter": "torchscript"}
DYN = {"dynamic_batch": True}
TS_DYN = {**TS, **DYN}

# id → (factory, config overrides, expected root-cause code, the tag of its line or None when
# the cause is a setting, not a line of code)
LINE_CASES: dict[str, tuple[str, dict, str, str | None]] = {
    # ops with no translation (prims and a translation that refuses its arguments included)
    "svd_nested": ("svd_nested", {}, "unsupported-aten-op", "svd_nested"),
    "svd_nested_ts": ("svd_nested", TS, "unsupported-aten-op", "svd_nested"),
    "kthvalue_helper": ("kthvalue_helper", {}, "unsupported-aten-op", "helper_kthvalue"),
    "kthvalue_helper_ts": ("kthvalue_helper", TS, "unsupported-aten-op", "helper_kthvalue"),
    "cummax": ("cummax", {}, "unsupported-aten-op", "cummax"),
    "cummax_ts": ("cummax", TS, "unsupported-aten-op", "cummax"),
    "bessel": ("bessel", {}, "unsupported-aten-op", "bessel"),
    "bessel_ts": ("bessel", TS, "unsupported-aten-op", "bessel"),
    "lgamma": ("lgamma", {}, "unsupported-aten-op", "lgamma"),
    "histc": ("histc", {}, "unsupported-aten-op", "histc"),
    "histc_ts": ("histc", TS, "unsupported-aten-op", "histc"),
    "logcumsumexp_ts": ("logcumsumexp", TS, "unsupported-aten-op", "logcumsumexp"),
    "median": ("median", {}, "unsupported-aten-op", "median"),
    "median_ts": ("median", TS, "unsupported-aten-op", "median"),
    # custom ops and autograd Functions, in another file than the factory
    "custom_op_helper": ("custom_op_helper", {}, "custom-op-no-translation", "helper_custom_op"),
    "custom_op_helper_ts": (
        "custom_op_helper",
        TS,
        "custom-op-no-translation",
        "helper_custom_op",
    ),
    "function_helper": ("function_helper", {}, "custom-autograd-function", "helper_function"),
    "function_helper_ts": ("function_helper", TS, "custom-autograd-function", "helper_function"),
    "function_item": ("function_item", {}, "custom-autograd-function", "function_item"),
    "function_item_ts": ("function_item", TS, "custom-autograd-function", "function_item"),
    # control flow on values
    "data_if_helper": ("data_if_helper", {}, "data-dependent-control-flow", "helper_data_if"),
    "data_if_helper_ts": ("data_if_helper", TS, "data-dependent-control-flow", "helper_data_if"),
    "data_while": ("data_while", {}, "data-dependent-control-flow", "data_while"),
    "data_while_ts": ("data_while", TS, "data-dependent-control-flow", "data_while"),
    "data_bool": ("data_bool", {}, "data-dependent-control-flow", "data_bool"),
    "data_bool_ts": ("data_bool", TS, "data-dependent-control-flow", "data_bool"),
    # dims the code fixes
    "reshape_const": ("reshape_const", DYN, "dynamic-dim-specialized", "reshape_const"),
    "reshape_const_ts": ("reshape_const", TS_DYN, "dynamic-dim-specialized", "reshape_const"),
    "param_broadcast": ("param_broadcast", DYN, "dynamic-dim-specialized", "param_broadcast"),
    "param_broadcast_ts": (
        "param_broadcast",
        TS_DYN,
        "dynamic-dim-specialized",
        "param_broadcast",
    ),
    "expand_const": ("expand_const", DYN, "dynamic-dim-specialized", "expand_const"),
    "expand_const_ts": ("expand_const", TS_DYN, "dynamic-dim-specialized", "expand_const"),
    "batch_one": ("batch_one", DYN, "dynamic-dim-specialized", "batch_one"),
    # Python tests on shapes
    "gate_shape_if": ("gate_shape_if", DYN, "branch-baked", "gate_shape_if"),
    "gate_shape_if_ts": ("gate_shape_if", TS_DYN, "branch-baked", "gate_shape_if"),
    "shape_ifexp": ("shape_ifexp", DYN, "branch-baked", "helper_shape_ifexp"),
    "shape_ifexp_ts": ("shape_ifexp", TS_DYN, "branch-baked", "helper_shape_ifexp"),
    "len_if": ("len_if", DYN, "branch-baked", "len_if"),
    "len_if_ts": ("len_if", TS_DYN, "branch-baked", "len_if"),
    # values frozen into constants
    "item_helper_ts": ("item_helper", TS, "tensor-value-baked", "helper_item"),
    "tolist_ts": ("tolist", TS, "tensor-value-baked", "tolist"),
    "numpy_mean": ("numpy_mean", {}, "tensor-value-baked", "numpy_mean"),
    "numpy_mean_ts": ("numpy_mean", TS, "tensor-value-baked", "numpy_mean"),
    # dtypes
    "double_in_forward": ("double_in_forward", {}, "float64-input", "helper_double"),
    "double_in_forward_ts": ("double_in_forward", TS, "float64-input", "helper_double"),
    "float64_const": ("float64_const", {}, "float64-input", "float64_const"),
    "float64_const_ts": ("float64_const", TS, "float64-input", "float64_const"),
    "float64_inputs": ("float64_inputs", {}, "float64-input", "float64_inputs"),
    "float64_inputs_ts": ("float64_inputs", TS, "float64-input", "float64_inputs"),
    "half_model": ("half_model", {}, "fp16-on-cpu", "half_model"),
    "half_model_ts": ("half_model", TS, "fp16-on-cpu", "half_model"),
    "half_in_forward": ("half_in_forward", {}, "fp16-on-cpu", "helper_half"),
    "half_in_forward_ts": ("half_in_forward", TS, "fp16-on-cpu", "helper_half"),
    # outputs that differ
    "randn_helper": ("randn_helper", {}, "parity-mismatch", "helper_randn"),
    "randn_helper_ts": ("randn_helper", TS, "parity-mismatch", "helper_randn"),
    "dropout_train": ("dropout_train", {}, "parity-mismatch", "dropout_train"),
    "dropout_train_ts": ("dropout_train", TS, "parity-mismatch", "dropout_train"),
    # causes that are settings, not lines
    "opset_11": ("mlp", {"opset": 11}, "opset-not-honored", None),
    "opset_30": ("mlp", {"opset": 30}, "opset-not-honored", None),
    "opset_30_ts": ("mlp", {**TS, "opset": 30}, "opset-unsupported", None),
    "opset_25_ts": ("mlp", {**TS, "opset": 25}, "opset-unsupported", None),
    "wrong_dim_name": (
        "mlp",
        {"dynamic": [DynamicDim("nope", 0, "batch")]},
        "dynamic-axis-missing",
        None,
    ),
}

# Constructs the dynamo exporter handles that the TorchScript exporter does not: a dynamo
# export of them must not be called a failure.
HANDLED_BY_DYNAMO: dict[str, str] = {
    "logcumsumexp": "logcumsumexp",
    "item_helper": "item_helper",
    "tolist": "tolist",
}

# The default run (two rounds of two child processes): an op's line from the eager pass, a
# traceback's, a shape event's and a tracer warning's, each in a helper or a nested module.
QUICK = ("kthvalue_helper_ts", "data_if_helper", "param_broadcast", "len_if_ts")

_TAG_RE = re.compile(r"#\s*<- cause: ([a-z0-9_]+)")


def cause_lines() -> dict[str, tuple[str, int]]:
    """tag → (file, line) of each ``# <- cause: TAG`` comment in the corpus files."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted(CASES.glob("line_*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = _TAG_RE.search(line)
            if m:
                assert m.group(1) not in found, f"tag {m.group(1)} is used twice"
                found[m.group(1)] = (str(path), n)
    return found


def run_cases(cases: dict[str, tuple[str, dict]], out: Path) -> dict[str, ExportResult]:
    """Each case (factory, overrides) exported from the corpus, two child processes at a time."""
    configs = {
        case: ExportConfig(str(CORPUS), str(out / f"{case}.onnx"), factory=factory, **extra)
        for case, (factory, extra) in cases.items()
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            case: pool.submit(export_model, cfg, timeout=600) for case, cfg in configs.items()
        }
        return {case: f.result() for case, f in futures.items()}


def root_cause(result: ExportResult, code: str) -> tuple[str | None, str | None]:
    """(the finding's code that matches, or the most severe finding's code; its source line)."""
    pairs = list(zip(result.findings, result.source_lines, strict=True))
    for f, source in pairs:
        if f.code == code:
            return f.code, source
    return (pairs[0][0].code, pairs[0][1]) if pairs else (None, None)


def _within_one(source: str | None, expected: tuple[str, int]) -> bool:
    if not source:
        return False
    path, _, line = source.rpartition(":")
    return Path(path).resolve() == Path(expected[0]).resolve() and abs(int(line) - expected[1]) <= 1


def measure(results: dict[str, ExportResult], table: dict) -> tuple[list[str], list[str], int]:
    """(cases whose code is wrong, cases whose line is not named, cases with a line to name)."""
    lines = cause_lines()
    wrong_code, no_line, with_line = [], [], 0
    for case, (_factory, _extra, code, tag) in table.items():
        got, source = root_cause(results[case], code)
        if got != code:
            wrong_code.append(f"{case}: {got}")
        if tag is not None:
            with_line += 1
            if not _within_one(source, lines[tag]):
                no_line.append(f"{case}: {source}")
    return wrong_code, no_line, with_line


def _describe(result: ExportResult) -> str:
    return json.dumps(result.to_json(), indent=1)[:3000] + "\n" + result.log[-1500:]


def _check(results: dict[str, ExportResult], table: dict, code_share: float, line_share: float):
    wrong_code, no_line, with_line = measure(results, table)
    code_right = 1 - len(wrong_code) / len(table)
    line_named = 1 - len(no_line) / with_line
    print(
        f"\n{len(table)} cases ({with_line} with a cause line): code right "
        f"{len(table) - len(wrong_code)}/{len(table)} = {code_right:.1%}, line named "
        f"{with_line - len(no_line)}/{with_line} = {line_named:.1%}"
    )
    for miss in wrong_code:
        print("  wrong code:", miss)
    for miss in no_line:
        print("  no line:", miss)
    assert code_right >= code_share, wrong_code
    assert line_named >= line_share, no_line


def test_every_cause_line_is_tagged_once_and_every_code_is_covered():
    lines = cause_lines()
    tags = {tag for *_rest, tag in LINE_CASES.values() if tag}
    assert tags <= set(lines), tags - set(lines)
    assert set(lines) <= tags | set(HANDLED_BY_DYNAMO.values()), set(lines) - tags
    codes = {code for _f, _e, code, _t in LINE_CASES.values()}
    from_user_code = {
        "unsupported-aten-op",
        "custom-autograd-function",
        "custom-op-no-translation",
        "data-dependent-control-flow",
        "dynamic-dim-specialized",
        "branch-baked",
        "tensor-value-baked",
        "float64-input",
        "fp16-on-cpu",
        "opset-unsupported",
        "opset-not-honored",
        "parity-mismatch",
        "dynamic-axis-missing",
    }
    assert from_user_code <= codes <= set(CODES)
    exporters = {extra.get("exporter", "dynamo") for _f, extra, _c, _t in LINE_CASES.values()}
    assert exporters == {"dynamo", "torchscript"} and len(LINE_CASES) >= 40


def test_quick_subset_names_code_and_line(tmp_path):
    table = {case: LINE_CASES[case] for case in QUICK}
    results = run_cases({c: (f, e) for c, (f, e, _code, _tag) in table.items()}, tmp_path)
    _check(results, table, 1.0, 1.0)


@pytest.mark.slow
def test_corpus_names_code_and_line(tmp_path):
    results = run_cases({c: (f, e) for c, (f, e, _code, _tag) in LINE_CASES.items()}, tmp_path)
    _check(results, LINE_CASES, 0.95, 0.90)


@pytest.mark.slow
def test_clean_models_and_constructs_dynamo_handles_get_no_warning(tmp_path):
    configs = {
        **{
            f"{factory}_dynamo": ExportConfig(
                str(CORPUS), str(tmp_path / f"{factory}.onnx"), factory=factory
            )
            for factory in HANDLED_BY_DYNAMO
        },
        **{
            f"clean_{factory}_{exporter}": ExportConfig(
                str(CASES / "clean.py"),
                str(tmp_path / f"clean_{factory}_{exporter}.onnx"),
                factory=factory,
                exporter=exporter,
                dynamic_batch=True,
            )
            for factory in ("cnn", "lstm", "two_inputs")
            for exporter in ("dynamo", "torchscript")
        },
        "resnet18": ExportConfig(
            str(CASES / "resnet.py"),
            str(tmp_path / "resnet18.onnx"),
            factory="resnet18",
            dynamic_batch=True,
        ),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {c: pool.submit(export_model, cfg, timeout=900) for c, cfg in configs.items()}
        results = {c: f.result() for c, f in futures.items()}
    loud = {
        case: [f"{f.code}: {f.message}" for f in r.findings if f.severity in ("error", "warning")]
        for case, r in results.items()
    }
    print("\nclean exports:", {case: r.ok for case, r in results.items()})
    assert all(r.ok for r in results.values()), {c: _describe(r) for c, r in results.items()}
    assert {case: found for case, found in loud.items() if found} == {}


def test_torchscript_failures_get_torchscript_advice():
    text = (
        "UnsupportedOperatorError: Exporting the operator 'aten::cummax' to ONNX opset version 20"
    )
    ts = explain_error(text, None, 20, exporter="torchscript").finding
    assert ts.code == "unsupported-aten-op"
    assert "register_custom_op_symbolic('aten::cummax'" in ts.hint
    assert "custom_translation_table" not in ts.hint
    dynamo = explain_error(
        "ConversionError: No ONNX function found for <OpOverload(op='aten.cummax', "
        "overload='default')>",
        None,
        18,
    ).finding
    assert "torch.ops.aten.cummax.default" in dynamo.hint
    assert set(TORCHSCRIPT_STEPS) <= set(CODES)


def test_a_prim_without_translation_is_an_unsupported_aten_op():
    text = "ConversionError: No ONNX function found for <OpOverload(op='prims.bessel_j0', "
    assert failed_op(text) == "prims::bessel_j0"
    assert explain_error(text, None, 18).finding.code == "unsupported-aten-op"
    custom = "ConversionError: No ONNX function found for <OpOverload(op='mylib.twice', "
    assert explain_error(custom, None, 18).finding.code == "custom-op-no-translation"


def test_source_readers_find_the_tagged_lines():
    import onnx

    from inspector.core.export import locate
    from inspector.core.export.explain import is_user_file

    lines = cause_lines()
    helpers = str(CASES / "line_helpers.py")
    assert locate.in_autograd_function(helpers, lines["helper_function"][1])
    assert not locate.in_autograd_function(helpers, lines["helper_kthvalue"][1])
    assert locate.shape_test_at(helpers, lines["helper_shape_ifexp"][1])
    assert not locate.shape_test_at(helpers, lines["helper_data_if"][1])
    made = locate.factory_place(str(CORPUS), "float64_inputs", (".double()",))
    assert made is not None and made.line == lines["float64_inputs"][1]
    returned = locate.factory_place(str(CORPUS), "batch_one", ())
    assert returned is not None and returned.line == lines["batch_one"][1]
    assert is_user_file(helpers) and not is_user_file(onnx.__file__)
    assert not is_user_file(locate.__file__) and not is_user_file("<frozen runpy>")
