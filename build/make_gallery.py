"""Writes the architecture gallery: classic CNNs as ONNX files without weight data.

    .venv/bin/python build/make_gallery.py          # writes assets/models/gallery/*.onnx

Each network is built node by node with the ``onnx.helper`` API, layer for layer as in its
reference implementation (torchvision where it has one, see
``assets/models/gallery/README.md``), in inference form: Dropout is left out and
torchvision's adaptive average pooling, which is the identity or a global pool at the
declared input size, is written as what it is.

How the weights are declared (a file of a few kilobytes instead of up to 570 MB):

- ONNX has no initializer without data (the checker refuses one), so every learned tensor
  (conv and Gemm weights, biases, BatchNorm's scale, bias, mean and variance) is a **graph
  input** with its full shape and element type float32, listed after the image input,
  which is always the first graph input. Such a file is valid ONNX: ``onnx.checker`` and
  shape inference accept it, and onnxruntime runs it when given every weight as a feed.
- The metadata key ``cnnlens.weights`` = ``"declared"`` says so. cnnlens's reader
  (``cnnlens.onnx_reader``) then takes every graph input after the first as a weight
  declared by shape; ``cnnlens.untrained`` makes seeded He-initialised values for them
  (documented there), so the page can run the network, labelled untrained by the card.
- Small constants that are not learned (Clip's bounds) are ordinary initializers.

Weights are laid out output-first: Conv ``(M, C/group, kH, kW)``, Gemm ``(N, K)`` with
``transB=1`` (as PyTorch's Linear), so a weight's fan-in is the product of its dims after
the first.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import onnx
from onnx import TensorProto, helper

OPSET = 17
IR_VERSION = 8  # what onnxruntime 1.2x reads; onnx.helper would stamp its newest
OUT = Path(__file__).resolve().parent.parent / "assets" / "models" / "gallery"
WEIGHTS_KEY = "cnnlens.weights"
IMAGENET = {"mode": "RGB", "size": [224, 224], "resize": "center-crop", "scale": 1 / 255,
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


class Net:
    """A graph under construction: nodes, weights declared as graph inputs, a name counter.

    Every layer method takes the name of its input value (and, where a shape needs it, the
    input channel count) and returns the name of its output value.
    """

    def __init__(self, input_shape: Sequence[int]) -> None:
        self.input_shape = tuple(input_shape)
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.ValueInfoProto] = []
        self.constants: list[TensorProto] = []
        self.used: set[str] = set()

    def _name(self, base: str) -> str:
        name, i = base, 1
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name

    def weight(self, name: str, shape: Sequence[int]) -> str:
        self.weights.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        return name

    def node(self, op: str, inputs: Sequence[str], name: str, **attrs: object) -> str:
        name = self._name(name)
        self.nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attrs))
        return name

    # ---- layers
    def conv(self, x: str, c_in: int, c_out: int, k: int | tuple[int, int], name: str, *,
             stride: int = 1, pad: int | tuple[int, int] = 0, group: int = 1,
             bias: bool = True) -> str:
        kh, kw = (k, k) if isinstance(k, int) else k
        ph, pw = (pad, pad) if isinstance(pad, int) else pad
        inputs = [x, self.weight(f"{name}.weight", (c_out, c_in // group, kh, kw))]
        if bias:
            inputs.append(self.weight(f"{name}.bias", (c_out,)))
        return self.node("Conv", inputs, name, kernel_shape=[kh, kw], strides=[stride, stride],
                         pads=[ph, pw, ph, pw], group=group)

    def bn(self, x: str, c: int, name: str, eps: float = 1e-5) -> str:
        inputs = [x] + [self.weight(f"{name}.{part}", (c,))
                        for part in ("weight", "bias", "running_mean", "running_var")]
        return self.node("BatchNormalization", inputs, name, epsilon=eps)

    def relu(self, x: str, name: str) -> str:
        return self.node("Relu", [x], name)

    def relu6(self, x: str, name: str) -> str:
        if not self.constants:
            self.constants = [helper.make_tensor("relu6.min", TensorProto.FLOAT, [], [0.0]),
                              helper.make_tensor("relu6.max", TensorProto.FLOAT, [], [6.0])]
        return self.node("Clip", [x, "relu6.min", "relu6.max"], name)

    def maxpool(self, x: str, k: int, stride: int, name: str, pad: int = 0,
                ceil: bool = False) -> str:
        return self.node("MaxPool", [x], name, kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4, ceil_mode=int(ceil))

    def avgpool(self, x: str, k: int, stride: int, name: str, pad: int = 0,
                include_pad: bool = False) -> str:
        return self.node("AveragePool", [x], name, kernel_shape=[k, k],
                         strides=[stride, stride], pads=[pad] * 4,
                         count_include_pad=int(include_pad))

    def gap(self, x: str, name: str = "avgpool") -> str:
        return self.node("GlobalAveragePool", [x], name)

    def concat(self, xs: Sequence[str], name: str) -> str:
        return self.node("Concat", list(xs), name, axis=1)

    def add(self, a: str, b: str, name: str) -> str:
        return self.node("Add", [a, b], name)

    def flatten(self, x: str, name: str = "flatten") -> str:
        return self.node("Flatten", [x], name, axis=1)

    def linear(self, x: str, k: int, n: int, name: str) -> str:
        inputs = [x, self.weight(f"{name}.weight", (n, k)), self.weight(f"{name}.bias", (n,))]
        return self.node("Gemm", inputs, name, transB=1)

    def basic_conv(self, x: str, c_in: int, c_out: int, k: int | tuple[int, int], name: str,
                   *, stride: int = 1, pad: int | tuple[int, int] = 0,
                   eps: float = 1e-3) -> str:
        """torchvision's BasicConv2d (GoogLeNet, Inception v3): Conv without bias, BN, ReLU."""
        y = self.conv(x, c_in, c_out, k, f"{name}.conv", stride=stride, pad=pad, bias=False)
        return self.relu(self.bn(y, c_out, f"{name}.bn", eps), f"{name}.relu")

    def build(self, output: str, classes: int, card: dict[str, str]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, card["cnnlens.name"],
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(self.input_shape)),
             *self.weights],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, classes])],
            self.constants)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  ir_version=IR_VERSION, producer_name="cnnlens make_gallery")
        helper.set_model_props(model, {**card, WEIGHTS_KEY: "declared"})
        onnx.checker.check_model(model, full_check=True)
        return model


