"""Multiply-accumulates (MACs) per node, from shapes alone.

Convention (fvcore's, and that of the "GFLOPS" column of torchvision's model tables, which
counts one fused multiply-add as one operation): only the products of weights and
activations are counted, one multiply-add = 1 MAC.

- Conv: output elements x (C_in / group) x kH x kW (x kD ...): each output value is a dot
  product over its window of the input channels of its group. The bias add is not counted.
- Gemm: M x N x K (``A`` is ``(M, K)`` after ``transA``); the bias ``C`` is not counted.
- MatMul: output elements x K, K being ``A``'s last dim (a batched matmul counts each batch).
- Everything else (pooling, activations, BatchNormalization, Add, Concat, Softmax, ...)
  counts 0: their cost is a few operations per element, which is noise beside the
  convolutions of a CNN, and counting them would follow no common convention.

A network's total is the sum over its nodes at the model's declared input size.
"""

from __future__ import annotations

import math

from cnnlens.graph import Node

Shape = tuple[int, ...]

CONVENTION = (
    "MACs: one multiply-add = 1. Conv: output elements x (C_in/group) x kernel size; "
    "Gemm/MatMul: M x N x K; bias adds, pooling, activations, BatchNorm, Add, Concat and "
    "Softmax count 0 (fvcore's and torchvision's convention).")


def node_macs(node: Node, shapes: dict[str, Shape]) -> int:
    """The MACs of ``node`` given the shapes of its inputs and outputs (``shapes`` by value
    name); 0 for ops that count none and for shapes that are not known."""
    if node.domain or not node.outputs or node.outputs[0] not in shapes:
        return 0
    out = shapes[node.outputs[0]]
    if node.op_type == "Conv" and len(node.inputs) > 1 and node.inputs[1] in shapes:
        weight = shapes[node.inputs[1]]  # (M, C/group, k1, k2, ...)
        return math.prod(out) * math.prod(weight[1:])
    if node.op_type == "Gemm" and node.inputs[0] in shapes:
        a = shapes[node.inputs[0]]
        k = a[0] if int(node.attributes.get("transA", 0)) else a[-1]
        return math.prod(out) * k
    if node.op_type == "MatMul" and node.inputs[0] in shapes:
        return math.prod(out) * shapes[node.inputs[0]][-1]
    return 0
