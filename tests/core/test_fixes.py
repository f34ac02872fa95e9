"""Fixes that prove themselves (issue 16): each writes a new file, re-checks it, compares it with
the original on the same inputs, and keeps it only when it holds.

The default run builds small models with onnx.helper (one per fix, plus the ways a fix is
refused or rejected). ``-m slow`` runs every fix on 21 of the onnx wheel's models and the three
torch exports, and prints a table of what each fix did and measured (``-s`` to see it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.cli import main
from inspector.core.diff.numeric import compare_outputs
from inspector.core.fixes import FixSpec, FixSpecError, SameFileError, apply_fix
from inspector.core.fixes.convert import convert
from inspector.core.graph import open_model
from inspector.core.tasks import Cancelled, CancelToken
from tests.model_zoo import shipped_data_dir, shipped_model_id, shipped_models


def _mlp(path: Path, dtype: int = TensorProto.FLOAT, batch: int = 2, opset: int = 17) -> Path:
    """x[batch, 4] -> MatMul W -> Add b -> Relu -> y[batch, 3]."""
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
            helper.make_node("Add", ["h", "b"], ["z"], name="add"),
            helper.make_node("Relu", ["z"], ["y"], name="relu"),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", dtype, [batch, 4])],
        [helper.make_tensor_value_info("y", dtype, [batch, 3])],
        [
            numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np_dtype), "W"),
            numpy_helper.from_array(rng.standard_normal(3).astype(np_dtype), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


class Untouched:
    """The input file's bytes and mtime, to assert a fix left them as they were."""

    def __init__(self, path: Path) -> None:
        self.path, self.data, self.mtime = path, path.read_bytes(), os.stat(path).st_mtime_ns

    def check(self) -> None:
        assert self.path.read_bytes() == self.data
        assert os.stat(self.path).st_mtime_ns == self.mtime


def _no_leftovers(folder: Path) -> None:
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]


def _elem_types(path: Path) -> set[int]:
    m = onnx.load(path)
    return {t.data_type for t in m.graph.initializer}


def test_float16_and_back_report_their_measured_error(tmp_path):
    src = _mlp(tmp_path / "m.onnx")
    kept = Untouched(src)
    half = apply_fix(src, FixSpec("float16"), tmp_path / "m16.onnx")
    assert half.ok and half.output == tmp_path / "m16.onnx"
    assert 0 < half.max_abs < 1e-2, half.verdict
    assert half.verdict.startswith("verified: ") and f"{half.max_abs:.3g}" in half.verdict
    assert [f.code for f in half.findings] == ["fix-verified"]
    assert _elem_types(half.output) == {TensorProto.FLOAT16}
    m16 = open_model(half.output)
    assert m16.graph.values["x"].declared.dtype == "float32"  # keep_io_types: a drop-in
    back = apply_fix(half.output, FixSpec("float32"), tmp_path / "m32.onnx")
    assert back.ok and _elem_types(back.output) == {TensorProto.FLOAT}
    assert back.max_abs is not None and back.max_abs < 1e-2
    onnx.checker.check_model(onnx.load(back.output), full_check=True)
    kept.check()
    _no_leftovers(tmp_path)


def test_cast_inputs_float64_to_float32_inserts_a_cast(tmp_path):
    src = _mlp(tmp_path / "m64.onnx", TensorProto.DOUBLE)
    report = apply_fix(src, FixSpec("cast-inputs", dtype="float32"), tmp_path / "out.onnx")
    assert report.ok, report.verdict
    out = onnx.load(report.output)
    assert out.graph.input[0].name == "x"
    assert out.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    (cast,) = [n for n in out.graph.node if n.op_type == "Cast"]
    assert cast.input == ["x"] and helper.get_attribute_value(cast.attribute[0]) == 11
    assert report.max_abs is not None and report.max_abs < 1e-5  # one rounding of the input


