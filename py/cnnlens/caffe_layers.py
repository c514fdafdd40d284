"""How each Caffe layer type becomes ONNX nodes, for :mod:`cnnlens.caffe` (which reads the
input, the phases and the wiring; its docstring says what each type becomes).

:class:`Net` is the graph being built: its nodes, the weights declared by shape, and every
value's shape, computed as each node is added by the op's own shape rule
(:mod:`cnnlens.ops`), so a layer whose input does not fit (a kernel larger than its input)
is named at once, and Caffe's shape facts (the pooling's rounding) are the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cnnlens import graph as g
from cnnlens.errors import CnnlensError, ModelError
from cnnlens.ops import op_spec
from cnnlens.prototxt import Message

Shape = tuple[int, ...]


class UnsupportedLayerError(ModelError):
    """The prototxt uses Caffe layer types cnnlens cannot translate; ``layers`` maps each
    type to the names of its layers, in file order."""

    def __init__(self, layers: dict[str, tuple[str, ...]]) -> None:
        self.layers = dict(layers)
        listing = "; ".join(
            f"{kind} (layer{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))})"
            for kind, names in self.layers.items())
        plural = "s" if len(self.layers) > 1 else ""
        super().__init__(f"unsupported Caffe layer type{plural}: {listing}")

    def __reduce__(self):  # picklable despite the custom __init__
        return (type(self), (self.layers,))


# ---------------------------------------------------------------- reading fields


def names(layer: Message, field: str) -> list[str]:
    """A layer's ``top`` or ``bottom`` blob names, in order."""
    return [str(value) for value in layer.all(field)]


def read_int(params: Message | None, field: str, default: int | None, where: str) -> int:
    value = default if params is None else params.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ModelError(f"{where}: {field} must be a whole number, got {value!r}")
    return value


def read_float(params: Message | None, field: str, default: float, where: str) -> float:
    value = default if params is None else params.get(field, default)
    if not isinstance(value, int | float):
        raise ModelError(f"{where}: {field} must be a number, got {value!r}")
    return float(value)


def read_flag(params: Message | None, field: str, default: bool) -> bool:
    value = None if params is None else params.get(field)
    return default if value is None else str(value).lower() in ("true", "t", "1")


def read_enum(params: Message | None, field: str, choices: Sequence[str], where: str) -> str:
    """An enum field written by name (``MAX``) or by number (``0``); default ``choices[0]``."""
    value = choices[0] if params is None else params.get(field, choices[0])
    if isinstance(value, int) and 0 <= value < len(choices):
        return choices[value]
    if str(value).upper() in choices:
        return str(value).upper()
    raise ModelError(f"{where}: {field} must be one of {', '.join(choices)}, got {value!r}")


def read_pair(params: Message, field: str, default: int | None, where: str) -> tuple[int, int]:
    """(h, w) of ``field``_h/_w, else of ``field`` (one value for both, or two, repeated)."""
    if f"{field}_h" in params or f"{field}_w" in params:
        return (read_int(params, f"{field}_h", default, where),
                read_int(params, f"{field}_w", default, where))
    values = params.all(field) or ([] if default is None else [default])
    if not values or len(values) > 2 or not all(isinstance(v, int) for v in values):
        raise ModelError(f"{where}: {field} must be one or two whole numbers, got "
                         f"{values or 'none'}")
    return (values[0], values[-1])


# ---------------------------------------------------------------- the graph being built


class Net:
    """Nodes, weights declared by shape and every value's shape (by the ops' own rules)."""

    def __init__(self, reserved: set[str]) -> None:
        self.nodes: list[g.Node] = []
        self.weights: dict[str, Shape] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.shapes: dict[str, Shape] = {}
        self.blobs: dict[str, str] = {}  # Caffe blob name → current value name
        self.reserved = set(reserved)
        self.node_names: set[str] = set()

    def fresh(self, base: str, used: set[str]) -> str:
        """``base``, or ``base_2``, ``base_3``, … if taken; recorded in ``used``."""
        name, i = base, 1
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        return name

    def output_name(self, top: str, layer: str) -> str:
        """``top`` the first time it is made, else (in-place) a name after the layer."""
        if top not in self.blobs and top not in self.shapes:
            self.reserved.add(top)
            return top
        return self.fresh(layer, self.reserved)

    def weight(self, name: str, shape: Shape) -> str:
        """A weight declared by shape, named ``name`` unless a blob or weight has it."""
        name = self.fresh(name, self.reserved)
        self.weights[name] = shape
        self.shapes[name] = shape
        return name

    def constant(self, name: str, value: float) -> str:
        name = self.fresh(name, self.reserved)
        self.constants[name] = np.array(value, np.float32)
        self.shapes[name] = ()
        return name

    def add(self, op: str, name: str, inputs: Sequence[str], output: str,
            attributes: dict[str, Any] | None = None) -> str:
        attributes = attributes or {}
        node = g.Node(op, self.fresh(name, self.node_names), tuple(inputs), (output,),
                      attributes)
        spec = op_spec(op)
        assert spec is not None, op
        constants = [self.constants.get(value) for value in inputs]
        try:
            shape = spec.shape([self.shapes[value] for value in inputs], attributes, constants)
        except (CnnlensError, ValueError, IndexError, ZeroDivisionError) as exc:
            raise ModelError(f"layer {name!r} ({op}): {exc}") from exc
        if shape is None or any(d < 1 for d in shape):
            raise ModelError(f"layer {name!r} ({op}) has no output for its input of shape "
                             f"{self.shapes[inputs[0]]}")
        self.shapes[output] = tuple(int(d) for d in shape)
        self.nodes.append(node)
        return output

    def values(self, names: Sequence[str], layer: str) -> list[str]:
        """The current values of the Caffe blobs ``names`` that ``layer`` reads."""
        missing = [b for b in names if b not in self.blobs]
        if missing:
            raise ModelError(f"layer {layer!r} reads {', '.join(map(repr, missing))}, which no "
                             "layer before it makes")
        return [self.blobs[b] for b in names]


