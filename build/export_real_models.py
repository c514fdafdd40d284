"""Export five real CNN architectures to ONNX with PyTorch's exporter, seeded random weights.

The architectures are written here with ``torch.nn`` (torchvision does not install beside
our torch 2.13.0 CPU wheel), following torchvision's definitions: ResNet-18,
MobileNetV2, SqueezeNet 1.1 and GoogLeNet (no auxiliary heads, with LRN as in the paper
and Caffe's model), plus a Keras-style VGG (blocks of 3 × 3 convolutions, then a Keras
``Flatten`` of channels-last features: a Transpose before the dense layers). The forward
passes are written the way model code usually is (``x.view(x.size(0), -1)``,
``F.interpolate``, ``F.pad``, ``F.hardswish``), so the exports carry the Shape / Gather /
Unsqueeze / Concat patterns, Pad, Resize and the hard activations that real models do.

The input is 3 × 64 × 64 by default (``--size``) so the tests run quickly: the layer
structure is that of the full-size models; only the spatial sizes, and with them the
classifier widths, shrink. The weights are random (seeded); BatchNormalization
statistics are measured on seeded random pictures, as training would leave them, so
activations keep their scale through the depth. torch.onnx's TorchScript exporter
(``dynamo=False``) is used: the dynamo exporter needs onnxscript, which we do not ship.

    python build/export_real_models.py OUT_DIR [--size 64] [--only resnet18 ...]
                                               [--dynamic-batch]

tf2onnx / keras2onnx are not used: TensorFlow does not install in this environment.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SEED = 20240611
OPSET = 17
CLASSES = 10


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
            activation: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    """Conv (no bias) → BatchNorm → activation, padded to keep the size at stride 1."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out)]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


# ----------------------------------------------------------------- ResNet-18
class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(c_in, c_out, 3, stride),
                                  conv_bn(c_out, c_out, 3, activation=None))
        self.shortcut = (conv_bn(c_in, c_out, 1, stride, activation=None)
                         if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        widths = [64, 128, 256, 512]
        layers, c = [], 64
        for i, w in enumerate(widths):
            layers += [BasicBlock(c, w, 1 if i == 0 else 2), BasicBlock(w, w, 1)]
            c = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1)
        return self.fc(torch.flatten(x, 1))


