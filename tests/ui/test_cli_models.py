"""`info --json` and `render` on every shipped model and every torch export of the model zoo.

In-process (``inspector.cli.main``) to keep 160 models fast; the subprocess contract (exit codes,
one-line errors, no heavy imports for --help) is tested in tests/core/test_cli.py.
"""

from __future__ import annotations

import json

import onnx
import pytest

from inspector.cli import main as cli_main
from tests.model_zoo import count_ops, shipped_model_id, shipped_model_params

ZOO = ["torch_cnn", "torch_transformer", "torch_lstm", "torch_if_loop", "helper_if_loop_function"]


def check_info_and_render(path, tmp_path, capsys) -> None:
    proto = onnx.load(path)
    assert cli_main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ir_version"] == proto.ir_version
    assert info["opset_imports"] == {o.domain: o.version for o in proto.opset_import}
    assert info["op_counts"] == dict(count_ops(proto.graph))
    assert [o["name"] for o in info["outputs"]] == [o.name for o in proto.graph.output]
    assert [f["name"] for f in info["functions"]] == [f.name for f in proto.functions]
    out = tmp_path / "graph.png"
    assert cli_main(["render", str(path), "-o", str(out), "--width", "600"]) == 0
    capsys.readouterr()
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


@pytest.mark.parametrize("path", shipped_model_params(), ids=shipped_model_id)
def test_shipped(path, tmp_path, capsys, qapp):
    check_info_and_render(path, tmp_path, capsys)


@pytest.mark.parametrize("fixture", ZOO)
def test_exported(fixture, request, tmp_path, capsys, qapp):
    check_info_and_render(request.getfixturevalue(fixture), tmp_path, capsys)
