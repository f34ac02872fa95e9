"""float16 → float32: the reverse of ONNX Runtime's float16 converter, over onnx-ir.

Why our own: no installed library converts a float16 model back (onnxconverter-common, which is
not installed, and ONNX Runtime's ``onnxruntime.transformers.float16`` only go to float16;
onnxscript's optimizer and onnx-ir's passes change no dtypes). The conversion is small because
onnx-ir gives every value of every graph (subgraphs and functions included) one typed object:

* every value typed float16 (graph inputs and outputs, intermediate values) becomes float32;
* every float16 initializer, and every float16 tensor in an attribute (``Constant``'s value,
  ``ConstantOfShape``'s), is converted with numpy (float16 → float32 is exact);
* every dtype attribute that names float16 (``Cast``'s ``to``, ``dtype`` of ``EyeLike`` and the
  random ops) names float32.

Known limitations: bfloat16 and the float8 types are left as they are; a ``Cast`` the float16
converter inserted at a graph input or output stays, now from float32 to float32 (a no-op that
``--simplify`` removes); the file keeps its opset, which float32 always fits.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

# The attributes that hold a data type, by name, in the ai.onnx domain: Cast's ``to``; ``dtype``
# of EyeLike, RandomNormal(Like), RandomUniform(Like), Multinomial, Bernoulli.
_DTYPE_ATTRIBUTES = ("to", "dtype")
_F16, _F32 = ir.DataType.FLOAT16, ir.DataType.FLOAT


def float16_to_float32(model: ir.Model) -> int:
    """Convert ``model`` in place; returns how many values, initializers and attributes changed
    (0: the model had nothing in float16)."""
    changed = 0
    graphs: list[ir.Graph | ir.Function] = [model.graph, *model.functions.values()]
    for graph in graphs:
        for value in _values(graph):
            changed += _retype(value)
        for node in ir.traversal.RecursiveGraphIterator(graph):
            changed += _convert_attributes(node)
            for out in node.outputs:
                changed += _retype(out)
    return changed


def _values(graph: ir.Graph | ir.Function) -> list[ir.Value]:
    """The graph's inputs, outputs and initializers (node outputs are reached by the iterator)."""
    values = [*graph.inputs, *graph.outputs]
    if isinstance(graph, ir.Graph):
        values += list(graph.initializers.values())
    return values


def _retype(value: ir.Value) -> int:
    n = 0
    const = value.const_value
    if const is not None and const.dtype == _F16:
        value.const_value = ir.tensor(const.numpy().astype(np.float32), name=const.name)
        n += 1
    if value.dtype == _F16:
        value.dtype = _F32
        n += 1
    return n


def _convert_attributes(node: ir.Node) -> int:
    n = 0
    for name, attr in list(node.attributes.items()):
        if attr.is_ref():
            continue  # a function's attribute parameter: the caller's value is converted there
        if attr.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS):
            # a Loop or Scan body's inputs and a subgraph's initializers (its nodes' outputs
            # come from the iterator, which walks into subgraphs)
            subgraphs = attr.value if attr.type == ir.AttributeType.GRAPHS else [attr.value]
            n += sum(_retype(v) for g in subgraphs for v in _values(g))
        elif attr.type == ir.AttributeType.TENSOR and attr.value.dtype == _F16:
            array = attr.value.numpy().astype(np.float32)
            node.attributes[name] = ir.AttrTensor(name, ir.tensor(array, name=attr.value.name))
            n += 1
        elif (
            node.domain in ("", "ai.onnx")
            and name in _DTYPE_ATTRIBUTES
            and attr.type == ir.AttributeType.INT
            and attr.value == _F16.value
        ):
            node.attributes[name] = ir.AttrInt64(name, _F32.value)
            n += 1
    return n