# ---------------------------------------------------------------- the networks


def lenet5() -> tuple[Net, str, int]:
    """LeNet-5 (LeCun et al. 1998) with a fully connected C3, tanh and average pooling."""
    n = Net((1, 1, 32, 32))
    x = n.node("Tanh", [n.conv("input", 1, 6, 5, "c1")], "c1.tanh")
    x = n.avgpool(x, 2, 2, "s2")
    x = n.node("Tanh", [n.conv(x, 6, 16, 5, "c3")], "c3.tanh")
    x = n.avgpool(x, 2, 2, "s4")
    x = n.node("Tanh", [n.conv(x, 16, 120, 5, "c5")], "c5.tanh")
    x = n.node("Tanh", [n.linear(n.flatten(x), 120, 84, "f6")], "f6.tanh")
    return n, n.linear(x, 84, 10, "output"), 10


def alexnet() -> tuple[Net, str, int]:
    """torchvision's AlexNet (the one-GPU variant of Krizhevsky 2014, no LRN)."""
    n = Net((1, 3, 224, 224))
    x = "input"
    convs = ((3, 64, 11, 4, 2, True), (64, 192, 5, 1, 2, True), (192, 384, 3, 1, 1, False),
             (384, 256, 3, 1, 1, False), (256, 256, 3, 1, 1, True))
    for i, (c_in, c_out, k, s, p, pool) in enumerate(convs):
        x = n.relu(n.conv(x, c_in, c_out, k, f"features.conv{i + 1}", stride=s, pad=p),
                   f"features.relu{i + 1}")
        if pool:
            x = n.maxpool(x, 3, 2, f"features.pool{i + 1}")
    x = n.relu(n.linear(n.flatten(x), 256 * 6 * 6, 4096, "classifier.fc6"), "classifier.relu6")
    x = n.relu(n.linear(x, 4096, 4096, "classifier.fc7"), "classifier.relu7")
    return n, n.linear(x, 4096, 1000, "classifier.fc8"), 1000


