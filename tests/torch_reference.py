"""PyTorch (float64 autograd) as the independent reference for cnnlens's gradients.

An ONNX graph is translated node by node into ``torch.nn.functional`` calls, reading the
protobuf with ``onnx`` itself, never cnnlens's reader; ReLU passes gradients back under one
of the three rules (plain, guided, DeconvNet) through custom autograd functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

BINARY = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}


def as_torch(array: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=grad)


class GuidedRelu(torch.autograd.Function):
    """Guided backpropagation: torch's own ReLU backward of the positive gradient only."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return F.relu(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(g.clamp(min=0), x, 0)


class DeconvnetRelu(torch.autograd.Function):
    """Zeiler & Fergus's deconvnet: a ReLU applied to the gradient, blind to the input."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return F.relu(g)


TORCH_RELU: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "plain": F.relu, "guided": GuidedRelu.apply, "deconvnet": DeconvnetRelu.apply,
}


def attributes(node: onnx.NodeProto) -> dict[str, Any]:
    """The node's attributes by name, strings decoded (``onnx`` gives bytes)."""
    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {name: v.decode() if isinstance(v, bytes) else v for name, v in values.items()}


def spatial_padding(x: torch.Tensor, pads: Sequence[int], value: float) -> tuple[
        torch.Tensor, tuple[int, ...]]:
    """ONNX ``pads`` (begins, then ends) → torch's symmetric ``padding``, padding ``x``
    explicitly first when begin and end differ."""
    rank = len(pads) // 2
    begins, ends = list(pads[:rank]), list(pads[rank:])
    if begins == ends:
        return x, tuple(begins)
    widths = [w for axis in reversed(range(rank)) for w in (begins[axis], ends[axis])]
    return F.pad(x, widths, value=value), (0,) * rank