def test_dynamic_and_simplify_are_verified(tmp_path):
    src = _mlp(tmp_path / "m.onnx")
    dyn = apply_fix(src, FixSpec("dynamic", dynamic="x:0:batch"), tmp_path / "d.onnx")
    assert dyn.ok and dyn.max_abs == 0.0, dyn.verdict
    assert onnx.load(dyn.output).graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # a constant subexpression the optimizer folds and an Identity it drops: Add(x, Mul(c, c)),
    # in IR 3, where every initializer must also be a graph input (the folded one too)
    c = numpy_helper.from_array(np.full((4,), 2.0, np.float32), "c")
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["c"], name="const", value=c),
            helper.make_node("Mul", ["c", "c"], ["cc"], name="fold_me"),
            helper.make_node("Identity", ["cc"], ["cc2"], name="drop_me"),
            helper.make_node("Add", ["x", "cc2"], ["y"], name="add"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)], ir_version=3)
    onnx.checker.check_model(model)
    src = tmp_path / "foldable.onnx"
    onnx.save(model, src)
    kept = Untouched(src)
    simple = apply_fix(src, FixSpec("simplify"), tmp_path / "s.onnx")
    assert simple.ok and simple.max_abs == 0.0, simple.verdict
    out = onnx.load(simple.output)
    assert [n.op_type for n in out.graph.node] == ["Add"]
    assert len(out.graph.initializer) == 1  # Mul(c, c), folded
    assert {i.name for i in out.graph.input} >= {t.name for t in out.graph.initializer}
    onnx.checker.check_model(out, full_check=True)
    assert simple.change == "4 -> 1 nodes in the main graph"
    kept.check()


def test_float16_overflow_is_rejected_on_its_node_and_nothing_is_written(tmp_path):
    # 1e5 is past float16's largest finite value (65504): the converter clamps the constant
    big = numpy_helper.from_array(np.full((4,), 1e5, np.float32), "big")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "big"], ["y"], name="scale")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [big],
    )
    src = tmp_path / "big.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    dst = tmp_path / "big16.onnx"
    report = apply_fix(src, FixSpec("float16"), dst)
    assert not report.ok and report.output is None and not dst.exists()
    top, *evidence = report.findings
    assert top.code == "fix-rejected" and "output 'y' is off by" in top.message
    assert [(f.code, f.node, f.tensor) for f in evidence] == [
        ("diff-output-mismatch", "scale", "y")
    ]
    assert report.max_abs > 1e3
    doc = report.to_dict()  # what `fix --json` prints
    assert doc["ok"] is False and doc["output"] is None and doc["comparison"]["same"] is False
    _no_leftovers(tmp_path)


