"""Attribute values that ONNX Runtime's CPU kernel constructors refuse at session creation.

A kernel is found for the node, but its constructor throws ("Exception during initialization"),
so ``InferenceSession`` fails with FAIL although the model is valid ONNX. No registry exposes
these checks: each rule below restates one ``ORT_ENFORCE`` / ``ORT_THROW`` in a CPU kernel's
constructor, with the source location onnxruntime 1.32 reports for it (paths under ``onnxruntime/``). The list covers the constructors that validate an integer
or string attribute; constructors that read tensors other than constant initializers cannot be
judged statically and are not listed.

``refusal(...)`` answers for one node that runs on a CPU kernel: None, or a :class:`Refusal`
(``certain`` False when the outcome depends on the machine the session is created on, e.g. a
locale that must be installed).

Known limitations: a rule applies only where the CPU kernel is constructed (not to nodes another
provider takes); attribute values given by reference inside a model-local function are resolved
from the first call site only.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from dataclasses import dataclass

from onnx import TensorProto

_RNN_DIRECTIONS = ("forward", "reverse", "bidirectional")
_AUTO_PAD = ("", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")
_FLOAT8 = {
    TensorProto.FLOAT8E4M3FN,
    TensorProto.FLOAT8E4M3FNUZ,
    TensorProto.FLOAT8E5M2,
    TensorProto.FLOAT8E5M2FNUZ,
    TensorProto.FLOAT8E8M0,
}
_COORDINATE_MODES = (
    "asymmetric",
    "pytorch_half_pixel",
    "tf_half_pixel_for_nn",
    "align_corners",
    "tf_crop_and_resize",
    "half_pixel",
    "half_pixel_symmetric",
)
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "")


@dataclass(frozen=True)
class Refusal:
    message: str
    where: str  # the constructor's source location in onnxruntime 1.32
    certain: bool = True
    hint: str = ""


@dataclass(frozen=True)
class NodeView:
    """What a rule may look at: the node's op, schema since-version and attribute values
    (strings decoded; absent attributes are absent, rules apply the schema defaults)."""

    op: str
    domain: str
    since: int
    attrs: dict[str, object]


_Rule = Callable[[NodeView], Refusal | None]


def _one_of(name: str, allowed: tuple, default: object, where: str) -> _Rule:
    """The attribute must be one of ``allowed`` (the constructor throws on anything else)."""

    def rule(n: NodeView) -> Refusal | None:
        value = n.attrs.get(name, default)
        if value in allowed:
            return None
        shown = ", ".join(repr(a) for a in allowed if a != "")
        return Refusal(f"{n.op}'s CPU kernel takes {name} in {{{shown}}}, not {value!r}", where)

    return rule


def _rnn(where_layout: str, where_direction: str, where_hidden: str | None) -> list[_Rule]:
    def layout(n: NodeView) -> Refusal | None:
        if n.attrs.get("layout", 0) == 0:
            return None
        return Refusal(
            f"onnxruntime's CPU {n.op} kernel does not support batch-major (layout=1) "
            "recurrent operations",
            where_layout,
            hint="transpose X to [seq, batch, input] (and the outputs back) and set layout=0",
        )

    rules: list[_Rule] = [layout, _one_of("direction", _RNN_DIRECTIONS, "forward", where_direction)]
    if where_hidden:
        rules.append(lambda n: _rnn_hidden(n, where_hidden))
    return rules


def _rnn_hidden(n: NodeView, where: str) -> Refusal | None:
    size = n.attrs.get("hidden_size")
    if isinstance(size, int) and size > 0:
        return None
    got = "is missing" if size is None else f"is {size}"
    return Refusal(f"{n.op}'s CPU kernel needs hidden_size > 0; it {got}", where)


def _cast(n: NodeView) -> Refusal | None:
    to = n.attrs.get("to")
    if n.attrs.get("saturate", 1) == 0 and to not in _FLOAT8:
        return Refusal(
            "Cast's CPU kernel refuses saturate=0 unless casting to a float8 type",
            "core/providers/cpu/tensor/cast_op.cc:983",
            hint="remove the saturate attribute (it only applies to float8 targets)",
        )
    mode = n.attrs.get("round_mode", "up")
    if mode not in ("up", "down", "nearest"):
        return Refusal(
            f"Cast's CPU kernel takes round_mode 'up', 'down' or 'nearest', not {mode!r}",
            "core/providers/cpu/tensor/cast_op.cc:1002",
        )
    if mode != "up" and to != TensorProto.FLOAT8E8M0:
        return Refusal(
            "Cast's CPU kernel refuses round_mode other than 'up' unless casting to float8e8m0",
            "core/providers/cpu/tensor/cast_op.cc:1005",
            hint="remove the round_mode attribute",
        )
    return None


def _resize(n: NodeView) -> Refusal | None:
    mode = n.attrs.get("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        return Refusal(
            f"{n.op}'s CPU kernel takes mode 'nearest', 'linear' or 'cubic', not {mode!r}",
            "core/providers/cpu/tensor/upsamplebase.h:370",
        )
    antialias = n.since >= 18 and n.attrs.get("antialias", 0) != 0
    if antialias and mode == "nearest":
        return Refusal(
            "Resize's CPU kernel supports antialias only with mode 'linear' or 'cubic'",
            "core/providers/cpu/tensor/upsamplebase.h:225",
        )
    if n.since >= 18:
        policy = n.attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy not in ("stretch", "not_larger", "not_smaller"):
            return Refusal(
                f"Resize's CPU kernel does not know keep_aspect_ratio_policy {policy!r}",
                "core/providers/cpu/tensor/upsamplebase.h (StringToKeepAspectRatioPolicy)",
            )
    if n.since > 10:
        ctm = n.attrs.get("coordinate_transformation_mode", "half_pixel")
        if ctm not in _COORDINATE_MODES:
            return Refusal(
                f"Resize's CPU kernel does not support coordinate_transformation_mode {ctm!r}",
                "core/providers/cpu/tensor/upsamplebase.h:411",
            )
    if mode == "nearest" and n.since >= 11:
        nearest = n.attrs.get("nearest_mode", "round_prefer_floor")
        if nearest not in _NEAREST_MODES:
            return Refusal(
                f"Resize's CPU kernel does not support nearest_mode {nearest!r}",
                "core/providers/cpu/tensor/upsamplebase.h:469",
            )
    if (
        n.attrs.get("exclude_outside", 0) != 0
        and mode != "cubic"
        and not (antialias and mode == "linear")
    ):
        return Refusal(
            "Resize's CPU kernel allows exclude_outside=1 only with mode 'cubic' (or 'linear' "
            "with antialias)",
            "core/providers/cpu/tensor/upsamplebase.h:273",
        )
    return None


def _lrn(n: NodeView) -> Refusal | None:
    size = n.attrs.get("size")
    if not isinstance(size, int):
        return None
    if size <= 0:
        return Refusal(
            f"LRN's CPU kernel needs size > 0, got {size}", "core/providers/cpu/nn/lrn.h:22"
        )
    if size % 2 == 0:
        return Refusal(
            f"LRN's CPU kernel needs an odd size, got {size}", "core/providers/cpu/nn/lrn.h:23"
        )
    return None


def _reverse_sequence(n: NodeView) -> Refusal | None:
    batch, time = n.attrs.get("batch_axis", 1), n.attrs.get("time_axis", 0)
    for name, v, line in (("batch_axis", batch, 20), ("time_axis", time, 21)):
        if v >= 2:  # the constructor checks only the upper bound
            return Refusal(
                f"ReverseSequence's CPU kernel needs {name} 0 or 1, got {v}",
                f"core/providers/cpu/tensor/reverse_sequence.h:{line}",
            )
    if batch == time:
        return Refusal(
            f"ReverseSequence's CPU kernel needs batch_axis and time_axis to differ (both {time})",
            "core/providers/cpu/tensor/reverse_sequence.h:23",
        )
    return None


def _tfidf(n: NodeView) -> Refusal | None:
    mode = n.attrs.get("mode")
    if mode not in ("TF", "IDF", "TFIDF"):
        return Refusal(
            f"TfIdfVectorizer's CPU kernel takes mode TF, IDF or TFIDF, not {mode!r}",
            "core/providers/cpu/nn/tfidfvectorizer.cc:171",
        )
    lo, hi = n.attrs.get("min_gram_length"), n.attrs.get("max_gram_length")
    if isinstance(lo, int) and lo <= 0:
        return Refusal(
            f"TfIdfVectorizer's CPU kernel needs min_gram_length > 0, got {lo}",
            "core/providers/cpu/nn/tfidfvectorizer.cc:175",
        )
    if isinstance(lo, int) and isinstance(hi, int) and hi < lo:
        return Refusal(
            f"TfIdfVectorizer's CPU kernel needs max_gram_length ≥ min_gram_length ({hi} < {lo})",
            "core/providers/cpu/nn/tfidfvectorizer.cc:179",
        )
    counts = n.attrs.get("ngram_counts")
    if isinstance(counts, list) and isinstance(hi, int) and hi > len(counts):
        return Refusal(
            f"TfIdfVectorizer's CPU kernel needs max_gram_length ≤ len(ngram_counts) "
            f"({hi} > {len(counts)})",
            "core/providers/cpu/nn/tfidfvectorizer.cc:192",
        )
    skip = n.attrs.get("max_skip_count")
    if isinstance(skip, int) and skip < 0:
        return Refusal(
            f"TfIdfVectorizer's CPU kernel needs max_skip_count ≥ 0, got {skip}",
            "core/providers/cpu/nn/tfidfvectorizer.cc:185",
        )
    return None


def _tree_ensemble(n: NodeView) -> Refusal | None:
    """ai.onnx.ml TreeEnsemble (5) and TreeEnsembleRegressor: enum codes and target counts."""
    if n.op == "TreeEnsemble":
        for name, top, line in (("aggregate_function", 3, 270), ("post_transform", 4, 287)):
            v = n.attrs.get(name, 1 if name == "aggregate_function" else 0)
            if not (isinstance(v, int) and 0 <= v <= top):
                return Refusal(
                    f"TreeEnsemble's CPU kernel does not know {name} {v}",
                    f"core/providers/cpu/ml/tree_ensemble_attribute.h:{line}",
                )
        ids_name = "leaf_targetids"
    else:
        ids_name = "target_ids"
    targets = n.attrs.get("n_targets")
    if isinstance(targets, int) and targets <= 0:
        return Refusal(
            f"{n.op}'s CPU kernel needs n_targets > 0, got {targets}",
            "core/providers/cpu/ml/tree_ensemble_common.h:196",
        )
    ids = n.attrs.get(ids_name)
    if isinstance(targets, int) and isinstance(ids, list) and ids and max(ids) >= targets:
        return Refusal(
            f"{n.op}'s CPU kernel needs every {ids_name} below n_targets ({max(ids)} ≥ {targets})",
            "core/providers/cpu/ml/tree_ensemble_common.h:203",
        )
    return None


def _rotary(n: NodeView) -> Refusal | None:
    for name, line in (("num_heads", 39), ("rotary_embedding_dim", 42)):
        v = n.attrs.get(name, 0)
        if isinstance(v, int) and not 0 <= v <= 2**31 - 1:
            return Refusal(
                f"RotaryEmbedding's CPU kernel needs {name} in [0, 2^31), got {v}",
                f"core/providers/cpu/llm/rotary_embedding.cc:{line}",
            )
    return None


def _string_normalizer(n: NodeView) -> Refusal | None:
    action = n.attrs.get("case_change_action", "NONE")
    if action not in ("NONE", "LOWER", "UPPER"):
        return Refusal(
            f"StringNormalizer's CPU kernel takes case_change_action NONE, LOWER or UPPER, not "
            f"{action!r}",
            "core/providers/cpu/text/string_normalizer.cc:272",
        )
    # Measured with 1.32: the constructor builds the locale when it changes case, or when it
    # compares stop words case-insensitively.
    insensitive = n.attrs.get("is_case_sensitive", 0) == 0 and n.attrs.get("stopwords")
    if action == "NONE" and not insensitive:
        return None
    name = str(n.attrs.get("locale", "en-US" if sys.platform == "win32" else "en_US.UTF-8"))
    installed = locale_installed(name)
    if installed is True:
        return None
    where = "core/providers/cpu/text/string_normalizer.cc:235"
    hint = (
        f"install the locale on the machine that runs the model (e.g. locale-gen {name}), or "
        "set the locale attribute to one it has"
    )
    if installed is False:
        return Refusal(
            f"StringNormalizer's CPU kernel needs the locale {name!r}, which is not installed on "
            "this machine",
            where,
            hint=hint,
        )
    return Refusal(
        f"StringNormalizer's CPU kernel needs the locale {name!r} on the machine that creates "
        "the session; whether it is installed cannot be told here",
        where,
        certain=False,
        hint=f"run `run` on the target machine to confirm; {hint}",
    )


def locale_installed(name: str) -> bool | None:
    """Whether the C library can open locale ``name`` (what ``std::locale(name)`` needs under
    glibc), without touching the process's own locale; None where this cannot be asked."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.newlocale.restype = ctypes.c_void_p
        libc.newlocale.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
        libc.freelocale.argtypes = [ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    handle = libc.newlocale(8127, name.encode(), None)  # 8127: glibc's LC_ALL_MASK
    if not handle:
        return False
    libc.freelocale(handle)
    return True


def _grid_sample(n: NodeView) -> Refusal | None:
    modes = ("linear", "nearest", "cubic") if n.since >= 20 else ("bilinear", "nearest", "bicubic")
    mode = n.attrs.get("mode", modes[0])
    if mode not in modes:
        return Refusal(
            f"GridSample's CPU kernel takes mode {', '.join(modes)}, not {mode!r}",
            "core/providers/cpu/tensor/grid_sample.h:28",
        )
    padding = n.attrs.get("padding_mode", "zeros")
    if padding not in ("zeros", "border", "reflection"):
        return Refusal(
            f"GridSample's CPU kernel takes padding_mode zeros, border or reflection, not "
            f"{padding!r}",
            "core/providers/cpu/tensor/grid_sample.h:52",
        )
    return None


# (domain, op) → rules, in the order the constructor checks them.
_RULES: dict[tuple[str, str], list[_Rule]] = {
    ("", "RNN"): _rnn("core/providers/cpu/rnn/rnn.h:48", "core/providers/cpu/rnn/rnn.h:25", None),
    ("", "GRU"): _rnn(
        "core/providers/cpu/rnn/deep_cpu_gru.h:56",
        "core/providers/cpu/rnn/rnn_helpers.h:45",
        "core/providers/cpu/rnn/deep_cpu_gru.h:28",
    ),
    ("com.microsoft", "AttnLSTM"): [
        lambda n: _rnn_hidden(n, "contrib_ops/cpu/attnlstm/deep_cpu_attn_lstm.h:34")
    ],
    ("", "LSTM"): _rnn(
        "core/providers/cpu/rnn/lstm_base.h:53",
        "core/providers/cpu/rnn/rnn_helpers.h:45",
        "core/providers/cpu/rnn/lstm_base.h:24",
    ),
    ("", "Cast"): [_cast],
    ("", "Resize"): [_resize],
    ("", "Upsample"): [_resize],
    ("", "MaxPool"): [
        _one_of("storage_order", (0, 1), 0, "core/providers/cpu/nn/pool_attributes.h:78"),
    ],
    ("", "Mod"): [_one_of("fmod", (0, 1), 0, "core/providers/cpu/math/element_wise_ops.cc:2475")],
    ("", "CumSum"): [
        _one_of("exclusive", (0, 1), 0, "core/providers/cpu/math/cumsum.cc:109"),
        _one_of("reverse", (0, 1), 0, "core/providers/cpu/math/cumsum.cc:118"),
    ],
    ("", "CumProd"): [
        _one_of("exclusive", (0, 1), 0, "core/providers/cpu/math/cumprod.cc:106"),
        _one_of("reverse", (0, 1), 0, "core/providers/cpu/math/cumprod.cc:112"),
    ],
    ("", "NonMaxSuppression"): [
        _one_of(
            "center_point_box",
            (0, 1),
            0,
            "core/providers/cpu/object_detection/non_max_suppression.h:17",
        )
    ],
    ("", "LpNormalization"): [_one_of("p", (1, 2), 2, "core/providers/cpu/nn/lp_norm.h:30")],
    ("", "LRN"): [_lrn],
    ("", "ReverseSequence"): [_reverse_sequence],
    ("", "TfIdfVectorizer"): [_tfidf],
    ("ai.onnx.ml", "TreeEnsemble"): [_tree_ensemble],
    ("ai.onnx.ml", "TreeEnsembleRegressor"): [_tree_ensemble],
    ("", "RotaryEmbedding"): [_rotary],
    ("", "TensorScatter"): [
        _one_of(
            "mode", ("linear", "circular"), "linear", "core/providers/cpu/llm/tensorscatter.cc:25"
        )
    ],
    ("", "BitShift"): [
        _one_of(
            "direction", ("LEFT", "RIGHT"), "", "core/providers/cpu/math/element_wise_ops.cc:1345"
        )
    ],
    ("", "Pad"): [
        _one_of(
            "mode",
            ("constant", "reflect", "edge", "wrap"),
            "constant",
            "core/providers/cpu/tensor/padbase.h:236",
        )
    ],
    ("", "DepthToSpace"): [
        _one_of("mode", ("DCR", "CRD"), "DCR", "core/providers/cpu/tensor/space_depth_ops.h:34")
    ],
    ("", "SpaceToDepth"): [
        _one_of("mode", ("DCR", "CRD"), "DCR", "core/providers/cpu/tensor/space_depth_ops.h:34")
    ],
    ("", "StringNormalizer"): [_string_normalizer],
    ("", "GridSample"): [_grid_sample],
}


def refusal(view: NodeView, auto_pad: bool) -> Refusal | None:
    """The first constructor refusal for a node that runs on its CPU kernel, or None.
    ``auto_pad``: the op's schema has an ``auto_pad`` attribute (every CPU kernel with one parses
    it with ``StringToAutoPadType``)."""
    if auto_pad:
        value = view.attrs.get("auto_pad", "NOTSET")
        if value not in _AUTO_PAD:
            return Refusal(
                f"{view.op}'s CPU kernel takes auto_pad NOTSET, VALID, SAME_UPPER or SAME_LOWER, "
                f"not {value!r}",
                "core/providers/common.h:81 (StringToAutoPadType)",
            )
    for rule in _RULES.get((view.domain, view.op), ()):
        found = rule(view)
        if found is not None:
            return found
    return None