def _conv(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    rank = args[1].dim() - 2
    x, padding = spatial_padding(args[0], attrs.get("pads", [0] * 2 * rank), 0.0)
    return F.conv2d(x, args[1], args[2] if len(args) > 2 else None,
                    stride=attrs.get("strides", [1] * rank), padding=padding,
                    dilation=attrs.get("dilations", [1] * rank),
                    groups=attrs.get("group", 1))


def _max_pool(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    kernel = attrs["kernel_shape"]
    x, padding = spatial_padding(args[0], attrs.get("pads", [0] * 2 * len(kernel)),
                                  -math.inf)
    return F.max_pool2d(x, kernel, stride=attrs.get("strides", [1] * len(kernel)),
                        padding=padding, dilation=attrs.get("dilations", [1] * len(kernel)),
                        ceil_mode=bool(attrs.get("ceil_mode", 0)))


def _average_pool(args: list[torch.Tensor], attrs: dict[str, Any], opset: int
                  ) -> torch.Tensor:
    kernel = attrs["kernel_shape"]
    pads = attrs.get("pads", [0] * 2 * len(kernel))
    assert pads[:len(kernel)] == pads[len(kernel):], "the graphs below pad symmetrically"
    return F.avg_pool2d(args[0], kernel, stride=attrs.get("strides", [1] * len(kernel)),
                        padding=pads[:len(kernel)],
                        count_include_pad=bool(attrs.get("count_include_pad", 0)))


def _gemm(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    a = args[0].T if attrs.get("transA", 0) else args[0]
    b = args[1].T if attrs.get("transB", 0) else args[1]
    y = attrs.get("alpha", 1.0) * (a @ b)
    return y + attrs.get("beta", 1.0) * args[2] if len(args) > 2 else y


def _softmax(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    x = args[0]
    if opset >= 13:
        return F.softmax(x, dim=attrs.get("axis", -1))
    start = attrs.get("axis", 1) % x.dim()
    return F.softmax(x.reshape(math.prod(x.shape[:start]), -1), dim=1).reshape(x.shape)


def _clip(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    low = float(args[1]) if len(args) > 1 and args[1] is not None else attrs.get("min")
    high = float(args[2]) if len(args) > 2 and args[2] is not None else attrs.get("max")
    return torch.clamp(args[0], min=low, max=high)


def _reshape(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    target = [args[0].shape[i] if d == 0 else d for i, d in enumerate(args[1].tolist())]
    return args[0].reshape(target)


def _constant(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    return as_torch(numpy_helper.to_array(attrs["value"]))


def _ints(value: Any) -> list[int]:
    """An integer list from an attribute or a (torch) tensor input."""
    return [int(v) for v in (value.reshape(-1).tolist() if isinstance(value, torch.Tensor)
                             else value)]


def _input_or_attribute(args: list[Any], index: int, attrs: dict[str, Any], name: str
                        ) -> list[int] | None:
    if len(args) > index and args[index] is not None:
        return _ints(args[index])
    return _ints(attrs[name]) if name in attrs else None


PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate",
             "wrap": "circular"}


def _pad(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    """ONNX pads (begins, then ends, every axis) → torch's (last axis first) widths."""
    x = args[0]
    pads = _input_or_attribute(args, 1, attrs, "pads")
    assert pads is not None and len(pads) == 2 * x.dim(), "the graphs below pad every axis"
    value = float(args[2]) if len(args) > 2 and args[2] is not None else 0.0
    rank = x.dim()
    first = next((i for i in range(rank) if pads[i] or pads[rank + i]), rank - 1)
    widths = [w for at in reversed(range(first, rank)) for w in (pads[at], pads[rank + at])]
    mode = PAD_MODES[attrs.get("mode", "constant")]
    return F.pad(x, widths, mode=mode, value=value if mode == "constant" else None)


def _resize(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    """The Resize forms torch's interpolate has: nearest (asymmetric, floor), nearest-exact
    (half_pixel, round_prefer_ceil), bilinear (half_pixel / pytorch_half_pixel or
    align_corners); scales as scale_factor, sizes as size."""
    x = args[0]
    mode = attrs.get("mode", "nearest")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    sizes = args[3] if len(args) > 3 and args[3] is not None else None
    extent: dict[str, Any] = (
        {"size": _ints(sizes)[2:]} if sizes is not None
        else {"scale_factor": [float(v) for v in args[2].reshape(-1).tolist()[2:]]})
    if mode == "nearest":
        rounding = attrs.get("nearest_mode", "round_prefer_floor")
        if (transform, rounding) == ("asymmetric", "floor"):
            return F.interpolate(x, mode="nearest", **extent)
        assert (transform, rounding) == ("half_pixel", "round_prefer_ceil"), (transform, rounding)
        return F.interpolate(x, mode="nearest-exact", **extent)
    assert transform in ("half_pixel", "pytorch_half_pixel", "align_corners"), transform
    return F.interpolate(x, mode="bilinear", align_corners=transform == "align_corners",
                         **extent)


def _hard_sigmoid(args: list[torch.Tensor], attrs: dict[str, Any], opset: int
                  ) -> torch.Tensor:
    """``clamp(alpha x + beta, 0, 1)`` as torch's hardsigmoid of ``6 (alpha x + beta - 1/2)``
    (whose gradient is 0 at the corners, as cnnlens's)."""
    alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
    return F.hardsigmoid(6 * (alpha * args[0] + beta - 0.5))


def _squeeze(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    axes = _input_or_attribute(args, 1, attrs, "axes")
    return args[0].squeeze() if axes is None else args[0].squeeze(tuple(axes))


def _unsqueeze(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    axes = _input_or_attribute(args, 1, attrs, "axes")
    assert axes is not None
    rank = args[0].dim() + len(axes)
    y = args[0]
    for at in sorted(a % rank for a in axes):
        y = y.unsqueeze(at)
    return y


def _gather(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    x, indices = args[0], args[1].long()
    at = attrs.get("axis", 0) % x.dim()
    flat = torch.where(indices < 0, indices + x.shape[at], indices).reshape(-1)
    picked = x.index_select(at, flat)
    return picked.reshape((*x.shape[:at], *indices.shape, *x.shape[at + 1:]))


def _slice(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    """Positive steps only (torch slicing has no negative ones); Python clamps the rest."""
    x = args[0]
    starts, ends = _ints(args[1]), _ints(args[2])
    axes = _ints(args[3]) if len(args) > 3 and args[3] is not None else range(len(starts))
    steps = _ints(args[4]) if len(args) > 4 and args[4] is not None else [1] * len(starts)
    chosen = [slice(None)] * x.dim()
    for at, start, end, step in zip(axes, starts, ends, steps, strict=True):
        assert step > 0, "torch slices with positive steps only"
        chosen[at % x.dim()] = slice(start, end, step)
    return x[tuple(chosen)]


# ONNX element types → the torch dtype the reference computes in (floats in float64).
CAST_TYPES = {onnx.TensorProto.FLOAT: torch.float64, onnx.TensorProto.DOUBLE: torch.float64,
              onnx.TensorProto.FLOAT16: torch.float64, onnx.TensorProto.INT64: torch.int64,
              onnx.TensorProto.INT32: torch.int32, onnx.TensorProto.BOOL: torch.bool}


def _constant_of_shape(args: list[torch.Tensor], attrs: dict[str, Any], opset: int
                       ) -> torch.Tensor:
    value = numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1)
    if np.issubdtype(value.dtype, np.floating):  # a leaf with a gradient, as a Constant
        return torch.full(_ints(args[0]), value.reshape(-1)[0].item(), dtype=torch.float64,
                          requires_grad=True)
    return torch.full(_ints(args[0]), value.reshape(-1)[0].item(), dtype=torch.int64)


def _shape(args: list[torch.Tensor], attrs: dict[str, Any], opset: int) -> torch.Tensor:
    shape = list(args[0].shape)
    return torch.tensor(shape[attrs.get("start", 0):attrs.get("end", len(shape))],
                        dtype=torch.int64)


TorchOp = Callable[[list[Any], dict[str, Any], int], Any]


def _binary(function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> TorchOp:
    return lambda args, attrs, opset: function(args[0], args[1])


TORCH_OPS: dict[str, TorchOp] = {
    "Conv": _conv,
    "MaxPool": _max_pool,
    "AveragePool": _average_pool,
    "GlobalAveragePool": lambda args, attrs, opset: args[0].mean(dim=(2, 3), keepdim=True),
    "GlobalMaxPool": lambda args, attrs, opset: F.adaptive_max_pool2d(args[0], 1),
    "BatchNormalization": lambda args, attrs, opset: F.batch_norm(
        args[0], args[3], args[4], args[1], args[2], training=False,
        eps=attrs.get("epsilon", 1e-5)),
    "LeakyRelu": lambda args, attrs, opset: F.leaky_relu(args[0], attrs.get("alpha", 0.01)),
    "Sigmoid": lambda args, attrs, opset: torch.sigmoid(args[0]),
    "Tanh": lambda args, attrs, opset: torch.tanh(args[0]),
    "Clip": _clip,
    "Flatten": lambda args, attrs, opset: args[0].reshape(
        math.prod(args[0].shape[:attrs.get("axis", 1)]), -1),
    "Reshape": _reshape,
    "Gemm": _gemm,
    "MatMul": lambda args, attrs, opset: torch.matmul(args[0], args[1]),
    "Concat": lambda args, attrs, opset: torch.cat(args, dim=attrs["axis"]),
    "Softmax": _softmax,
    "Identity": lambda args, attrs, opset: args[0],
    "Dropout": lambda args, attrs, opset: args[0],
    "Constant": _constant,
    "Pad": _pad,
    "Transpose": lambda args, attrs, opset: args[0].permute(
        attrs.get("perm", list(reversed(range(args[0].dim()))))),
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Resize": _resize,
    "HardSigmoid": _hard_sigmoid,
    "HardSwish": lambda args, attrs, opset: F.hardswish(args[0]),
    "LRN": lambda args, attrs, opset: F.local_response_norm(
        args[0], attrs["size"], attrs.get("alpha", 1e-4), attrs.get("beta", 0.75),
        attrs.get("bias", 1.0)),
    "Shape": _shape,
    "Gather": _gather,
    "Slice": _slice,
    "Cast": lambda args, attrs, opset: args[0].to(CAST_TYPES[attrs["to"]]),
    "ConstantOfShape": _constant_of_shape,
    **{op: _binary(function) for op, function in BINARY.items()},
}


def torch_values(proto: onnx.ModelProto, x: np.ndarray, rule: str = "plain"
                 ) -> dict[str, torch.Tensor]:
    """Every value of ``proto`` for input ``x``, computed in float64 torch (the input a leaf
    that requires its gradient); ReLU passes gradients back under ``rule``."""
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    values: dict[str, Any] = {}
    for tensor in proto.graph.initializer:
        array = numpy_helper.to_array(tensor)
        values[tensor.name] = (as_torch(array, False) if np.issubdtype(array.dtype, np.floating)
                               else torch.from_numpy(array.copy()))
    values[proto.graph.input[0].name] = as_torch(x)
    for node in proto.graph.node:  # the graphs here are in execution order
        args = [values[name] if name else None for name in node.input]
        if node.op_type == "Relu":
            y = TORCH_RELU[rule](args[0])
        else:
            y = TORCH_OPS[node.op_type](args, attributes(node), opset)
        values[node.output[0]] = y
    return values


def torch_gradients(values: dict[str, torch.Tensor], seeds: dict[str, np.ndarray],
                    names: Sequence[str]) -> list[np.ndarray]:
    """Gradients of ``Σ seed · tensor`` with respect to each of ``names`` by autograd
    through ``values`` (see :func:`torch_values`; zeros for a tensor the scalar does not
    depend on)."""
    scalar = sum((values[name] * as_torch(seed, False)).sum() for name, seed in seeds.items())
    references = torch.autograd.grad(scalar, [values[name] for name in names],
                                     retain_graph=True, allow_unused=True)
    return [np.zeros(tuple(values[name].shape)) if r is None else r.numpy()
            for name, r in zip(names, references, strict=True)]
