"""Hostile files at the file level: what the file system holds, external data, invalid UTF-8,
truncations, and lying varints (see :mod:`tests.hostile` for the categories)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests.bad_models import small_model
from tests.hostile.base import (
    OPSET,
    Case,
    CaseWriter,
    field_boundaries,
    model,
    node,
    varint,
    vi,
    wire_field,
)


def filesystem_cases(w: CaseWriter) -> None:
    w.add("fifo", refused=True, make=lambda p: os.mkfifo(p))
    for dev in ("/dev/zero", "/dev/urandom", "/dev/null", "/dev/full", "/dev/tty"):
        w.add(f"link_to_{dev[5:]}", refused=True, make=lambda p, d=dev: os.symlink(d, p))
    w.add("directory", refused=True, make=lambda p: p.mkdir())
    w.add("link_to_directory", refused=True, make=lambda p: os.symlink(p.parent, p))
    w.add("empty_file", b"", refused=True)
    w.add("one_zero_byte", b"\x00", refused=True)
    w.add("dangling_link", refused=True, make=lambda p: os.symlink(p.parent / "gone.onnx", p))

    def loop(p: Path) -> None:
        os.symlink(p.parent / "b.onnx", p)
        os.symlink(p, p.parent / "b.onnx")

    w.add("link_loop", refused=True, make=loop)

    def sock(p: Path) -> None:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(p))
        s.close()

    w.add("unix_socket", refused=True, make=sock)

    def unreadable(p: Path) -> None:
        p.write_bytes(small_model().SerializeToString())
        p.chmod(0)  # root still reads it: then it must simply open

    w.add("unreadable", make=unreadable)
    good = small_model().SerializeToString()
    w.add("newline_in_file_name", good, False, file_name="a\nb\x1b[2J.onnx")
    w.add("undecodable_file_name", good, False, file_name=os.fsdecode(b"\xff\xfe.onnx"))
    w.add("long_file_name", good, False, file_name="x" * 250 + ".onnx")
    w.add("markup_file_name", good, False, file_name="<b>&amp;'\".onnx")
    w.add("leading_dash_file_name", good, False, file_name="-o.onnx")

    def to_outside(p: Path) -> None:  # a link to a model outside: what the user asked to open
        (p.parent.parent / "real.onnx").write_bytes(good)
        os.symlink(p.parent.parent / "real.onnx", p)

    w.add("link_to_model_outside", make=to_outside, refused=False)
    w.add("zip_archive", b"PK\x03\x04" + bytes(100), refused=True)
    w.add("text_file", b"ir_version: 8\n" * 10, refused=True)
    w.add("random_bytes", np.random.default_rng(1).bytes(5000), refused=True)


def ext_tensor(
    name: str, location: str, dims: tuple[int, ...] = (2,), **fields: str
) -> TensorProto:
    """A float tensor stored externally at ``location`` (plus ``offset``/``length``/... keys)."""
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims))
    t.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, **fields}.items():
        t.external_data.add(key=key, value=value)
    return t


def external_cases(w: CaseWriter) -> None:
    def weights_model(name: str, edit: Callable[[TensorProto, Path], None], refused=True) -> None:
        """small_model with W and b in weights.bin; ``edit(W, folder)`` spoils W's fields."""
        folder = w.folder(name)
        saved = folder / "saved.onnx"
        onnx.save_model(
            small_model(),
            saved,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location="weights.bin",
            size_threshold=0,
        )
        m = onnx.load(saved, load_external_data=False)
        saved.unlink()
        (folder.parent / "secret.bin").write_bytes((folder / "weights.bin").read_bytes())
        edit(m.graph.initializer[0], folder)
        path = folder / "model.onnx"
        path.write_bytes(m.SerializeToString())
        w.cases.append(Case(f"{w.category}/{name}", path, refused))

    def field(key: str, value: str) -> Callable[[TensorProto, Path], None]:
        def edit(t: TensorProto, _folder: Path) -> None:
            for e in t.external_data:
                if e.key == key:
                    e.value = value
                    return
            t.external_data.add(key=key, value=value)

        return edit

    weights_model("valid", lambda t, f: None, refused=False)
    weights_model("missing_file", lambda t, f: (f / "weights.bin").unlink())
    weights_model("truncated_file", lambda t, f: (f / "weights.bin").write_bytes(b"\0" * 10))
    for label, loc in (
        ("nul_byte", "weights.bin\x00../../secret.bin"),
        ("absolute", "/etc/passwd"),
        ("dotdot", "../secret.bin"),
        ("deep_dotdot", "../" * 30 + "etc/passwd"),
        ("in_then_out", "sub/../../secret.bin"),
        ("backslash_dotdot", "..\\secret.bin"),
        ("windows_drive", "C:\\secret.bin"),
        ("unc", "\\\\server\\share\\secret.bin"),
        ("file_url", "file:///etc/passwd"),
        ("empty", ""),
        ("dot", "."),
        ("very_long", "d/" * 3000 + "weights.bin"),
        ("control_chars", "\x1b[2Jweights\n.bin"),
    ):
        weights_model(f"location_{label}", field("location", loc))
    weights_model("location_is_the_model", field("location", "model.onnx"), refused=None)

    def link(target: str) -> Callable[[TensorProto, Path], None]:
        def edit(t: TensorProto, folder: Path) -> None:
            (folder / "weights.bin").unlink()
            os.symlink(target, folder / "weights.bin")

        return edit

    weights_model("data_link_outside", link("../secret.bin"))
    weights_model("data_link_absolute_outside", link("/etc/passwd"))
    weights_model("data_link_to_dev_zero", link("/dev/zero"))
    weights_model("data_link_loop", link("weights.bin"))
    weights_model(
        "data_is_fifo", lambda t, f: ((f / "weights.bin").unlink(), os.mkfifo(f / "weights.bin"))
    )
    weights_model(
        "data_is_directory",
        lambda t, f: ((f / "weights.bin").unlink(), (f / "weights.bin").mkdir()),
    )
    for key, value in (
        ("offset", "abc"),
        ("offset", "-8"),
        ("offset", "+4"),
        ("offset", "1.5"),
        ("offset", " 4"),
        ("offset", "9" * 30),
        ("offset", "60"),
        ("offset", "\u0664"),  # an Arabic-Indic digit: int() takes it, a byte count must not
        ("length", "99999999999999"),
        ("length", "-48"),
        ("length", "8"),
        ("length", ""),
        ("checksum", "not-checked"),
        ("unknown_key", "1"),
        ("__class__", "x"),
    ):
        weights_model(
            f"{key}_{value[:12].strip() or 'blank'}",
            field(key, value),
            refused=None if key == "checksum" else True,
        )
    weights_model(
        "location_twice", lambda t, f: t.external_data.add(key="location", value="secret.bin")
    )
    weights_model(
        "no_location",
        lambda t, f: [
            t.external_data.remove(e) for e in list(t.external_data) if e.key == "location"
        ],
    )
    weights_model("no_fields", lambda t, f: t.ClearField("external_data"))

    def drop(*keys: str) -> Callable[[TensorProto, Path], None]:
        def edit(t: TensorProto, _folder: Path) -> None:
            for e in [e for e in t.external_data if e.key in keys]:
                t.external_data.remove(e)

        return edit

    weights_model("no_length", drop("length"), refused=False)  # W's own size, at offset 0
    weights_model("no_offset_no_length", drop("offset", "length"), refused=False)

    # external tensors outside the main graph's initializers: onnx.load reads those too
    def bait_and_model(name: str, m: onnx.ModelProto, refused: bool) -> None:
        folder = w.folder(name)
        (folder.parent / "secret.bin").write_bytes(b"\0" * 8)
        (folder / "w.bin").write_bytes(b"\0" * 8)
        path = folder / "model.onnx"
        path.write_bytes(m.SerializeToString())
        w.cases.append(Case(f"{w.category}/{name}", path, refused))

    for label, loc, refused in (("inside", "w.bin", False), ("outside", "../secret.bin", True)):
        then_g = helper.make_graph(
            [node("Add", ["x", "w"], ["t"])], "then", [], [vi("t")], [ext_tensor("w", loc)]
        )
        else_g = helper.make_graph([node("Neg", ["x"], ["e"])], "else", [], [vi("e")])
        if_model = model(
            [node("If", ["c"], ["y"], "if", then_branch=then_g, else_branch=else_g)],
            inputs=[vi("x"), vi("c", [], TensorProto.BOOL)],
        )
        bait_and_model(f"subgraph_initializer_{label}", if_model, refused)
        const = helper.make_node("Constant", [], ["k"], value=ext_tensor("k", loc))
        bait_and_model(
            f"constant_value_{label}", model([const, node("Add", ["x", "k"], ["y"])]), refused
        )
        body = [
            helper.make_node("Constant", [], ["k"], value=ext_tensor("k", loc)),
            node("Add", ["a", "k"], ["b"]),
        ]
        f = helper.make_function("local", "F", ["a"], ["b"], body, OPSET)
        bait_and_model(
            f"function_constant_{label}",
            model(
                [helper.make_node("F", ["x"], ["y"], domain="local")],
                opsets=[*OPSET, helper.make_opsetid("local", 1)],
                functions=[f],
            ),
            refused,
        )
        sparse = helper.make_sparse_tensor(
            ext_tensor("sv", loc), helper.make_tensor("si", TensorProto.INT64, [2], [0, 1]), [2]
        )
        m = model([node("Identity", ["sv"], ["y"])], inputs=[])
        m.graph.sparse_initializer.append(sparse)
        bait_and_model(f"sparse_initializer_{label}", m, refused)


