"""Operator docs agree with the schemas onnx (and ONNX Runtime) register."""

from __future__ import annotations

import onnx
import onnx.defs
import pytest

from inspector.core.opdocs import first_paragraph, op_doc, type_name


@pytest.mark.parametrize(
    ("op", "opset"),
    [
        ("Conv", 1),
        ("Conv", 10),
        ("Conv", 11),
        ("Conv", 22),
        ("Add", 6),
        ("Add", 7),
        ("Add", 13),
        ("Add", 14),
        ("Add", 21),
        ("Relu", 13),
    ],
)
def test_since_version_matches_onnx(op, opset):
    doc = op_doc(op, "", opset)
    schema = onnx.defs.get_schema(op, max_inclusive_version=opset, domain="")
    assert doc is not None
    assert doc.since_version == schema.since_version
    assert doc.source == "onnx"
    assert [p.name for p in doc.inputs] == [p.name for p in schema.inputs]
    assert [p.name for p in doc.outputs] == [p.name for p in schema.outputs]
    assert {a.name for a in doc.attributes} == set(schema.attributes)


def test_conv_schema_in_detail():
    doc = op_doc("Conv", "ai.onnx", 11)  # "ai.onnx" is the default domain by its other name
    assert doc is not None and doc.since_version == 11 and not doc.deprecated
    assert doc.summary == (
        "The convolution operator consumes an input tensor and a filter, and computes the output."
    )
    assert [(p.name, p.type_str, p.option) for p in doc.inputs] == [
        ("X", "T", "single"),
        ("W", "T", "single"),
        ("B", "T", "optional"),
    ]
    (t,) = doc.type_constraints
    assert t.param == "T" and t.allowed == ("float16", "float32", "float64")
    attrs = {a.name: a for a in doc.attributes}
    assert attrs["group"].type == "int" and attrs["group"].default == "1"
    assert attrs["auto_pad"].default == "'NOTSET'"
    assert attrs["kernel_shape"].type == "ints" and attrs["kernel_shape"].default is None
    assert not any(a.required for a in doc.attributes)


def test_variadic_required_and_newest():
    concat = op_doc("Concat", "", 13)
    assert concat is not None and concat.inputs[0].option == "variadic"
    assert next(a for a in concat.attributes if a.name == "axis").required
    assert concat.attributes[0].name == "axis"  # required attributes come first
    newest = op_doc("Conv", "", None)
    assert newest is not None
    assert newest.since_version == onnx.defs.get_schema("Conv", domain="").since_version


def test_deprecated_and_ml_domain():
    upsample = op_doc("Upsample", "", 10)
    assert upsample is not None and upsample.deprecated
    zipmap = op_doc("ZipMap", "ai.onnx.ml", 3)
    assert zipmap is not None and zipmap.since_version == 1
    assert "<br>" not in zipmap.summary and zipmap.summary.startswith("Creates a map")


def test_unknown_gives_none():
    assert op_doc("NoSuchOp", "", 17) is None
    assert op_doc("Conv", "", 0) is None  # before the operator existed
    assert op_doc("Conv", "com.example.nowhere", 1) is None


def test_runtime_contrib_schema():
    pytest.importorskip("onnxruntime")
    doc = op_doc("FusedConv", "com.microsoft", 1)
    assert doc is not None and doc.source == "onnxruntime" and doc.since_version == 1
    assert "activation" in {a.name for a in doc.attributes}
    assert doc.summary.startswith("The fused convolution operator")


def test_results_are_cached():
    assert op_doc("Add", "", 14) is op_doc("Add", "", 14)


def test_every_onnx_schema_converts():
    for schema in onnx.defs.get_all_schemas_with_history():
        doc = op_doc(schema.name, schema.domain, schema.since_version)
        assert doc is not None and doc.since_version == schema.since_version
        assert "\n" not in doc.summary


def test_type_names():
    assert type_name("tensor(float)") == "float32"
    assert type_name("tensor(double)") == "float64"
    assert type_name("tensor(bfloat16)") == "bfloat16"
    assert type_name("seq(tensor(int64))") == "sequence(int64)"
    assert type_name("map(int64, tensor(float))") == "map(int64,float32)"
    assert type_name("optional(seq(tensor(uint8)))") == "optional(sequence(uint8))"
    assert type_name("sparse_tensor(float)") == "sparse(float32)"
    assert type_name("T") == "T"


def test_first_paragraph_is_plain_text():
    doc = (
        "\nPerforms **element-wise** addition of `A` and <b>B</b> (see [the doc](Broadcasting.md))"
        ";<br>returns Tensor<T>.\n\nSecond paragraph.\n"
    )
    assert first_paragraph(doc) == (
        "Performs element-wise addition of A and B (see the doc); returns Tensor<T>."
    )
    assert first_paragraph("Intro:\n```\ncode\n```\nmore") == "Intro:"
    assert first_paragraph("") == ""
