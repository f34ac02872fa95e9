"""The conversions themselves, one per kind of fix; each reads the source and writes a new file.

They run in the fix's child process (:mod:`inspector.core.fixes.apply`): onnx's C++ converters
and shape inference can crash or hang on a malformed model, and the optimizer holds the
interpreter lock for seconds on a big one. Which library does each, and why (measured figures in
the README's ``fix`` section):

* float16: ONNX Runtime's ``onnxruntime.transformers.float16.convert_float_to_float16`` with
  ``keep_io_types`` (the file takes and gives what the original did, so it is a drop-in) and ORT's
  default op block list plus the caller's. It appends the Casts it inserts at the end of the node
  list, which onnx.checker rejects as unsorted: onnx-ir's ``TopologicalSortPass`` sorts them.
* float32: :mod:`inspector.core.fixes.float32` over onnx-ir (no library converts back).
* cast-inputs: over onnx-ir: each float graph input of another type takes the new type, and a
  ``Cast`` back to its old type feeds what it fed, so the graph computes as before.
* opset: :func:`inspector.core.rewrites.retarget.save_retargeted` (``onnx.version_converter``).
* dynamic: :func:`inspector.core.rewrites.batch_dims.make_dim_dynamic` (dim 0 of an input whose
  batch flows to the outputs).
* simplify: onnxscript's ``optimizer.optimize`` (constant folding, dead code, identity and
  redundant-op removal), chosen over onnx-simplifier and onnxslim (see the README).

Each returns one line saying what it changed; a conversion that cannot be made raises
``ValueError`` with why (nothing to convert, a dim that is not a batch, the converter's error).
"""

from __future__ import annotations

from pathlib import Path

import onnx

from inspector.core.fixes.spec import FixSpec

# Protobuf cannot serialize a message of 2 GiB or more (the limit batch_dims keeps too).
_INLINE_LIMIT = 1_800_000_000
_FLOAT_TYPES = ("float16", "bfloat16", "float32", "float64")


def convert(spec: FixSpec, source: Path, destination: Path) -> str:
    """Write ``source`` with ``spec`` applied to ``destination``; returns what changed."""
    try:
        return _convert(spec, source, destination)
    except ModuleNotFoundError as e:  # onnxscript (and its onnx-ir) come with the export extra
        raise ValueError(
            f"this fix needs the '{e.name}' package: pip install 'onnx-inspector[export]'"
        ) from e


def _convert(spec: FixSpec, source: Path, destination: Path) -> str:
    if spec.kind == "opset":
        return _opset(spec, source, destination)
    if spec.kind == "dynamic":
        return _dynamic(spec, source, destination)
    proto = onnx.load(source)
    before = len(proto.graph.node)
    if spec.kind == "float16":
        proto, line = _float16(proto, spec), "float tensors are now float16"
    elif spec.kind == "float32":
        proto, line = _float32(proto)
    elif spec.kind == "cast-inputs":
        proto, line = _cast_inputs(proto, spec.dtype)
    else:
        proto = _simplify(proto)
        line = f"{before} -> {len(proto.graph.node)} nodes in the main graph"
    _save(proto, destination)
    return line


def _save(proto: onnx.ModelProto, destination: Path) -> None:
    if proto.ByteSize() > _INLINE_LIMIT:
        onnx.save(
            proto, destination, save_as_external_data=True, location=destination.name + ".data"
        )
    else:
        onnx.save(proto, destination)


def _float16(proto: onnx.ModelProto, spec: FixSpec) -> onnx.ModelProto:
    import onnx_ir as ir
    from onnx_ir.passes.common import TopologicalSortPass
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    if not _has_dtype(proto, onnx.TensorProto.FLOAT):
        raise ValueError("nothing to convert: the model has no float32 tensor")
    blocked = sorted({*DEFAULT_OP_BLOCK_LIST, *spec.op_block_list})
    half = convert_float_to_float16(proto, keep_io_types=True, op_block_list=blocked)
    model = ir.from_proto(half)
    TopologicalSortPass()(model)
    return ir.to_proto(model)