def _vgg(config: Sequence[int | str]) -> tuple[Net, str, int]:
    n = Net((1, 3, 224, 224))
    x, c, block, layer = "input", 3, 1, 1
    for item in config:
        if item == "M":
            x = n.maxpool(x, 2, 2, f"pool{block}")
            block, layer = block + 1, 1
        else:
            x = n.relu(n.conv(x, c, int(item), 3, f"conv{block}_{layer}", pad=1),
                       f"relu{block}_{layer}")
            c, layer = int(item), layer + 1
    x = n.relu(n.linear(n.flatten(x), 512 * 7 * 7, 4096, "fc6"), "relu6")
    x = n.relu(n.linear(x, 4096, 4096, "fc7"), "relu7")
    return n, n.linear(x, 4096, 1000, "fc8"), 1000


def vgg16() -> tuple[Net, str, int]:
    """VGG-16 (configuration D of Simonyan & Zisserman 2015), torchvision's vgg16."""
    return _vgg([64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                 512, 512, 512, "M"])


def vgg19() -> tuple[Net, str, int]:
    """VGG-19 (configuration E), torchvision's vgg19."""
    return _vgg([64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                 512, 512, 512, 512, "M"])


def googlenet() -> tuple[Net, str, int]:
    """GoogLeNet (Szegedy et al. 2015) as torchvision's googlenet without the auxiliary heads
    (BatchNorm after every conv; its "5x5" branch uses 3x3 kernels, as torchvision's does)."""
    n = Net((1, 3, 224, 224))

    def inception(x: str, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pp: int,
                  name: str) -> tuple[str, int]:
        b1 = n.basic_conv(x, c_in, c1, 1, f"{name}.branch1")
        b2 = n.basic_conv(n.basic_conv(x, c_in, c3r, 1, f"{name}.branch2.0"), c3r, c3, 3,
                          f"{name}.branch2.1", pad=1)
        b3 = n.basic_conv(n.basic_conv(x, c_in, c5r, 1, f"{name}.branch3.0"), c5r, c5, 3,
                          f"{name}.branch3.1", pad=1)
        b4 = n.basic_conv(n.maxpool(x, 3, 1, f"{name}.branch4.pool", pad=1, ceil=True),
                          c_in, pp, 1, f"{name}.branch4.1")
        return n.concat([b1, b2, b3, b4], f"{name}.concat"), c1 + c3 + c5 + pp

    x = n.basic_conv("input", 3, 64, 7, "conv1", stride=2, pad=3)
    x = n.maxpool(x, 3, 2, "maxpool1", ceil=True)
    x = n.basic_conv(x, 64, 64, 1, "conv2")
    x = n.basic_conv(x, 64, 192, 3, "conv3", pad=1)
    x = n.maxpool(x, 3, 2, "maxpool2", ceil=True)
    c = 192
    blocks: list[tuple[str, tuple[int, ...]]] = [
        ("inception3a", (64, 96, 128, 16, 32, 32)), ("inception3b", (128, 128, 192, 32, 96, 64)),
        ("maxpool3", ()),
        ("inception4a", (192, 96, 208, 16, 48, 64)), ("inception4b", (160, 112, 224, 24, 64, 64)),
        ("inception4c", (128, 128, 256, 24, 64, 64)), ("inception4d", (112, 144, 288, 32, 64, 64)),
        ("inception4e", (256, 160, 320, 32, 128, 128)),
        ("maxpool4", ()),
        ("inception5a", (256, 160, 320, 32, 128, 128)),
        ("inception5b", (384, 192, 384, 48, 128, 128)),
    ]
    for name, widths in blocks:
        if name == "maxpool3":
            x = n.maxpool(x, 3, 2, name, ceil=True)
        elif name == "maxpool4":
            x = n.maxpool(x, 2, 2, name, ceil=True)
        else:
            x, c = inception(x, c, *widths, name)
    return n, n.linear(n.flatten(n.gap(x)), 1024, 1000, "fc"), 1000


