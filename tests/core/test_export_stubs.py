"""Translations for ops the dynamo exporter cannot translate: a failed export offers them
(``--write-stubs``), and the file passed back (``--translations``) makes the export succeed and
pass ONNX Runtime parity. Every export runs through the CLI in a child process, as a user runs
it; the test process never imports torch.

The round trips (an export that fails, then one with the stubs) take two exports each and run
with ``-m slow``; the default run checks the stubs offered and the argument errors.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.cli import main
from tests.model_zoo import torch_available

CASES = Path(__file__).resolve().parent.parent / "export_cases" / "stub_cases.py"

pytestmark = [
    pytest.mark.skipif(not torch_available(), reason="torch is not installed"),
    pytest.mark.timeout(900),
]


def export(capsys, factory: str, out: Path, *extra: str) -> tuple[int, dict]:
    code = main(["export", str(CASES), "--factory", factory, "--out", str(out), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def functions(text: str) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(text)
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def table_keys(text: str) -> list[str]:
    """The keys of the file's custom_translation_table, as written."""
    tree = ast.parse(text)
    (table,) = [
        n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and n.targets[0].id == "custom_translation_table"
    ]
    return [ast.unparse(k) for k in table.keys]


def round_trip(capsys, tmp_path: Path, factory: str, ops: dict[str, str], *extra: str) -> dict:
    """Export fails on the ops, the stubs are written, and the export with them passes parity.
    ``ops``: the table key → the function it maps to; ``extra``: more arguments for the second
    export. Returns its JSON."""
    stubs = tmp_path / "translations.py"
    code, failed = export(capsys, factory, tmp_path / "a.onnx", "--write-stubs", str(stubs))
    assert code == 1 and failed["ok"] is False, failed
    first = failed["findings"][0]
    assert first["code"] == "unsupported-aten-op", first
    assert "--write-stubs" in first["hint"] and "working onnxscript translations" in first["hint"]
    text = stubs.read_text(encoding="utf-8")
    assert failed["stubs"] == text
    assert table_keys(text) == list(ops)
    assert set(functions(text)) == set(ops.values())
    assert "NotImplementedError" not in text  # every body works

    code, passed = export(
        capsys, factory, tmp_path / "b.onnx", "--translations", str(stubs), *extra
    )
    assert code == 0 and passed["ok"], passed
    # Nothing wrong: an info note (fixed-batch-dim: the example's batch is fixed) may remain.
    assert passed["stubs"] is None, passed
    assert all(f["severity"] == "info" for f in passed["findings"]), passed["findings"]
    parity = [row for row in passed["checklist"] if row["name"].startswith("parity")]
    assert parity and all(row["status"] == "passed" for row in parity), passed["checklist"]
    return passed


@pytest.mark.slow  # two exports: 50 s on the shared 2-core machine
def test_three_ops_in_one_model_all_get_working_translations(tmp_path, capsys):
    # The exporter stops at the first op; the stubs cover all three.
    script = tmp_path / "again.py"
    passed = round_trip(
        capsys,
        tmp_path,
        "three",
        {
            "torch.ops.aten.kthvalue.default": "aten_kthvalue",
            "torch.ops.aten.median.dim": "aten_median_dim",
            "torch.ops.aten._cdist_forward.default": "aten__cdist_forward",
        },
        "--script",
        str(script),
    )
    # The export script repeats the export with the same translations.
    Path(passed["onnx"]).unlink()
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert Path(passed["onnx"]).is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    "factory, key, name",
    [
        ("kthvalue", "torch.ops.aten.kthvalue.default", "aten_kthvalue"),
        ("median_dim", "torch.ops.aten.median.dim", "aten_median_dim"),
        ("median_all", "torch.ops.aten.median.default", "aten_median"),
        ("cdist", "torch.ops.aten._cdist_forward.default", "aten__cdist_forward"),
    ],
)
def test_each_op_alone_round_trips(tmp_path, capsys, factory, key, name):
    round_trip(capsys, tmp_path, factory, {key: name})


def test_stub_without_a_body_is_valid_python_with_the_exact_signature(tmp_path, capsys):
    stubs = tmp_path / "translations.py"
    code, failed = export(capsys, "to_fill_in", tmp_path / "a.onnx", "--write-stubs", str(stubs))
    assert code == 1 and failed["findings"][0]["code"] == "unsupported-aten-op", failed
    hint = failed["findings"][0]["hint"]
    assert "aten::polygamma(int n, Tensor self) -> Tensor" in hint
    assert "aten::erfinv(Tensor self) -> Tensor (torch decomposes it into prims::erf_inv" in hint
    text = stubs.read_text(encoding="utf-8")
    compile(text, str(stubs), "exec")
    assert table_keys(text) == [
        "torch.ops.aten.polygamma.default",
        "torch.ops.aten.erfinv.default",
        "torch.ops.aten.kthvalue.default",
    ]
    found = functions(text)
    polygamma, erfinv = found["aten_polygamma"], found["aten_erfinv"]
    # The schema's names, in order; ints are attributes, tensors the dtype the model gave.
    assert ast.unparse(polygamma.args) == "n: int, self: FLOAT"
    assert ast.unparse(polygamma.returns) == "FLOAT"
    assert ast.get_docstring(polygamma) == "aten::polygamma(int n, Tensor self) -> Tensor"
    assert ast.unparse(found["aten_kthvalue"].returns) == "tuple[FLOAT, INT64]"
    # A TODO body that raises until filled in, saying what torch decomposes the op into.
    for fn in (polygamma, erfinv):
        assert isinstance(fn.body[-1], ast.Raise), ast.unparse(fn)
    assert "into prims::erf_inv" in ast.get_source_segment(text, erfinv)
    assert "has no decomposition" in ast.get_source_segment(text, polygamma)
    assert "To fill in (they raise NotImplementedError): aten::polygamma, aten::erfinv" in text


def test_a_broken_translations_file_is_a_finding(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\ncustom_translation_table = {torch.ops.aten.kthvalue: len}\n")
    code, data = export(capsys, "kthvalue", tmp_path / "a.onnx", "--translations", str(bad))
    assert code == 1 and data["ok"] is False
    (f,) = data["findings"]
    assert f["code"] == "source-load-failed"
    assert "use aten.kthvalue.default" in f["message"] and "custom_translation_table" in f["hint"]


@pytest.mark.parametrize(
    "extra, says",
    [
        (["--translations", "missing.py"], "no translations file"),
        (["--translations", str(CASES), "--exporter", "torchscript"], "dynamo exporter"),
        (["--write-stubs", str(CASES)], "would replace the model's file"),
        (["--write-stubs", "no/such/dir/t.py"], "existing folder"),
    ],
)
def test_bad_translation_arguments_exit_2(tmp_path, capsys, extra, says):
    out = tmp_path / "a.onnx"
    argv = ["export", str(CASES), "--factory", "kthvalue", "--out", str(out), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