def _float32(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    import onnx_ir as ir

    from inspector.core.fixes.float32 import float16_to_float32

    model = ir.from_proto(proto)
    changed = float16_to_float32(model)
    if not changed:
        raise ValueError("nothing to convert: the model has no float16 tensor")
    return ir.to_proto(model), f"{changed} float16 values, initializers and attributes -> float32"


def _cast_inputs(proto: onnx.ModelProto, dtype: str) -> tuple[onnx.ModelProto, str]:
    import onnx_ir as ir

    target = ir.DataType[_IR_NAMES[dtype]]
    floats = {ir.DataType[_IR_NAMES[t]] for t in _FLOAT_TYPES} - {target}
    model = ir.from_proto(proto)
    graph = model.graph
    cast: list[str] = []
    for i, old in enumerate(list(graph.inputs)):
        if old.dtype not in floats or old.name in graph.initializers:
            continue
        name = old.name
        new = ir.Value(name=name, type=ir.TensorType(target), shape=old.shape)
        old.name = _fresh(graph, f"{name}_{old.dtype.name.lower()}")
        node = ir.node("Cast", [new], attributes={"to": old.dtype}, name=f"cast_input_{name}")
        node.outputs[0].name = _fresh(graph, f"{name}_cast")
        node.outputs[0].dtype, node.outputs[0].shape = old.dtype, old.shape
        for j, out in enumerate(graph.outputs):
            if out is old:  # an input passed straight through: the output keeps its name
                graph.outputs[j] = new
        old.replace_all_uses_with(node.outputs[0])
        graph.inputs[i] = new
        if len(graph):
            graph.insert_before(graph[0], node)  # before its users: the order stays sorted
        else:
            graph.append(node)
        cast.append(f"'{name}' ({old.dtype.name.lower()})")
    if not cast:
        raise ValueError(f"nothing to convert: no graph input is a float type other than {dtype}")
    return ir.to_proto(model), f"{', '.join(cast)} now take {dtype}, cast back inside"


_IR_NAMES = {"float16": "FLOAT16", "bfloat16": "BFLOAT16", "float32": "FLOAT", "float64": "DOUBLE"}


def _fresh(graph, base: str) -> str:  # graph: onnx_ir.Graph (imported lazily)
    """``base``, or ``base_2``, ``base_3``... : a name no value of ``graph`` has."""
    taken = {v.name for v in graph.inputs} | {v.name for n in graph for v in n.outputs}
    taken |= set(graph.initializers)
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _simplify(proto: onnx.ModelProto) -> onnx.ModelProto:
    import onnx_ir as ir
    import onnxscript.optimizer
    from onnx_ir.passes.common import AddInitializersToInputsPass

    model = ir.from_proto(proto)
    onnxscript.optimizer.optimize(model)
    if model.ir_version < 4:
        # IR 3 wants every initializer listed as a graph input; the optimizer's folded
        # constants are not (measured: 6 of the sweep's 16 IR 3 models failed onnx.checker)
        AddInitializersToInputsPass()(model)
    return ir.to_proto(model)


def _opset(spec: FixSpec, source: Path, destination: Path) -> str:
    from inspector.core.graph import open_model
    from inspector.core.rewrites.retarget import save_retargeted

    model = open_model(source, infer=False)
    old = model.opset_for("")
    if old == spec.opset:
        raise ValueError(f"nothing to convert: the model is already at opset {old}")
    try:
        save_retargeted(model, spec.opset, destination)
    except Exception as e:  # the converter's RuntimeError: its reason after its C++ prefix
        from inspector.core.findings import error_line

        raise ValueError(error_line(e).rsplit("failed: ", 1)[-1]) from e
    return f"ai.onnx opset {old} -> {spec.opset}"


def _dynamic(spec: FixSpec, source: Path, destination: Path) -> str:
    from inspector.core.rewrites.batch_dims import make_dim_dynamic

    dim = spec.dynamic_dim()
    if dim.dim != 0:
        raise ValueError(
            f"only dim 0 (a batch) can be made dynamic in an existing model, not dim {dim.dim} of "
            f"'{dim.input}': other dims are often baked into Reshape targets; re-export the model "
            "with that dim dynamic (`onnx-inspector export --dynamic`)"
        )
    make_dim_dynamic(source, destination, inputs=[dim.input], symbol=dim.symbol)
    return f"dim 0 of '{dim.input}' is now '{dim.symbol}'"


def _has_dtype(proto: onnx.ModelProto, elem_type: int) -> bool:
    """Whether any initializer, Constant, or declared value of the main graph is ``elem_type``."""
    g = proto.graph
    if any(t.data_type == elem_type for t in g.initializer):
        return True
    values = (*g.input, *g.output, *g.value_info)
    if any(v.type.tensor_type.elem_type == elem_type for v in values):
        return True
    return any(
        a.t.data_type == elem_type for n in g.node if n.op_type == "Constant" for a in n.attribute
    )