def inception_v3() -> tuple[Net, str, int]:
    """Inception v3 (Szegedy et al. 2016) as torchvision's inception_v3 without the auxiliary
    head, at its 299 x 299 input."""
    n = Net((1, 3, 299, 299))
    bc = n.basic_conv

    def pool_branch(x: str, c_in: int, c_out: int, name: str) -> str:
        # F.avg_pool2d(3, 1, 1) counts the zero padding (count_include_pad=True).
        y = n.avgpool(x, 3, 1, f"{name}.pool", pad=1, include_pad=True)
        return bc(y, c_in, c_out, 1, f"{name}.branch_pool")

    def block_a(x: str, c: int, pool: int, name: str) -> tuple[str, int]:
        b1 = bc(x, c, 64, 1, f"{name}.branch1x1")
        b5 = bc(bc(x, c, 48, 1, f"{name}.branch5x5_1"), 48, 64, 5, f"{name}.branch5x5_2", pad=2)
        b3 = bc(x, c, 64, 1, f"{name}.branch3x3dbl_1")
        b3 = bc(b3, 64, 96, 3, f"{name}.branch3x3dbl_2", pad=1)
        b3 = bc(b3, 96, 96, 3, f"{name}.branch3x3dbl_3", pad=1)
        return n.concat([b1, b5, b3, pool_branch(x, c, pool, name)], f"{name}.concat"), 224 + pool

    def block_b(x: str, c: int, name: str) -> tuple[str, int]:
        b3 = bc(x, c, 384, 3, f"{name}.branch3x3", stride=2)
        bd = bc(x, c, 64, 1, f"{name}.branch3x3dbl_1")
        bd = bc(bd, 64, 96, 3, f"{name}.branch3x3dbl_2", pad=1)
        bd = bc(bd, 96, 96, 3, f"{name}.branch3x3dbl_3", stride=2)
        return n.concat([b3, bd, n.maxpool(x, 3, 2, f"{name}.pool")], f"{name}.concat"), 480 + c

    def block_c(x: str, c: int, c7: int, name: str) -> tuple[str, int]:
        b1 = bc(x, c, 192, 1, f"{name}.branch1x1")
        b7 = bc(x, c, c7, 1, f"{name}.branch7x7_1")
        b7 = bc(b7, c7, c7, (1, 7), f"{name}.branch7x7_2", pad=(0, 3))
        b7 = bc(b7, c7, 192, (7, 1), f"{name}.branch7x7_3", pad=(3, 0))
        bd = bc(x, c, c7, 1, f"{name}.branch7x7dbl_1")
        for i, (k, p) in enumerate((((7, 1), (3, 0)), ((1, 7), (0, 3)), ((7, 1), (3, 0)))):
            bd = bc(bd, c7, c7, k, f"{name}.branch7x7dbl_{i + 2}", pad=p)
        bd = bc(bd, c7, 192, (1, 7), f"{name}.branch7x7dbl_5", pad=(0, 3))
        return n.concat([b1, b7, bd, pool_branch(x, c, 192, name)], f"{name}.concat"), 768

    def block_d(x: str, c: int, name: str) -> tuple[str, int]:
        b3 = bc(bc(x, c, 192, 1, f"{name}.branch3x3_1"), 192, 320, 3, f"{name}.branch3x3_2",
                stride=2)
        b7 = bc(x, c, 192, 1, f"{name}.branch7x7x3_1")
        b7 = bc(b7, 192, 192, (1, 7), f"{name}.branch7x7x3_2", pad=(0, 3))
        b7 = bc(b7, 192, 192, (7, 1), f"{name}.branch7x7x3_3", pad=(3, 0))
        b7 = bc(b7, 192, 192, 3, f"{name}.branch7x7x3_4", stride=2)
        return n.concat([b3, b7, n.maxpool(x, 3, 2, f"{name}.pool")], f"{name}.concat"), 512 + c

    def split(x: str, name: str) -> str:
        a = bc(x, 384, 384, (1, 3), f"{name}a", pad=(0, 1))
        b = bc(x, 384, 384, (3, 1), f"{name}b", pad=(1, 0))
        return n.concat([a, b], f"{name}.concat")

    def block_e(x: str, c: int, name: str) -> tuple[str, int]:
        b1 = bc(x, c, 320, 1, f"{name}.branch1x1")
        b3 = split(bc(x, c, 384, 1, f"{name}.branch3x3_1"), f"{name}.branch3x3_2")
        bd = bc(x, c, 448, 1, f"{name}.branch3x3dbl_1")
        bd = split(bc(bd, 448, 384, 3, f"{name}.branch3x3dbl_2", pad=1),
                   f"{name}.branch3x3dbl_3")
        return n.concat([b1, b3, bd, pool_branch(x, c, 192, name)], f"{name}.concat"), 2048

    x = bc("input", 3, 32, 3, "Conv2d_1a_3x3", stride=2)
    x = bc(x, 32, 32, 3, "Conv2d_2a_3x3")
    x = bc(x, 32, 64, 3, "Conv2d_2b_3x3", pad=1)
    x = n.maxpool(x, 3, 2, "maxpool1")
    x = bc(x, 64, 80, 1, "Conv2d_3b_1x1")
    x = bc(x, 80, 192, 3, "Conv2d_4a_3x3")
    x = n.maxpool(x, 3, 2, "maxpool2")
    x, c = block_a(x, 192, 32, "Mixed_5b")
    x, c = block_a(x, c, 64, "Mixed_5c")
    x, c = block_a(x, c, 64, "Mixed_5d")
    x, c = block_b(x, c, "Mixed_6a")
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x, c = block_c(x, c, c7, name)
    x, c = block_d(x, c, "Mixed_7a")
    x, c = block_e(x, c, "Mixed_7b")
    x, c = block_e(x, c, "Mixed_7c")
    return n, n.linear(n.flatten(n.gap(x)), 2048, 1000, "fc"), 1000