BAD_UTF8 = b"\xff\xfe\xc3("  # an invalid start byte, a BOM half, a broken two-byte sequence


def utf8_cases(w: CaseWriter) -> None:
    """One file per kind of string field, each holding invalid UTF-8 where ``@@@@`` was."""
    mark = "@@@@"

    def spoiled(m: onnx.ModelProto) -> bytes:
        data = m.SerializeToString()
        assert data.count(mark.encode()) >= 1
        return data.replace(mark.encode(), BAD_UTF8)

    def with_(edit: Callable[[onnx.ModelProto], None]) -> bytes:
        m = small_model()
        edit(m)
        return spoiled(m)

    g = lambda m: m.graph  # noqa: E731
    edits: dict[str, Callable[[onnx.ModelProto], None]] = {
        "metadata_key": lambda m: m.metadata_props.add(key=mark, value="v"),
        "metadata_value": lambda m: m.metadata_props.add(key="k", value=mark),
        "model_doc": lambda m: setattr(m, "doc_string", mark),
        "producer_name": lambda m: setattr(m, "producer_name", mark),
        "producer_version": lambda m: setattr(m, "producer_version", mark),
        "model_domain": lambda m: setattr(m, "domain", mark),
        "graph_name": lambda m: setattr(g(m), "name", mark),
        "graph_doc": lambda m: setattr(g(m), "doc_string", mark),
        "node_name": lambda m: setattr(g(m).node[0], "name", mark),
        "node_doc": lambda m: setattr(g(m).node[0], "doc_string", mark),
        "op_type": lambda m: setattr(g(m).node[0], "op_type", mark),
        "node_domain": lambda m: setattr(g(m).node[0], "domain", mark),
        "attribute_name": lambda m: g(m).node[0].attribute.append(helper.make_attribute(mark, 1)),
        "attribute_string": lambda m: (
            g(m).node[0].attribute.append(helper.make_attribute("s", mark))
        ),
        "dim_param": lambda m: (
            g(m).input[0].type.tensor_type.shape.dim[0].__setattr__("dim_param", mark)
        ),
        "value_info_doc": lambda m: setattr(g(m).input[0], "doc_string", mark),
        "node_metadata": lambda m: g(m).node[0].metadata_props.add(key="namespace", value=mark),
        "opset_domain": lambda m: m.opset_import.add(domain=mark, version=1),
    }
    for label, edit in edits.items():
        w.add(label, with_(edit), refused=False)

    def rename(old: str) -> Callable[[onnx.ModelProto], None]:  # every use of a tensor name
        def edit(m: onnx.ModelProto) -> None:
            gr = m.graph
            for n in gr.node:
                n.input[:] = [mark if x == old else x for x in n.input]
                n.output[:] = [mark if x == old else x for x in n.output]
            for v in [*gr.input, *gr.output, *gr.initializer]:
                if v.name == old:
                    v.name = mark

        return edit

    for old in ("x", "y", "xw", "W"):
        w.add(f"tensor_name_{old}", with_(rename(old)), refused=False)
    f = helper.make_function(mark, mark, ["a"], ["b"], [node("Relu", ["a"], ["b"])], OPSET)
    m = model(
        [helper.make_node(mark, ["x"], ["y"], domain=mark)],
        opsets=[*OPSET, helper.make_opsetid(mark, 1)],
        functions=[f],
    )
    w.add("function_name_and_domain", spoiled(m), refused=False)
    folder_model = small_model()
    onnx.save_model(
        folder_model,
        w.folder("external_location") / "tmp.onnx",
        save_as_external_data=True,
        location="@@@@",
        size_threshold=0,
    )
    path = w.root / "external_location" / "m" / "tmp.onnx"
    data = path.read_bytes()
    path.unlink()
    (path.parent / "@@@@").rename(path.parent / os.fsdecode(BAD_UTF8))
    out = path.parent / "model.onnx"
    out.write_bytes(data.replace(mark.encode(), BAD_UTF8))
    w.cases.append(Case(f"{w.category}/external_location", out, None))
    w.add("everything_is_0xff", bytes([0xFF]) * 300, refused=True)