Handler = Callable[[Net, Message, str, list[str]], str]


def _one(net: Net, layer: Message, name: str, op: str, inputs: list[str],
         attributes: dict[str, Any] | None = None) -> str:
    top = names(layer, "top")[0]
    return net.add(op, name, inputs, net.output_name(top, name), attributes)


def _convolution(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    params = layer.message("convolution_param") or Message(())
    where = f"layer {name!r}"
    out = read_int(params, "num_output", None, where)
    group = read_int(params, "group", 1, where)
    kernel = read_pair(params, "kernel", None, where) if "kernel_h" in params else read_pair(
        params, "kernel_size", None, where)
    stride = read_pair(params, "stride", 1, where)
    pad = read_pair(params, "pad", 0, where)
    dilation = read_pair(params, "dilation", 1, where)
    channels = net.shapes[inputs[0]][1]
    if channels % group or out % group:
        raise ModelError(f"{where}: group {group} divides neither {channels} input channels "
                         f"nor {out} outputs evenly")
    weights = [net.weight(f"{name}.weight", (out, channels // group, *kernel))]
    if read_flag(params, "bias_term", True):
        weights.append(net.weight(f"{name}.bias", (out,)))
    return _one(net, layer, name, "Conv", inputs + weights, {
        "kernel_shape": kernel, "strides": stride, "pads": (*pad, *pad),
        "dilations": dilation, "group": group})


def _pooling(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    params = layer.message("pooling_param") or Message(())
    where = f"layer {name!r}"
    kind = read_enum(params, "pool", ("MAX", "AVE", "STOCHASTIC"), where)
    if kind == "STOCHASTIC":
        raise UnsupportedLayerError({"Pooling (pool: STOCHASTIC)": (name,)})
    if read_flag(params, "global_pooling", False):
        op = "GlobalMaxPool" if kind == "MAX" else "GlobalAveragePool"
        return _one(net, layer, name, op, inputs)
    kernel = read_pair(params, "kernel", None, where) if "kernel_h" in params else read_pair(
        params, "kernel_size", None, where)
    pad = read_pair(params, "pad", 0, where)
    attributes = {"kernel_shape": kernel, "strides": read_pair(params, "stride", 1, where),
                  "pads": (*pad, *pad),
                  "ceil_mode": int(read_enum(params, "round_mode", ("CEIL", "FLOOR"), where)
                                   == "CEIL")}
    if kind == "AVE":
        attributes["count_include_pad"] = 1
    return _one(net, layer, name, "MaxPool" if kind == "MAX" else "AveragePool", inputs,
                attributes)


def _relu(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    slope = read_float(layer.message("relu_param"), "negative_slope", 0.0, f"layer {name!r}")
    if slope:
        return _one(net, layer, name, "LeakyRelu", inputs, {"alpha": slope})
    return _one(net, layer, name, "Relu", inputs)


def _lrn(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("lrn_param"), f"layer {name!r}"
    if read_enum(params, "norm_region", ("ACROSS_CHANNELS", "WITHIN_CHANNEL"), where) != (
            "ACROSS_CHANNELS"):
        raise UnsupportedLayerError({"LRN (norm_region: WITHIN_CHANNEL)": (name,)})
    return _one(net, layer, name, "LRN", inputs, {
        "size": read_int(params, "local_size", 5, where),
        "alpha": read_float(params, "alpha", 1.0, where),
        "beta": read_float(params, "beta", 0.75, where),
        "bias": read_float(params, "k", 1.0, where)})


def _inner_product(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("inner_product_param"), f"layer {name!r}"
    if read_int(params, "axis", 1, where) != 1:
        raise ModelError(f"{where}: only axis 1 is supported")
    x = inputs[0]
    if len(net.shapes[x]) > 2:
        x = net.add("Flatten", f"{name}.flatten", [x], net.fresh(f"{name}.flatten",
                                                                  net.reserved), {"axis": 1})
    k, n = net.shapes[x][1], read_int(params, "num_output", None, where)
    transpose = read_flag(params, "transpose", False)
    weights = [net.weight(f"{name}.weight", (k, n) if transpose else (n, k))]
    if read_flag(params, "bias_term", True):
        weights.append(net.weight(f"{name}.bias", (n,)))
    return _one(net, layer, name, "Gemm", [x, *weights], {"transB": int(not transpose)})


def _softmax(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    axis = read_int(layer.message("softmax_param"), "axis", 1, f"layer {name!r}")
    return _one(net, layer, name, "Softmax", inputs[:1], {"axis": axis})


def _concat(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("concat_param"), f"layer {name!r}"
    axis = read_int(params, "axis", read_int(params, "concat_dim", 1, where), where)
    return _one(net, layer, name, "Concat", inputs, {"axis": axis})


def _eltwise(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("eltwise_param"), f"layer {name!r}"
    operation = read_enum(params, "operation", ("PROD", "SUM", "MAX"), where) if (
        params and "operation" in params) else "SUM"
    coeffs = [float(c) for c in params.all("coeff")] if params else []
    if coeffs and (operation != "SUM" or len(coeffs) != len(inputs)):
        raise ModelError(f"{where}: coeff needs SUM and one value per bottom")
    values = list(inputs)
    for i, c in enumerate(coeffs):
        if c != 1.0:
            scale = net.constant(f"{name}.coeff{i}", c)
            values[i] = net.add("Mul", f"{name}.coeff{i}", [values[i], scale],
                                net.fresh(f"{name}.coeff{i}", net.reserved))
    top = names(layer, "top")[0]
    result = values[0]
    for i, value in enumerate(values[1:], 2):
        last = i == len(values)
        step = name if last else f"{name}.{i - 1}"
        out = net.output_name(top, name) if last else net.fresh(step, net.reserved)
        if operation == "MAX":  # max(a, b) = a + relu(b - a)
            gap = net.add("Sub", f"{step}.sub", [value, result], net.fresh(f"{step}.sub",
                                                                          net.reserved))
            gap = net.add("Relu", f"{step}.relu", [gap], net.fresh(f"{step}.relu",
                                                                   net.reserved))
            result = net.add("Add", step, [result, gap], out)
        else:
            result = net.add("Add" if operation == "SUM" else "Mul", step, [result, value], out)
    return result


def batch_norm(net: Net, layer: Message, name: str, inputs: list[str],
               scale: Message | None) -> str:
    """BatchNorm → BatchNormalization; its scale and bias are the fused Scale layer's
    (``scale``) when there is one, else declared all the same (ones and zeros to start)."""
    where = f"layer {name!r}"
    channels = net.shapes[inputs[0]][1]
    affine = name if scale is None else str(scale.get("name", name))
    weights = [net.weight(f"{affine}.{part}", (channels,)) for part in ("weight", "bias")]
    weights += [net.weight(f"{name}.{part}", (channels,)) for part in ("mean", "var")]
    eps = read_float(layer.message("batch_norm_param"), "eps", 1e-5, where)
    target = layer if scale is None else scale
    return _one(net, target, name, "BatchNormalization", inputs + weights, {"epsilon": eps})


def _scale(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    params = layer.message("scale_param")
    shape = (net.shapes[inputs[0]][1], *[1] * (len(net.shapes[inputs[0]]) - 2))
    if len(inputs) != 1:
        raise ModelError(f"layer {name!r}: a Scale with a second bottom is not supported")
    top = names(layer, "top")[0]
    bias = read_flag(params, "bias_term", False)
    out = net.output_name(top, name) if not bias else net.fresh(f"{name}.mul", net.reserved)
    y = net.add("Mul", name if not bias else f"{name}.mul",
                [inputs[0], net.weight(f"{name}.weight", shape)], out)
    if bias:
        y = net.add("Add", name, [y, net.weight(f"{name}.bias", shape)],
                    net.output_name(top, name))
    return y


def _flatten(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("flatten_param"), f"layer {name!r}"
    if read_int(params, "end_axis", -1, where) not in (-1, len(net.shapes[inputs[0]]) - 1):
        raise ModelError(f"{where}: only end_axis -1 is supported")
    return _one(net, layer, name, "Flatten", inputs, {"axis": read_int(params, "axis", 1, where)})


def _simple(op: str) -> Handler:
    def handler(net: Net, layer: Message, name: str, inputs: list[str]) -> str:
        return _one(net, layer, name, op, inputs[:1])
    return handler


HANDLERS: dict[str, Handler] = {
    "Convolution": _convolution, "Pooling": _pooling, "ReLU": _relu, "LRN": _lrn,
    "InnerProduct": _inner_product, "Softmax": _softmax, "SoftmaxWithLoss": _softmax,
    "Concat": _concat, "Eltwise": _eltwise, "Scale": _scale, "Flatten": _flatten,
    "Dropout": _simple("Dropout"), "Sigmoid": _simple("Sigmoid"), "TanH": _simple("Tanh"),
}
"""Caffe layer type → its translation (BatchNorm, Split and the inputs are handled apart)."""
