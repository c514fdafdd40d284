"""The op registry: ONNX op type → pure NumPy function.

Every function has the signature ``f(inputs, attrs) -> outputs``: ``inputs`` is the node's
input arrays in order (``None`` for an omitted optional input), ``attrs`` its decoded
attributes, and the result lists the output arrays in the node's output order. Functions
never modify their inputs.

Most ops kept their meaning across opsets (new attributes have defaults that reproduce the
old behaviour, and legacy attributes are still honoured), so :data:`OPS` holds one function
per op. The few whose meaning changed keep their older forms in :data:`EARLIER_SEMANTICS`;
:func:`op_function` picks by opset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnnlens.ops import (
    activation,
    arithmetic,
    conv,
    linear,
    normalization,
    passthrough,
    pool,
    shape,
    softmax,
)
from cnnlens.ops.arguments import Inputs

OpFunction = Callable[[Inputs, dict[str, Any]], list[np.ndarray]]

OPS: dict[str, OpFunction] = {
    "Conv": conv.op_conv,
    "MaxPool": pool.op_max_pool,
    "AveragePool": pool.op_average_pool,
    "GlobalAveragePool": pool.op_global_average_pool,
    "GlobalMaxPool": pool.op_global_max_pool,
    "BatchNormalization": normalization.op_batch_normalization,
    "Relu": activation.op_relu,
    "LeakyRelu": activation.op_leaky_relu,
    "Sigmoid": activation.op_sigmoid,
    "Tanh": activation.op_tanh,
    "Clip": activation.op_clip,
    "Gemm": linear.op_gemm,
    "MatMul": linear.op_matmul,
    "Add": arithmetic.op_add,
    "Sub": arithmetic.op_sub,
    "Mul": arithmetic.op_mul,
    "Div": arithmetic.op_div,
    "Flatten": shape.op_flatten,
    "Reshape": shape.op_reshape,
    "Concat": shape.op_concat,
    "Softmax": softmax.op_softmax,
    "Identity": passthrough.op_identity,
    "Dropout": passthrough.op_dropout,
    "Constant": passthrough.op_constant,
}

# op type → ((opset, function used below that opset), ...) in increasing opset order.
EARLIER_SEMANTICS: dict[str, tuple[tuple[int, OpFunction], ...]] = {
    "Softmax": ((13, softmax.op_softmax_before_13),),
    "Dropout": ((10, passthrough.op_dropout_before_10), (12, passthrough.op_dropout_before_12)),
}


def op_function(op_type: str, opset: int, domain: str = "") -> OpFunction | None:
    """The function implementing ``op_type`` at ``opset``, or ``None`` when unsupported."""
    if domain:
        return None
    for below, function in EARLIER_SEMANTICS.get(op_type, ()):
        if opset < below:
            return function
    return OPS.get(op_type)