def truncated_cases(w: CaseWriter) -> None:
    m = small_model()
    m.metadata_props.add(key="k", value="v")
    m.graph.node[0].attribute.append(helper.make_attribute("alpha", 0.5))
    data = m.SerializeToString()
    cuts = sorted(field_boundaries(data) - {0, len(data)})
    for cut in cuts:
        w.add(f"at_{cut:04d}_of_{len(data)}", data[:cut])
    for cut in sorted(set(range(1, len(data))) - set(cuts)):  # every other byte: slow only
        w.add(f"byte_{cut:04d}_of_{len(data)}", data[:cut], slow=True)
    w.add("one_byte_extra", data + b"\x00")
    w.add("garbage_after", data + b"\x12\x05hello")


def varint_cases(w: CaseWriter) -> None:
    good = small_model()
    graph = good.graph.SerializeToString()
    head = varint(1 << 3) + varint(8) + wire_field(8, OPSET[0].SerializeToString())
    for label, length in (("2_31", 2**31), ("2_32", 2**32), ("2_62", 2**62), ("2_64", 2**64 - 1)):
        w.add(f"graph_length_{label}", head + varint(7 << 3 | 2) + varint(length) + graph, True)
        node_bytes = good.graph.node[0].SerializeToString()
        lying = (
            varint(1 << 3 | 2) + varint(length) + node_bytes
        )  # a node inside a true-length graph
        w.add(f"node_length_{label}", head + wire_field(7, lying + graph), True)
    w.add("overlong_varint", head + b"\x3a" + b"\xff" * 11 + b"\x01" + graph, True)
    w.add("ir_version_overlong", b"\x08" + b"\x80" * 12 + b"\x01" + wire_field(7, graph), True)
    w.add("unknown_wire_type", head + b"\x3f" + graph, True)
    w.add("field_number_zero", head + b"\x02\x01x" + wire_field(7, graph), True)
    w.add(
        "huge_field_number",
        head + varint((2**29 - 1) << 3 | 2) + b"\x01x" + wire_field(7, graph),
        refused=False,
    )
    w.add(
        "unknown_fields", head + wire_field(99, b"junk" * 100) + wire_field(7, graph), refused=False
    )
    w.add(
        "group_wire_type", head + varint(50 << 3 | 3) + varint(50 << 3 | 4) + wire_field(7, graph)
    )
    # claimed sizes inside a valid message: big dims, a raw_data that claims a lot
    for label, dims in (
        ("2_40", [2**40]),
        ("2_62_squared", [2**62, 2**62]),
        ("negative", [-1]),
        ("int64_min", [-(2**63)]),
    ):
        t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=dims)
        w.add(
            f"initializer_dims_{label}",
            model([node("Add", ["x", "w"], ["y"])], initializers=[t]),
            False,
        )
    t = helper.make_tensor("w", TensorProto.FLOAT, [2], b"\0" * 8, raw=True).SerializeToString()
    lying = t.replace(b"\x4a\x08", b"\x4a" + varint(2**40))  # raw_data (field 9) claims 1 TiB
    gr = good.graph.SerializeToString() + wire_field(5, lying)
    w.add("raw_data_claims_1tib", head + wire_field(7, gr), True)
    dims = varint(1 << 3 | 2) + varint(2**40) + b"\x02"  # packed dims claiming 1 TiB
    w.add("packed_dims_claim", head + wire_field(7, graph + wire_field(5, dims)), True)
