"""Operator categories, used to colour node boxes (the UI maps each category to a theme colour)."""

from __future__ import annotations

from enum import IntEnum


class Category(IntEnum):
    OTHER = 0
    CONVOLUTION = 1
    ACTIVATION = 2
    NORMALIZATION = 3
    POOLING = 4
    SHAPE = 5  # shape manipulation and data movement
    MATH = 6  # tensor math
    CONTROL_FLOW = 7
    QUANTIZATION = 8
    CUSTOM = 9  # a domain other than ai.onnx / ai.onnx.ml
    INPUT = 10  # graph input box
    OUTPUT = 11  # graph output box
    CONSTANT = 12

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").lower()


# Op type lists, whitespace-separated; an op listed twice keeps its first category.
_OPS: dict[Category, str] = {
    Category.CONVOLUTION: (
        "Conv ConvTranspose ConvInteger QLinearConv DeformConv FusedConv NhwcConv Gemm MatMul "
        "MatMulInteger QLinearMatMul Einsum FusedMatMul Attention MultiHeadAttention "
        "GroupQueryAttention RNN LSTM GRU MatMulNBits"
    ),
    Category.ACTIVATION: (
        "Relu LeakyRelu PRelu Sigmoid HardSigmoid Tanh Elu Selu Celu Gelu FastGelu BiasGelu "
        "QuickGelu Softplus Softsign HardSwish Mish ThresholdedRelu Softmax LogSoftmax Hardmax "
        "Swish Shrink"
    ),
    Category.NORMALIZATION: (
        "BatchNormalization InstanceNormalization LayerNormalization GroupNormalization "
        "LpNormalization MeanVarianceNormalization LRN RMSNormalization "
        "SimplifiedLayerNormalization SkipLayerNormalization SkipSimplifiedLayerNormalization "
        "EmbedLayerNormalization Dropout"
    ),
    Category.POOLING: (
        "MaxPool AveragePool GlobalMaxPool GlobalAveragePool LpPool GlobalLpPool MaxRoiPool "
        "RoiAlign MaxUnpool QLinearAveragePool QLinearGlobalAveragePool"
    ),
    Category.SHAPE: (
        "Reshape Transpose Flatten Squeeze Unsqueeze Concat Split SplitToSequence Slice Gather "
        "GatherElements GatherND Scatter ScatterElements ScatterND Shape Size Expand Tile Pad "
        "Identity DepthToSpace SpaceToDepth Resize Upsample Cast CastLike Compress NonZero "
        "Where OneHot Range ConstantOfShape EyeLike Trilu ReverseSequence SequenceAt "
        "SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength "
        "ConcatFromSequence Col2Im CenterCropPad"
    ),
    Category.MATH: (
        "Add Sub Mul Div Pow Sqrt Exp Log Abs Neg Reciprocal Floor Ceil Round Sign Min Max Mean "
        "Sum Mod Erf Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh ReduceSum "
        "ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum "
        "ReduceLogSumExp ReduceSumSquare ArgMax ArgMin CumSum TopK Equal Greater GreaterOrEqual "
        "Less LessOrEqual Not And Or Xor BitShift BitwiseAnd BitwiseOr BitwiseXor BitwiseNot "
        "Clip IsNaN IsInf Det Unique NonMaxSuppression Einsum DFT STFT RandomNormal "
        "RandomUniform RandomNormalLike RandomUniformLike Multinomial Bernoulli"
    ),
    Category.CONTROL_FLOW: (
        "If Loop Scan SequenceMap Optional OptionalHasElement OptionalGetElement"
    ),
    Category.QUANTIZATION: (
        "QuantizeLinear DequantizeLinear DynamicQuantizeLinear QLinearAdd QLinearMul "
        "QLinearSigmoid QLinearLeakyRelu QLinearConcat QGemm DynamicQuantizeMatMul QAttention "
        "QOrderedMatMul"
    ),
    Category.CONSTANT: ("Constant"),
}

_BY_OP: dict[str, Category] = {}
for _cat, _ops in _OPS.items():
    for _op in _ops.split():
        _BY_OP.setdefault(_op, _cat)

_STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")


def category_of(
    op_type: str, domain: str = "", local_functions: frozenset[tuple[str, str]] = frozenset()
) -> Category:
    """The drawing category of an operator; model-local functions and unknown domains are custom.

    ``local_functions`` holds the model's (domain, name) function pairs.
    """
    if (domain, op_type) in local_functions:
        return Category.CUSTOM
    if domain in _STANDARD_DOMAINS:
        return _BY_OP.get(op_type, Category.OTHER)
    # com.microsoft's contrib ops are mostly fused versions of standard ones: colour them so.
    return _BY_OP.get(op_type, Category.CUSTOM)