def _resnet(blocks: Sequence[int], bottleneck: bool) -> tuple[Net, str, int]:
    """torchvision's ResNet (v1.5: a bottleneck strides in its 3x3 conv)."""
    n = Net((1, 3, 224, 224))
    expansion = 4 if bottleneck else 1

    def conv_bn(x: str, c_in: int, c_out: int, k: int, name: str, stride: int = 1) -> str:
        y = n.conv(x, c_in, c_out, k, f"{name}.conv", stride=stride, pad=k // 2, bias=False)
        return n.bn(y, c_out, f"{name}.bn")

    x = n.relu(conv_bn("input", 3, 64, 7, "conv1", 2), "relu")
    x = n.maxpool(x, 3, 2, "maxpool", pad=1)
    c = 64
    for stage, (count, planes) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True)):
        for i in range(count):
            name = f"layer{stage + 1}.{i}"
            stride = 2 if stage > 0 and i == 0 else 1
            out = planes * expansion
            if bottleneck:
                y = n.relu(conv_bn(x, c, planes, 1, f"{name}.1"), f"{name}.relu1")
                y = n.relu(conv_bn(y, planes, planes, 3, f"{name}.2", stride), f"{name}.relu2")
                y = conv_bn(y, planes, out, 1, f"{name}.3")
            else:
                y = n.relu(conv_bn(x, c, planes, 3, f"{name}.1", stride), f"{name}.relu1")
                y = conv_bn(y, planes, planes, 3, f"{name}.2")
            shortcut = x
            if stride != 1 or c != out:
                shortcut = conv_bn(x, c, out, 1, f"{name}.downsample", stride)
            x = n.relu(n.add(y, shortcut, f"{name}.add"), f"{name}.relu")
            c = out
    return n, n.linear(n.flatten(n.gap(x)), c, 1000, "fc"), 1000


def resnet18() -> tuple[Net, str, int]:
    """ResNet-18 (He et al. 2016)."""
    return _resnet((2, 2, 2, 2), bottleneck=False)


def resnet50() -> tuple[Net, str, int]:
    """ResNet-50 (He et al. 2016), torchvision's v1.5."""
    return _resnet((3, 4, 6, 3), bottleneck=True)


def resnet152() -> tuple[Net, str, int]:
    """ResNet-152 (He et al. 2016), torchvision's v1.5."""
    return _resnet((3, 8, 36, 3), bottleneck=True)


