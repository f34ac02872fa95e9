"""Parsing a model file piece by piece gives exactly the model a whole parse gives, or None."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.core.loader import load_model_file
from inspector.core.proto_pieces import parse_in_pieces
from inspector.core.tasks import Cancelled, CancelToken


def _exported_like(layers: int, subgraph_nodes: int = 0) -> onnx.ModelProto:
    """A chain of ``layers`` MatMul+Add layers as the dynamo exporter writes them (each node
    with name-scope metadata, weights as initializers, value_info for every tensor), and, with
    ``subgraph_nodes``, an If whose branches hold that many nodes."""
    nodes, inits, infos = [], [], []
    x = "x"
    for i in range(layers):
        w, b = f"w{i}", f"b{i}"
        inits.append(numpy_helper.from_array(np.full((4, 4), i, np.float32), w))
        inits.append(numpy_helper.from_array(np.full((4,), i, np.float32), b))
        for op, ins, out in (("MatMul", [x, w], f"mm{i}"), ("Add", [f"mm{i}", b], f"y{i}")):
            node = helper.make_node(op, ins, [out], name=f"node_{out}")
            scopes = ["", "model", f"model.layers.{i}", out]
            node.metadata_props.add(key="namespace", value=f": model/layers.{i}/{out}")
            node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=repr(scopes))
            nodes.append(node)
            infos.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 4]))
        x = f"y{i}"
    outputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 4])]
    if subgraph_nodes:

        def branch(tag: str) -> onnx.GraphProto:
            chain = [helper.make_node("Identity", [x], [f"{tag}0"])]
            chain += [
                helper.make_node("Identity", [f"{tag}{k}"], [f"{tag}{k + 1}"])
                for k in range(subgraph_nodes - 1)
            ]
            out = helper.make_tensor_value_info(
                f"{tag}{subgraph_nodes - 1}", TensorProto.FLOAT, None
            )
            return helper.make_graph(chain, tag, [], [out])

        cond = numpy_helper.from_array(np.array(True), "cond")
        inits.append(cond)
        nodes.append(
            helper.make_node(
                "If", ["cond"], ["z"], then_branch=branch("t"), else_branch=branch("e")
            )
        )
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        outputs,
        inits,
        value_info=infos,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.metadata_props.add(key="source", value="test")
    return model


def _pieces(path: Path, piece_bytes: int, cancel: CancelToken | None = None, progress=None):
    fd = os.open(path, os.O_RDONLY)
    try:
        return parse_in_pieces(
            fd,
            os.fstat(fd).st_size,
            progress or (lambda f, m: None),
            cancel,
            piece_bytes=piece_bytes,
            min_bytes=0,
        )
    finally:
        os.close(fd)


@pytest.mark.parametrize("piece_bytes", [512, 2048, 10_000])
def test_pieces_give_the_whole_parse(tmp_path: Path, piece_bytes: int) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_exported_like(200), path)
    fractions: list[float] = []
    result = _pieces(path, piece_bytes, progress=lambda f, m: fractions.append(f))
    assert result is not None
    proto, has_location = result
    assert proto == onnx.load(path)
    assert not has_location
    assert len(fractions) > 2 and fractions == sorted(fractions) and fractions[-1] == 1.0


def test_a_subgraph_never_gives_a_wrong_model(tmp_path: Path) -> None:
    # An If's branches are graphs too: a guessed boundary inside one fails to parse, and the
    # file is then left to the whole parse. Whatever happens, no other model comes back.
    path = tmp_path / "m.onnx"
    onnx.save(_exported_like(100, subgraph_nodes=300), path)
    whole = onnx.load(path)
    for piece_bytes in (256, 1024, 4096):
        result = _pieces(path, piece_bytes)
        assert result is None or result[0] == whole
    assert load_model_file(path).proto == whole


def test_truncated_or_odd_files_are_left_to_the_whole_parse(tmp_path: Path) -> None:
    data = _exported_like(100).SerializeToString()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    assert _pieces(cut, 1024) is None
    not_onnx = tmp_path / "text.onnx"
    not_onnx.write_bytes(b"hello, world\n" * 100)
    assert _pieces(not_onnx, 1024) is None


def test_external_data_key_is_found_in_a_piece(tmp_path: Path) -> None:
    model = _exported_like(100)
    tensor = model.graph.initializer[150]
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="weights.bin")
    tensor.ClearField("raw_data")
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    result = _pieces(path, 1024)
    assert result is not None and result[1]


def test_cancel_stops_between_pieces(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_exported_like(100), path)
    token = CancelToken()

    def cancel_after_first(fraction: float, _message: str) -> None:
        token.cancel()

    with pytest.raises(Cancelled):
        _pieces(path, 1024, cancel=token, progress=cancel_after_first)


def test_hostile_files_parse_as_whole_or_not_at_all(tmp_path: Path) -> None:
    # The hostile corpus's broken files (cut at every field boundary, bad varints, nesting past
    # protobuf's limit): in small pieces, never a model that the whole parse refuses or reads
    # otherwise.
    from tests.hostile import CATEGORIES
    from tests.hostile.base import CaseWriter

    checked = 0
    for category in ("truncated", "varint", "structure", "nesting"):
        writer = CaseWriter(tmp_path, category, slow=False)
        CATEGORIES[category](writer)
        for case in writer.cases:
            if not case.path.is_file():
                continue
            whole: onnx.ModelProto | None = onnx.ModelProto()
            try:
                whole.ParseFromString(case.path.read_bytes())
            except Exception:
                whole = None
            result = _pieces(case.path, 64)
            assert result is None or (whole is not None and result[0] == whole), case.name
            checked += 1
    assert checked > 20