# ----------------------------------------------------------------- MobileNetV2
class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int,
                 activation: type[nn.Module]) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(conv_bn(c_in, hidden, 1, activation=activation))
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, activation=activation),
                   conv_bn(hidden, c_out, 1, activation=None)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 (ReLU6 as Clip); the last two stages use HardSwish, as
    MobileNetV3 does, so the export holds it too (and HardSigmoid in a gate)."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(3, 32, 3, 2, activation=nn.ReLU6)]
        c = 32
        for stage, (t, width, n, s) in enumerate(self.SETTINGS):
            activation = nn.Hardswish if stage >= 5 else nn.ReLU6
            for i in range(n):
                layers.append(InvertedResidual(c, width, s if i == 0 else 1, t, activation))
                c = width
        layers.append(conv_bn(c, 1280, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.gate = nn.Conv2d(1280, 1280, 1)
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(1280, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        pooled = F.adaptive_avg_pool2d(x, 1)
        x = pooled * F.hardsigmoid(self.gate(pooled))  # a MobileNetV3-style gate
        return self.classifier(self.dropout(x.view(x.size(0), -1)))


# ----------------------------------------------------------------- SqueezeNet 1.1
class Fire(nn.Module):
    def __init__(self, c_in: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(c_in, squeeze, 1)
        self.expand1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3 = nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1(s)), F.relu(self.expand3(s))], 1)


class SqueezeNet11(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64), Fire(128, 16, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 32, 128), Fire(256, 32, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(256, 48, 192), Fire(384, 48, 192), Fire(384, 64, 256), Fire(512, 64, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, CLASSES, 1), nn.ReLU(),
                                        nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


# ----------------------------------------------------------------- GoogLeNet
class _LRNFunction(torch.autograd.Function):
    """torch's local_response_norm, exported as the one ONNX LRN node (torch.onnx would
    otherwise spell it out with Pad, AveragePool, Pow and an If)."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor, size: int, alpha: float, beta: float,
                k: float) -> torch.Tensor:
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g: object, x: object, size: int, alpha: float, beta: float, k: float
                 ) -> object:
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta,  # type: ignore[attr-defined]
                    bias_f=k)


class LRN(nn.Module):
    """Local response normalisation across ``size`` channels (odd, so torch's window and
    ONNX's agree)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
                 ) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return _LRNFunction.apply(x, self.size, self.alpha, self.beta, self.k)
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)  # autograd


class Inception(nn.Module):
    def __init__(self, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int
                 ) -> None:
        super().__init__()
        self.b1 = conv_bn(c_in, c1, 1)
        self.b2 = nn.Sequential(conv_bn(c_in, c3r, 1), conv_bn(c3r, c3, 3))
        self.b3 = nn.Sequential(conv_bn(c_in, c5r, 1), conv_bn(c5r, c5, 3))  # torchvision: 3×3
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), conv_bn(c_in, pool, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class GoogLeNet(nn.Module):
    """torchvision's GoogLeNet without the auxiliary heads, with the paper's LRN after the
    first pooling and the third convolution (torchvision drops them)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, ceil_mode=True),
            LRN(5),
            conv_bn(64, 64, 1), conv_bn(64, 192, 3),
            LRN(5),
            nn.MaxPool2d(3, 2, ceil_mode=True))
        self.blocks = nn.Sequential(
            Inception(192, 64, 96, 128, 16, 32, 32), Inception(256, 128, 128, 192, 32, 96, 64),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Inception(480, 192, 96, 208, 16, 48, 64), Inception(512, 160, 112, 224, 24, 64, 64),
            Inception(512, 128, 128, 256, 24, 64, 64), Inception(512, 112, 144, 288, 32, 64, 64),
            Inception(528, 256, 160, 320, 32, 128, 128), nn.MaxPool2d(2, 2, ceil_mode=True),
            Inception(832, 256, 160, 320, 32, 128, 128), Inception(832, 384, 192, 384, 48, 128,
                                                                   128))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1)
        return self.fc(self.dropout(torch.flatten(x, 1)))


# ----------------------------------------------------------------- Keras-style VGG
class KerasVGG(nn.Module):
    """A VGG as Keras writes it: ``ZeroPadding2D`` + valid 3 × 3 convolutions in blocks,
    max pooling, a channels-last ``Flatten`` (the Transpose), two dense layers, and a
    ``UpSampling2D`` (nearest) plus a bilinear resize in the first blocks."""

    def __init__(self, size: int) -> None:
        super().__init__()
        widths = [(3, 32), (32, 64), (64, 128)]
        self.convs = nn.ModuleList(nn.ModuleList([nn.Conv2d(a, b, 3), nn.Conv2d(b, b, 3)])
                                   for a, b in widths)
        final = size // 8
        self.dense = nn.Linear(final * final * 128, 64)
        self.out = nn.Linear(64, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (first, second) in enumerate(self.convs):
            modes = ("constant", "reflect", "replicate")
            x = F.relu(first(F.pad(x, (1, 1, 1, 1), mode=modes[i])))
            x = F.relu(second(F.pad(x, (1, 1, 1, 1))))
            if i == 0:  # UpSampling2D then a bilinear resize back: both Resize modes
                x = F.interpolate(x, scale_factor=2, mode="nearest")
                x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
            x = F.max_pool2d(x, 2)
        x = x.permute(0, 2, 3, 1)  # channels last, as Keras's Flatten reads them
        x = x.reshape(x.size(0), -1)
        return torch.softmax(self.out(F.relu(self.dense(x))), dim=-1)


ARCHITECTURES: dict[str, Callable[[int], nn.Module]] = {
    "resnet18": lambda size: ResNet18(),
    "mobilenet_v2": lambda size: MobileNetV2(),
    "squeezenet1_1": lambda size: SqueezeNet11(),
    "googlenet": lambda size: GoogLeNet(),
    "keras_vgg": KerasVGG,
}


def randomise(model: nn.Module, seed: int, size: int) -> nn.Module:
    """Seeded weights; BatchNorm's statistics measured on a batch of seeded random
    pictures (``size`` × ``size``), as training leaves them, so that activations keep their
    scale through the depth instead of growing layer after layer; its scale and shift drawn
    around 1 and 0 (a fresh one would be an identity)."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.normal_(module.bias, std=0.1)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.normal_(module.bias, std=0.1)
            module.reset_running_stats()
            module.momentum = None  # a plain average over the calibration batch
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, size, size))
    return model.eval()


def export(name: str, size: int = 64, seed: int = SEED, dynamic_batch: bool = False
           ) -> bytes:
    """The ONNX bytes of architecture ``name`` at input ``(1, 3, size, size)``, or
    ``(batch, 3, size, size)`` with a symbolic batch size (the shape computations around
    Reshape then stay in the graph: they depend on it)."""
    model = randomise(ARCHITECTURES[name](size), seed, size)
    x = torch.zeros(1, 3, size, size)
    buffer = io.BytesIO()
    batch = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
    with torch.no_grad():
        torch.onnx.export(model, (x,), buffer, input_names=["input"], output_names=["logits"],
                          opset_version=OPSET, dynamo=False, do_constant_folding=True,
                          dynamic_axes=batch)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory for the .onnx files")
    parser.add_argument("--size", type=int, default=64, help="input height and width")
    parser.add_argument("--only", nargs="*", choices=sorted(ARCHITECTURES),
                        help="export only these")
    parser.add_argument("--dynamic-batch", action="store_true",
                        help="a symbolic batch size instead of 1")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or ARCHITECTURES:
        path = args.out / f"{name}.onnx"
        path.write_bytes(export(name, args.size, dynamic_batch=args.dynamic_batch))
        print(f"{path}: {path.stat().st_size:,} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