def squeezenet1_1() -> tuple[Net, str, int]:
    """SqueezeNet 1.1 (Iandola et al., the v1.1 of the authors' repository), as torchvision."""
    n = Net((1, 3, 224, 224))

    def fire(x: str, c_in: int, squeeze: int, expand: int, name: str) -> tuple[str, int]:
        s = n.relu(n.conv(x, c_in, squeeze, 1, f"{name}.squeeze"), f"{name}.squeeze_relu")
        e1 = n.relu(n.conv(s, squeeze, expand, 1, f"{name}.expand1x1"), f"{name}.expand1x1_relu")
        e3 = n.relu(n.conv(s, squeeze, expand, 3, f"{name}.expand3x3", pad=1),
                    f"{name}.expand3x3_relu")
        return n.concat([e1, e3], f"{name}.concat"), 2 * expand

    x = n.relu(n.conv("input", 3, 64, 3, "conv1", stride=2), "relu1")
    x, c = n.maxpool(x, 3, 2, "pool1", ceil=True), 64
    fire_number = 2
    for stage in (((16, 64), (16, 64)), ((32, 128), (32, 128)),
                  ((48, 192), (48, 192), (64, 256), (64, 256))):
        if fire_number > 2:
            x = n.maxpool(x, 3, 2, f"pool{fire_number - 1}", ceil=True)
        for squeeze, expand in stage:
            x, c = fire(x, c, squeeze, expand, f"fire{fire_number}")
            fire_number += 1
    x = n.relu(n.conv(x, c, 1000, 1, "conv10"), "relu10")
    return n, n.flatten(n.gap(x)), 1000


def mobilenet_v2() -> tuple[Net, str, int]:
    """MobileNetV2 (Sandler et al. 2018), width 1.0, as torchvision's mobilenet_v2."""
    n = Net((1, 3, 224, 224))

    def conv_bn(x: str, c_in: int, c_out: int, k: int, name: str, stride: int = 1,
                group: int = 1, act: bool = True) -> str:
        y = n.conv(x, c_in, c_out, k, f"{name}.conv", stride=stride, pad=k // 2, group=group,
                   bias=False)
        y = n.bn(y, c_out, f"{name}.bn")
        return n.relu6(y, f"{name}.relu6") if act else y

    x, c, index = conv_bn("input", 3, 32, 3, "features.0", 2), 32, 1
    for t, c_out, count, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(count):
            name, stride, hidden = f"features.{index}", s if i == 0 else 1, c * t
            y = x if t == 1 else conv_bn(x, c, hidden, 1, f"{name}.expand")
            y = conv_bn(y, hidden, hidden, 3, f"{name}.depthwise", stride, group=hidden)
            y = conv_bn(y, hidden, c_out, 1, f"{name}.project", act=False)
            x = n.add(x, y, f"{name}.add") if stride == 1 and c == c_out else y
            c, index = c_out, index + 1
    x = conv_bn(x, c, 1280, 1, f"features.{index}")
    return n, n.linear(n.flatten(n.gap(x)), 1280, 1000, "classifier"), 1000


