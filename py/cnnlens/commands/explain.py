"""`attribute` (an attribution map of a class or neuron for an image), `maximize` (the
input that maximises a target) and `invert` (an input reconstructed from one layer's
activations): the methods of `cnnlens.methods`, written as `.npy`."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any, TextIO

import numpy as np

from ..forward import run
from ..methods import inversion
from ..methods.attribution import CAM_METHODS, METHODS, OUTPUTS, attribute
from ..methods.maximize import SUGGESTED, Maximizer, Settings
from ..methods.targets import Target, class_named, parse_neuron, parse_target, predicted_class
from ..model_card import class_names
from .common import EXIT_OK, CliError, about, forward, load, non_negative, trace_shape

ATTRIBUTE_HELP = """\
Writes one attribution map of the target for the image to --out (.npy, float32). The
target is a class's logit (before softmax), one channel's mean activation (LAYER:CHANNEL)
or one neuron (LAYER:CHANNEL:Y:X); by default the predicted class. Gradients are taken
with respect to the preprocessed model input, shaped (N, C, H, W) with N = 1. What each
method writes:

""" + "\n".join(textwrap.fill(f"{name}: {text}.", 88, initial_indent="  ",
                               subsequent_indent="    ") for name, text in OUTPUTS.items())

MAXIMIZE_HELP = """\
Synthesises the preprocessed input (1, C, H, W) that maximises a target by gradient
ascent (Adam) from seeded noise, writes it to --out (.npy, float32) and prints
{"target", "steps", "start", "end"}: the target's value (a channel's mean activation, a
neuron's value or a class's logit) on the starting noise and on the result. The same
settings and seed give the same array."""

INVERT_HELP = """\
Reconstructs the image from one layer's activations (Mahendran and Vedaldi: Adam descent
from seeded noise on ||A(x0) - A(x)||² / ||A(x)||² plus a total-variation and an alpha-norm
prior), writes the reconstructed preprocessed input (1, C, H, W) to --out (.npy, float32)
and prints {"layer", "activation_error": ||A(x0) - A(x)|| / ||A(x)||, "input_error":
||x0 - x|| / ||x||}, x the image, x0 the reconstruction. The page's "What it keeps" tab
runs the same code; the same settings and seed give the same array."""


def write_npy(path: str, array: np.ndarray) -> None:
    """Writes `array` to exactly `path` as `.npy` (`np.save` would append ".npy")."""
    try:
        with open(path, "wb") as file:
            np.lib.format.write_array(file, np.ascontiguousarray(array), allow_pickle=False)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------- attribute


def cmd_attribute(args: argparse.Namespace, out: TextIO) -> int:
    if args.layer is not None and args.method not in CAM_METHODS:
        raise CliError(f"--layer applies only to {' and '.join(CAM_METHODS)}, not to "
                       f"{args.method}")
    loaded = load(args.model)
    _, result = forward(loaded, args.image)
    classes = class_names(loaded.card, result.probabilities.shape[-1])
    target: Target
    if args.class_name is not None:
        target = class_named(result, classes, args.class_name)
    elif args.neuron is not None:
        target = parse_neuron(loaded.model, result, args.neuron)
    else:
        target = predicted_class(result)
    values = attribute(loaded.model, result, args.method, target, args.layer)
    write_npy(args.out, values.astype(np.float32))
    print(f"wrote {args.method} of {target.label(classes)}, shape "
          f"({', '.join(map(str, values.shape))}), to {args.out}", file=out)
    return EXIT_OK


def _add_attribute(commands: Any) -> None:
    command = commands.add_parser(
        "attribute", help="saliency, guided backprop, Grad-CAM, ... of a class or neuron",
        description=ATTRIBUTE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    command.add_argument("model", metavar="MODEL", help="an .onnx file")
    command.add_argument("image", metavar="IMAGE", help="an image file")
    command.add_argument("--method", required=True, choices=METHODS, metavar="METHOD",
                         help=f"one of {', '.join(METHODS)}")
    which = command.add_mutually_exclusive_group()
    which.add_argument("--class", dest="class_name", metavar="NAME",
                       help="a class name (or its number), default: the predicted class")
    which.add_argument("--neuron", metavar="LAYER:CHANNEL[:Y:X]",
                       help="a channel's mean, or with Y:X one neuron, of a layer")
    command.add_argument("--layer", metavar="CONV_LAYER",
                         help="Grad-CAM's convolutional layer (default: the last one)")
    command.add_argument("--out", metavar="FILE.npy", required=True, help="the .npy to write")
    command.set_defaults(handler=cmd_attribute)


# ---------------------------------------------------------------- maximize


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(step_size=args.step_size, l2_decay=args.l2, jitter=args.jitter,
                    blur_every=args.blur_every, blur_sigma=args.blur_sigma,
                    clip=not args.no_clip, noise=args.noise)


def cmd_maximize(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_from(args)  # bad numbers are refused before the model is read
    loaded = load(args.model)
    with about(loaded.name):
        # Any input gives the layers' shapes, which is all a target is checked against.
        result = run(loaded.model, np.zeros(trace_shape(loaded), np.float32))
        classes = class_names(loaded.card, result.probabilities.shape[-1])
    target = parse_target(loaded.model, result, classes, args.target)
    with about(loaded.name):
        climber = Maximizer(loaded, target, settings, args.seed)
        climber.step(args.steps)
    write_npy(args.out, climber.image)
    start, end = climber.values[[0, -1], 0]
    print(json.dumps({"target": target.label(classes), "steps": climber.steps,
                      "start": float(start), "end": float(end)}), file=out)
    return EXIT_OK


def _add_maximize(commands: Any) -> None:
    defaults = Settings()
    command = commands.add_parser(
        "maximize", help="the input that maximises a channel or class (activation maximisation)",
        description=MAXIMIZE_HELP)
    command.add_argument("model", metavar="MODEL", help="an .onnx file")
    command.add_argument("--target", required=True, metavar="LAYER:CHANNEL | class:NAME",
                         help="a channel's mean activation (LAYER:CHANNEL), one neuron "
                              "(LAYER:CHANNEL:Y:X) or a class's logit (class:NAME)")
    command.add_argument("--steps", type=non_negative, default=100, metavar="N",
                         help="gradient steps (default: 100)")
    command.add_argument("--seed", type=int, default=0, metavar="S",
                         help="seeds the starting noise and the jitter (default: 0)")
    command.add_argument("--step-size", type=float, default=defaults.step_size, metavar="F",
                         help="Adam step, in preprocessed input units "
                              f"(default: {defaults.step_size})")
    command.add_argument("--l2", type=float, nargs="?", const=SUGGESTED["l2_decay"],
                         default=defaults.l2_decay, metavar="DECAY",
                         help="shrink the input towards the mean colour by this fraction "
                              f"per step (bare: {SUGGESTED['l2_decay']}; default: off)")
    command.add_argument("--jitter", type=int, nargs="?", const=SUGGESTED["jitter"],
                         default=defaults.jitter, metavar="PX",
                         help="shift the input randomly by up to PX pixels before each "
                              f"gradient (bare: {SUGGESTED['jitter']}; default: off)")
    command.add_argument("--blur-every", type=int, nargs="?", const=SUGGESTED["blur_every"],
                         default=defaults.blur_every, metavar="N",
                         help="blur the input every N steps (bare: "
                              f"{SUGGESTED['blur_every']}; default: off)")
    command.add_argument("--blur-sigma", type=float, default=defaults.blur_sigma,
                         metavar="PX", help=f"the blur's sigma (default: {defaults.blur_sigma})")
    command.add_argument("--no-clip", action="store_true",
                         help="do not clip the input to what preprocessing makes from pixels "
                              "0 to 255 (clipped by default)")
    command.add_argument("--noise", type=float, default=defaults.noise, metavar="F",
                         help="starting noise's standard deviation, as a fraction of the "
                              f"input range (default: {defaults.noise})")
    command.add_argument("--out", metavar="FILE.npy", required=True, help="the .npy to write")
    command.set_defaults(handler=cmd_maximize)


# ---------------------------------------------------------------- invert


def cmd_invert(args: argparse.Namespace, out: TextIO) -> int:
    settings = inversion.Settings(  # bad numbers are refused before the model is read
        step_size=args.step_size, tv_weight=args.tv, tv_beta=args.beta,
        norm_weight=args.norm, alpha=args.alpha, clip=not args.no_clip, noise=args.noise)
    loaded = load(args.model)
    x, _ = forward(loaded, args.image)
    with about(loaded.name):
        inverter, original = inversion.invert(loaded, x, args.layer, args.steps, settings,
                                              args.seed)
    write_npy(args.out, inverter.image)
    print(json.dumps({
        "layer": args.layer,
        "activation_error": inversion.relative_error(inverter.activation,
                                                     original.tensors[args.layer]),
        "input_error": inversion.relative_error(inverter.image, x)}), file=out)
    return EXIT_OK


def _add_invert(commands: Any) -> None:
    defaults = inversion.Settings()
    command = commands.add_parser(
        "invert", help="the image reconstructed from one layer's activations (inversion)",
        description=INVERT_HELP)
    command.add_argument("model", metavar="MODEL", help="an .onnx file")
    command.add_argument("image", metavar="IMAGE", help="an image file")
    command.add_argument("--layer", required=True, metavar="L",
                         help="the layer (a node's output) whose activations to invert")
    command.add_argument("--steps", type=non_negative, default=200, metavar="N",
                         help="gradient steps (default: 200)")
    command.add_argument("--seed", type=non_negative, default=0, metavar="S",
                         help="seeds the starting noise (default: 0)")
    for flag, field, what in (
            ("--step-size", "step_size", "Adam step, in preprocessed input units"),
            ("--tv", "tv_weight", "weight of the total-variation prior"),
            ("--beta", "tv_beta", "the total-variation exponent β"),
            ("--norm", "norm_weight", "weight of the alpha-norm (range) prior"),
            ("--alpha", "alpha", "the alpha-norm exponent alpha"),
            ("--noise", "noise", "starting noise's standard deviation, as a fraction of "
                                 "the input range")):
        default = getattr(defaults, field)
        command.add_argument(flag, type=float, default=default, metavar="F",
                             help=f"{what} (default: {default})")
    command.add_argument("--no-clip", action="store_true",
                         help="do not clip the input to what preprocessing makes from pixels "
                              "0 to 255 (clipped by default)")
    command.add_argument("--out", metavar="FILE.npy", required=True, help="the .npy to write")
    command.set_defaults(handler=cmd_invert)


def add_parsers(commands: Any) -> None:
    _add_attribute(commands)
    _add_maximize(commands)
    _add_invert(commands)