def test_a_fix_with_nothing_to_do_or_that_cannot_be_made_fails_and_writes_nothing(tmp_path):
    src = _mlp(tmp_path / "m.onnx")
    report = apply_fix(src, FixSpec("float32"), tmp_path / "out.onnx")
    assert not report.ok and report.output is None
    assert [f.code for f in report.findings] == ["fix-failed"]
    assert "nothing to convert: the model has no float16 tensor" in report.verdict
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    # the other refusals, from the conversions themselves (what the child reports as above)
    for spec, why in (
        (FixSpec("cast-inputs", dtype="float32"), "no graph input is a float type other than"),
        (FixSpec("dynamic", dynamic="x:1:rows"), "only dim 0 (a batch)"),
        (FixSpec("opset", opset=17), "already at opset 17"),
    ):
        with pytest.raises(ValueError, match=re.escape(why)):
            convert(spec, src, tmp_path / "out.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_an_original_that_does_not_run_leaves_the_fix_unverified(tmp_path):
    # opset 6: ONNX Runtime has no Add(6) kernel; converting to 13 is the fix it needs
    src = shipped_data_dir() / "pytorch-converted" / "test_Softsign" / "model.onnx"
    kept = Untouched(src)
    report = apply_fix(src, FixSpec("opset", opset=13), tmp_path / "s13.onnx")
    assert report.ok and report.output is not None
    assert [f.code for f in report.findings] == ["fix-unverified"]
    assert "the original does not run here" in report.verdict
    kept.check()


def test_cancel_kills_the_fix_and_leaves_nothing(tmp_path):
    src = _mlp(tmp_path / "m.onnx")
    cancel = CancelToken()
    seen: list[str] = []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        cancel.cancel()  # at the child's first line: it is killed before it converts

    with pytest.raises(Cancelled):
        apply_fix(src, FixSpec("float16"), tmp_path / "out.onnx", cancel=cancel, progress=progress)
    assert seen == ["reading the original"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_bad_specs_and_the_model_s_own_file_are_refused(tmp_path):
    with pytest.raises(FixSpecError, match="NAME:DIM:SYMBOL"):
        FixSpec("dynamic", dynamic="x")
    with pytest.raises(FixSpecError, match="opset of 7"):
        FixSpec("opset", opset=5)
    src = _mlp(tmp_path / "m.onnx")
    kept = Untouched(src)
    with pytest.raises(SameFileError):
        apply_fix(src, FixSpec("simplify"), tmp_path / "." / "m.onnx")
    link = tmp_path / "link.onnx"
    link.symlink_to(src)
    with pytest.raises(SameFileError):
        apply_fix(link, FixSpec("simplify"), src)
    kept.check()
    # the model's external data is its own file too: the child refuses it before converting
    ext = tmp_path / "ext" / "m.onnx"
    ext.parent.mkdir()
    onnx.save(onnx.load(src), ext, save_as_external_data=True, location="w.bin", size_threshold=0)
    weights = Untouched(ext.parent / "w.bin")
    report = apply_fix(ext, FixSpec("simplify"), ext.parent / "w.bin")
    assert not report.ok and "external data" in report.verdict
    assert [f.code for f in report.findings] == ["fix-failed"]
    weights.check()


def test_cli_fix_follows_the_contract(tmp_path, capsys):
    src = _mlp(tmp_path / "m.onnx")
    kept = Untouched(src)
    out = tmp_path / "m16.onnx"
    assert main(["fix", str(src), "--to-float16", "-o", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"ok", "output", "fix", "checks", "comparison", "findings", "verdict"}
    assert doc["ok"] is True and doc["output"] == str(out) and doc["fix"] == "--to-float16"
    assert doc["comparison"]["outputs"][0]["ok"] is True
    assert doc["findings"][0]["code"] == "fix-verified"
    # rejected: exit 1, output null, nothing at -o
    rejected = tmp_path / "tight.onnx"
    argv = ["fix", str(src), "--to-float16", "--rtol", "0", "--atol", "0", "-o", str(rejected)]
    assert main(argv) == 1
    text = capsys.readouterr()
    assert text.out.startswith("--to-float16: rejected: output 'y' is off by ")
    assert "diff-output-mismatch" in text.out and "nothing written" in text.err
    assert not rejected.exists()
    # refused: exit 2 with one line, the file untouched
    assert main(["fix", str(src), "--simplify", "-o", str(src)]) == 2
    err = capsys.readouterr().err
    assert "model's own file" in err and err.count("\n") == 1
    assert main(["fix", str(tmp_path / "none.onnx"), "--simplify", "-o", str(out)]) == 2
    assert main(["fix", str(src), "-o", str(out)]) == 2  # no fix named
    assert main(["fix", str(src), "--dynamic", "x", "-o", str(out)]) == 2
    assert main(["fix", str(src), "--simplify", "--keep-float32", "Mul", "-o", str(out)]) == 2
    kept.check()


# --- the sweep: every fix on 21 shipped models and the three torch exports --------------------


def _sweep_models() -> list[Path]:
    """The 21 shipped models with float32 tensor inputs that have the most nodes and
    initializers (the light ones have no weights and do not run)."""
    picked = []
    for p in shipped_models():
        if shipped_model_id(p).startswith("light/"):
            continue
        g = onnx.load(p).graph
        inits = {t.name for t in g.initializer}
        inputs = [i for i in g.input if i.name not in inits]
        if inputs and all(i.type.tensor_type.elem_type == TensorProto.FLOAT for i in inputs):
            picked.append((-(len(g.node) + len(inits)), shipped_model_id(p), p))
    return [p for _, _, p in sorted(picked)[:21]]


def _opset(path: Path) -> int:
    return next(o.version for o in onnx.load(path).opset_import if o.domain in ("", "ai.onnx"))


def _sweep_specs(path: Path) -> list[tuple[FixSpec, str, dict]]:
    """(spec, what it converts, tolerance overrides) for each fix, in order. What it converts:
    "model" the model itself; "base" the model, or for one at an opset ONNX Runtime does not run
    (< 7, most of the pytorch-converted ones) the result of the first fix, ``--opset 13``;
    "float16" the float16 result, converted back."""
    model, opset = onnx.load(path), _opset(path)
    inits = {t.name for t in model.graph.initializer}
    first = next(i for i in model.graph.input if i.name not in inits)
    return [
        (FixSpec("opset", opset=13 if opset < 13 else 18 if opset != 18 else 17), "model", {}),
        (FixSpec("float16"), "base", {}),
        (FixSpec("float32"), "float16", {}),
        # every input is float32: float16 inputs, cast back inside, exercise the same code as
        # float64 ones would; one rounding to float16 is ~5e-4 relative
        (FixSpec("cast-inputs", dtype="float16"), "base", {"rtol": 1e-2, "atol": 1e-3}),
        (FixSpec("dynamic", dynamic=f"{first.name}:0:batch"), "base", {}),
        (FixSpec("simplify"), "base", {}),
    ]


_SWEEP_TORCH = ("torch_cnn", "torch_transformer", "torch_lstm")


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [*(shipped_model_id(p) for p in _sweep_models()), *_SWEEP_TORCH],
)
def test_every_fix_on_real_models(tmp_path, request, model):
    """Every fix on one model; prints one row per fix (``-s``): verdict, largest output
    difference, and the verdict line."""
    if model in _SWEEP_TORCH:
        src = request.getfixturevalue(model)
    else:
        src = shipped_data_dir() / model / "model.onnx"
    kept = Untouched(src)
    made: dict[str, Path] = {}
    old = _opset(src) < 7
    rows = []
    for spec, source, tol in _sweep_specs(src):
        if source == "float16" and "float16" not in made:
            rows.append((spec.option, "skipped", "-", "no float16 file to convert back"))
            continue
        path = made.get("float16" if source == "float16" else "opset", src)
        if source == "model" or (source == "base" and not old):
            path = src
        out = tmp_path / f"{spec.kind}.onnx"
        report = apply_fix(path, spec, out, **tol)
        top = report.findings[0]
        assert top.code in ("fix-verified", "fix-unverified", "fix-rejected", "fix-failed")
        assert report.verdict and top.message  # it says what held, or why not
        if report.ok:
            assert report.output == out and out.is_file()
            assert not [f for f in report.checks if f.severity.value == "error"]
            made[spec.kind] = out
        else:
            assert report.output is None and not out.exists()
        measured = f"{report.max_abs:.3g}" if report.max_abs is not None else "-"
        rows.append((spec.option, top.code.removeprefix("fix-"), measured, report.verdict))
    if "float32" in made:  # the round trip, float32 -> float16 -> float32, against the original
        base = made.get("opset", src) if old else src
        trip = compare_outputs(base, made["float32"], rtol=1e-2, atol=1e-3)  # float16's
        gap = max(g.max_abs for g in trip.outputs)
        rows.append(("round trip", "same" if trip.same else "differs", f"{gap:.3g}", ""))
    kept.check()
    _no_leftovers(tmp_path)
    for r in rows:
        print(f"\nSWEEP | {model} | {r[0]} | {r[1]} | {r[2]} | {r[3][:200]}", end="")
    verdicts = {r[0]: r[1] for r in rows}
    # float16 and back hold on every model that runs (the acceptance's round trips)
    assert verdicts["--to-float16"] == "verified", rows
    assert verdicts["--to-float32"] == "verified", rows