def densenet121() -> tuple[Net, str, int]:
    """DenseNet-121 (Huang et al. 2017): growth 32, blocks (6, 12, 24, 16), as torchvision."""
    n = Net((1, 3, 224, 224))
    growth, bottleneck = 32, 4 * 32

    def bn_relu_conv(x: str, c_in: int, c_out: int, k: int, name: str) -> str:
        y = n.relu(n.bn(x, c_in, f"{name}.norm"), f"{name}.relu")
        return n.conv(y, c_in, c_out, k, f"{name}.conv", pad=k // 2, bias=False)

    x = n.conv("input", 3, 64, 7, "features.conv0", stride=2, pad=3, bias=False)
    x = n.relu(n.bn(x, 64, "features.norm0"), "features.relu0")
    x, c = n.maxpool(x, 3, 2, "features.pool0", pad=1), 64
    for b, count in enumerate((6, 12, 24, 16)):
        for i in range(count):
            name = f"features.denseblock{b + 1}.denselayer{i + 1}"
            y = bn_relu_conv(x, c, bottleneck, 1, f"{name}.1")
            y = bn_relu_conv(y, bottleneck, growth, 3, f"{name}.2")
            x, c = n.concat([x, y], f"{name}.concat"), c + growth
        if b < 3:
            name = f"features.transition{b + 1}"
            x = bn_relu_conv(x, c, c // 2, 1, name)
            x, c = n.avgpool(x, 2, 2, f"{name}.pool"), c // 2
    x = n.relu(n.bn(x, c, "features.norm5"), "features.relu5")
    return n, n.linear(n.flatten(n.gap(x)), c, 1000, "classifier"), 1000


def nin() -> tuple[Net, str, int]:
    """Network in Network (Lin et al. 2014), the ImageNet model of the authors' Caffe zoo
    entry: four mlpconv blocks (a conv and two 1x1 "cccp" convs, each with ReLU), Caffe's
    ceil-mode max pooling, global average pooling over 1000 maps instead of a classifier."""
    n = Net((1, 3, 224, 224))
    x, c = "input", 3
    blocks = ((96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1), (1024, 3, 1, 1))
    for b, (width, k, s, p) in enumerate(blocks):
        x = n.relu(n.conv(x, c, width, k, f"conv{b + 1}", stride=s, pad=p), f"relu{b + 1}")
        last = 1000 if b == 3 else width
        x = n.relu(n.conv(x, width, width, 1, f"cccp{2 * b + 1}"), f"relu{b + 1}_1")
        x = n.relu(n.conv(x, width, last, 1, f"cccp{2 * b + 2}"), f"relu{b + 1}_2")
        c = last
        if b < 3:
            x = n.maxpool(x, 3, 2, f"pool{b + 1}", ceil=True)
    return n, n.flatten(n.gap(x, "pool4")), 1000


GALLERY: dict[str, tuple[Callable[[], tuple[Net, str, int]], str, str]] = {
    "lenet5": (lenet5, "LeNet-5", "LeCun et al. 1998, Gradient-based learning applied to "
               "document recognition (C3 fully connected, tanh, average pooling)"),
    "alexnet": (alexnet, "AlexNet", "Krizhevsky 2014, One weird trick (torchvision alexnet)"),
    "vgg16": (vgg16, "VGG-16", "Simonyan & Zisserman 2015, configuration D (torchvision vgg16)"),
    "vgg19": (vgg19, "VGG-19", "Simonyan & Zisserman 2015, configuration E (torchvision vgg19)"),
    "googlenet": (googlenet, "GoogLeNet (Inception v1)", "Szegedy et al. 2015 (torchvision "
                  "googlenet, BatchNorm, without auxiliary heads)"),
    "inception_v3": (inception_v3, "Inception v3", "Szegedy et al. 2016 (torchvision "
                     "inception_v3 without the auxiliary head)"),
    "resnet18": (resnet18, "ResNet-18", "He et al. 2016 (torchvision resnet18)"),
    "resnet50": (resnet50, "ResNet-50", "He et al. 2016 (torchvision resnet50, v1.5)"),
    "resnet152": (resnet152, "ResNet-152", "He et al. 2016 (torchvision resnet152, v1.5)"),
    "squeezenet1_1": (squeezenet1_1, "SqueezeNet 1.1", "Iandola et al. 2016, v1.1 "
                      "(torchvision squeezenet1_1)"),
    "mobilenet_v2": (mobilenet_v2, "MobileNetV2", "Sandler et al. 2018 (torchvision "
                     "mobilenet_v2)"),
    "densenet121": (densenet121, "DenseNet-121", "Huang et al. 2017 (torchvision densenet121)"),
    "nin": (nin, "Network in Network", "Lin et al. 2014 (the authors' ImageNet Caffe model)"),
}


def card(title: str, source: str, input_shape: Sequence[int], classes: int) -> dict[str, str]:
    """The model card: untrained, said in the name and the description."""
    channels, height, width = input_shape[1:]
    preprocessing = (dict(IMAGENET, size=[height, width]) if channels == 3 else
                     {"mode": "L", "size": [height, width], "resize": "fit", "scale": 1 / 255})
    return {
        "cnnlens.name": f"{title} (untrained)",
        "cnnlens.description": (
            f"The {title} architecture ({source}) with untrained, seeded He-initialised "
            "weights: its predictions mean nothing; its shapes, parameter counts and "
            "multiply-adds are the real network's."),
        "cnnlens.dataset": "none (untrained)",
        "cnnlens.preprocessing": json.dumps(preprocessing),
    }


def build(name: str) -> onnx.ModelProto:
    """One gallery network as a checked ``ModelProto``."""
    make, title, source = GALLERY[name]
    net, output, classes = make()
    return net.build(output, classes, card(title, source, net.input_shape, classes))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(GALLERY), help="networks to write")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        path = args.out / f"{name}.onnx"
        onnx.save(build(name), path)
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
