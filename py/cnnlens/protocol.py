"""The page ↔ worker protocol: every request the page can make and every answer's shape.

The page (``assets/js/protocol.js``, which mirrors :data:`REQUESTS`; ``tests/test_protocol.py``
checks that the two agree) calls one function per request in the PyScript worker
(``py/worker.py``, which exports exactly :data:`REQUESTS`). Each request's arguments are
checked against its declared types here, then its handler answers: a method of
``page.App`` of the same name, or for the few that need no model, one in the worker.

Every answer is either the request's answer type below or an :class:`ErrorAnswer` (a
message for the reader; the page's state stays as it was). View-models travel as JSON text
(:data:`Json` fields) made only by :func:`encode`, which refuses inf and NaN: JavaScript's
``JSON.parse`` cannot read them, so a non-finite number becomes a clear error instead.
Numbers and pixels travel beside the JSON as byte buffers (``memoryview``; a ``Uint8Array``
in the page), which carry any float32 value.

Adding a request: one :class:`Request` here, one entry in ``REQUESTS`` in
``assets/js/protocol.js`` (with a JSDoc typedef for a new answer type), and the handler
method on ``page.App``. Long-running work is split into short requests (a method's
``*_start``, then the shared ``job_step`` and ``job_cancel``, see ``jobs``): the page
sends every request through one ordered queue, so nothing waits behind a request that
runs for long.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from .errors import CnnlensError

Json = Annotated[str, "JSON"]
"""JSON text made by :func:`encode`; the page parses it (``protocol.js`` lists these fields)."""


class ProtocolError(CnnlensError, ValueError):
    """A request the protocol does not define, or arguments of the wrong number or type."""


class NonFiniteError(CnnlensError, ValueError):
    """An answer holds inf or NaN, which JSON (and so the page) cannot carry."""


# --- answers ---


class ErrorAnswer(TypedDict):
    """Any request may answer this instead: a sentence for the reader; nothing changed."""

    error: str


class StartTimings(TypedDict):
    model_ms: float


class Started(TypedDict):
    """The bundled model is loaded. ``examples``: ``[{"file", "label"}, ...]``;
    ``catalogue``: the models the page offers (``assets/models/index.json``: ``[{"id",
    "name", "file", "examples", "untrained", "note"}, ...]``); ``model``: the loaded one's id."""

    examples: Json
    catalogue: Json
    model: str
    timings: StartTimings


class OverviewTimings(TypedDict):
    compute_ms: float
    view_ms: float


class OverviewAnswer(TypedDict):
    """The whole next overview (``views.overview``): its view-model and RGBA tiles, and
    ``backend``, what ran its forward pass (``backend_requests.label``: ``backend``
    ``"WebGPU"`` or ``"NumPy"``, ``forward_ms``, ``layers`` ``[{node, op, backend}]``,
    ``note``, ``choice``, ``available``, ``gpu``); outside the view, so the prerendered
    overview's bytes stay the same on any backend."""

    view: Json
    rasters: memoryview
    timings: OverviewTimings
    backend: Json


class ChannelsAnswer(TypedDict):
    """One overview column showing another page of its channels
    (``views.overview.column_page``): the column as the overview has it, its tiles'
    offsets into ``rasters``."""

    view: Json
    rasters: memoryview


class ModelOpened(OverviewAnswer):
    """A catalogue model is open: its overview (as :class:`OverviewAnswer`), its
    catalogue ``entry`` and the ``examples`` the strip now shows (the new model's own, or
    the previous ones when it has none: the current image is then resized for it)."""

    entry: Json
    examples: Json


class DetailAnswer(TypedDict):
    """One detail view (``views.detail``): view-model, float32 numbers, RGBA rasters
    (``views.bundle`` says where each named array or image lies in the buffers)."""

    view: Json
    numbers: memoryview
    rasters: memoryview


class AttributionAnswer(TypedDict):
    """Attribution maps of one target for the current image (``views.attribution``):
    view-model, float32 numbers, RGBA rasters, laid out as in a :class:`DetailAnswer`."""

    view: Json
    numbers: memoryview
    rasters: memoryview


class JobAnswer(TypedDict):
    """The running job's complete current state (``jobs``; the view's ``kind`` names the
    method: ``views.maximize``, …): view-model, float32 numbers, RGBA rasters, laid out as in
    a :class:`DetailAnswer`."""

    view: Json
    numbers: memoryview
    rasters: memoryview


class JobCancelled(TypedDict):
    """Whether a job was running when it was cancelled, and its last step."""

    cancelled: bool
    step: int


class ProbeAnswer(TypedDict):
    """The reader's own probe set as read (``views.dissect``): JSON ``{name, count,
    classes, labelled, skipped}``, ``skipped`` naming each file left out and why."""

    probe: Json


class PlaygroundAnswer(TypedDict):
    """The hyperparameter playground for one setting (``views.playground``)."""

    playground: Json


class FiguresAnswer(TypedDict):
    """The article's figures for the current image (``views.figures``): per figure its
    numbers, words and SVG."""

    figures: Json


class PreprocessingAnswer(TypedDict):
    """The preprocessing in use and where it comes from (``preprocess_settings.form_state``)."""

    preprocessing: Json


class ArchitectureAnswer(TypedDict):
    """The current model as a laid-out graph (``views.architecture``): nodes, edges, totals."""

    architecture: Json


class CodeAnswer(TypedDict):
    """The live code cells (``live_code.code_view``): per cell its function, the engine's
    source and the text in effect; what is modified; the edited kernels; the time budget."""

    code: Json


class CodeErrorAnswer(TypedDict):
    """An ``ErrorAnswer`` for the learner's code: the message, the cell and its line."""

    error: str
    cell: str
    line: int


class KernelAnswer(TypedDict):
    """One conv neuron's kernels ``(C, kH, kW)``, now and as loaded (``live_code.kernel_view``)."""

    kernel: Json


class TensorAnswer(TypedDict):
    """One tensor of the current forward pass: its shape and float32 values (automation)."""

    shape: Json
    values: memoryview


class LayerTiming(TypedDict):
    node: str
    op: str
    output: str
    ms: list[float]


class Memory(TypedDict):
    """Bytes of the WebAssembly memory Python and NumPy live in (it only grows)."""

    wasm_bytes: int


ForwardTimes = list[float]
"""Milliseconds of each forward pass (benchmarks)."""

LayerTimes = list[LayerTiming]
"""Per node, milliseconds in each forward pass (benchmarks)."""

BackwardTimes = list[float]
"""Milliseconds of each backward pass (benchmarks)."""


class BackendLayer(TypedDict):
    node: str
    op: str
    backend: str
    ms: list[float]


class BackendTimes(TypedDict):
    """Forward passes on one backend (benchmarks: ``bench/webgpu.html``): ``total_ms`` per
    whole pass, per node its backend and milliseconds in passes of one GPU call per node;
    ``backend`` what ran (``NumPy`` when no GPU is there, ``note`` says why)."""

    backend: str
    total_ms: list[float]
    layers: list[BackendLayer]
    note: str | None


class TensorsAnswer(TypedDict):
    """Every float tensor of one forward pass on one backend (tests): ``index`` JSON
    ``{tensors: [{name, shape, offset}], ran}`` (offsets in floats) and ``numbers``."""

    index: Json
    numbers: memoryview


# --- requests ---


@dataclass(frozen=True)
class Request:
    """One thing the page can ask: its name, its arguments in order, its answer type."""

    name: str
    arguments: Mapping[str, type]
    answer: Any  # an answer type above; None for no answer
    doc: str


REQUESTS: tuple[Request, ...] = (
    Request("load_packages", {}, None, "load NumPy into the worker (Pillow comes on demand)"),
    Request("start", {"base_url": str}, Started, "load the bundled model and the examples"),
    Request("example", {"file": str}, OverviewAnswer, "show one of the bundled examples"),
    Request("image", {"data": bytes, "name": str}, OverviewAnswer,
            "show an image the user picked, pasted or linked"),
    Request("model", {"data": bytes, "name": str}, OverviewAnswer,
            "run the current image through a model the user picked"),
    Request("model_tfjs", {"json_text": str, "shard_bytes": bytes, "name": str},
            OverviewAnswer, "run the current image through a TF.js layers model the user "
            "picked: model.json's text and its weight shards joined in manifest order"),
    Request("model_caffe", {"prototxt_text": str, "name": str}, OverviewAnswer,
            "run the current image through a Caffe network the user picked or pasted "
            "(its .prototxt text; weights untrained, as the gallery's)"),
    Request("open_model", {"id": str}, ModelOpened,
            "open a model of the site's catalogue by id: its first example, or the current "
            "image when it has none"),
    Request("mode", {"mode": str}, OverviewAnswer, "colour the overview by another range"),
    Request("backend", {"choice": str}, OverviewAnswer,
            "run the current image again on `auto`, `webgpu` or `numpy` (the switch)"),
    Request("preprocess", {"settings": str}, OverviewAnswer,
            "run the current image again with the reader's preprocessing: a JSON object of "
            "the form's text fields (size, mean, std, order, pixels), \"\" for the model's own"),
    Request("preprocessing", {}, PreprocessingAnswer,
            "the current model's preprocessing, for the page's form"),
    Request("channels", {"layer": str, "channel": int}, ChannelsAnswer,
            "an overview column showing the page of its channels that holds channel"),
    Request("detail", {"layer": str, "channel": int}, DetailAnswer,
            "the detail view of a tile or a class"),
    Request("attribution", {"layer": str, "channel": int, "method": str, "cam_layer": str},
            AttributionAnswer, "attribution maps of a tile or a class for the current image "
            "(one method or all; Grad-CAM's layer, empty for the default)"),
    Request("maximize_start", {"target": str, "settings": str, "seed": int, "steps": int},
            JobAnswer, "start activation maximisation (LAYER:CHANNEL, LAYER:CHANNEL:Y:X, "
            "class:NAME or LAYER:* for every channel; settings a JSON object) at step 0, "
            "replacing any running job"),
    Request("invert_start", {"layer": str, "mode": str, "settings": str, "seed": int,
                             "steps": int},
            JobAnswer, "start reconstructing the current image from a layer's activations "
            "(mode layer, perturb: plain, binarised and dropped out, or all: every layer; "
            "settings a JSON object) at step 0, replacing any running job"),
    Request("dissect_start", {"layer": str, "probe": str, "top": int}, JobAnswer,
            "start dissecting a layer over a probe set (\"\": the model's bundled one, "
            "\"own\": the reader's, see dissect_probe) with top images per channel; a "
            "dissection already made this session answers at once, done"),
    Request("dissect_probe", {"data": bytes, "files": str}, ProbeAnswer,
            "keep the reader's own probe set: a folder's files joined in data, files a JSON "
            "list of {name, size} (one .zip: a zip of images)"),
    Request("job_step", {"max_ms": float}, JobAnswer,
            "run the job (maximisation, inversion, …) for at most max_ms (0 to 100) "
            "milliseconds, then answer its state"),
    Request("job_cancel", {}, JobCancelled, "drop the running job"),
    Request("playground", {"n": int, "p": int, "k": int, "s": int}, PlaygroundAnswer,
            "the hyperparameter playground for one setting (needs no model)"),
    Request("figures", {}, FiguresAnswer,
            "the article's figures (ReLU, pooling, softmax, colour scales) for the current image"),
    Request("architecture", {}, ArchitectureAnswer,
            "the current model as a laid-out graph: per node its op, output shape, "
            "parameters and multiply-adds, and the model's totals"),
    Request("code", {}, CodeAnswer, "the live code cells: the engine's functions and the "
            "learner's text in effect"),
    Request("code_run", {"texts": str}, OverviewAnswer,
            "run the network with the cells' texts (a JSON object, cell → text); the "
            "learner's failing code answers CodeErrorAnswer"),
    Request("code_reset", {}, OverviewAnswer,
            "the engine's own functions and the model's own kernels again"),
    Request("kernel", {"layer": str, "channel": int}, KernelAnswer,
            "one conv neuron's kernels, now and as loaded"),
    Request("kernel_set", {"layer": str, "channel": int, "input_channel": int,
                           "values": str}, OverviewAnswer,
            "set one conv neuron's kH × kW kernel (JSON rows) on one input channel (-1: all)"),
    Request("tensor", {"name": str}, TensorAnswer,
            "one tensor of the current forward pass by name (automation, tests)"),
    Request("time_forward", {"repeats": int}, ForwardTimes,
            "time forward passes of the current input (benchmarks)"),
    Request("time_layers", {"repeats": int}, LayerTimes,
            "time each node over forward passes of the current input (benchmarks)"),
    Request("time_backward", {"repeats": int}, BackwardTimes,
            "time backward passes of the top class down to the input (benchmarks)"),
    Request("time_backend", {"backend": str, "repeats": int}, BackendTimes,
            "time whole and per-node forward passes on one backend (benchmarks)"),
    Request("tensors", {"backend": str}, TensorsAnswer,
            "every tensor of one forward pass on one backend (tests)"),
    Request("memory", {}, Memory, "the size of the worker's WebAssembly memory (benchmarks)"),
)

BY_NAME: dict[str, Request] = {request.name: request for request in REQUESTS}


def _check(request: str, name: str, kind: type, value: Any) -> Any:
    """``value`` as an argument of type ``kind``, or a ProtocolError saying what is wrong."""
    # A JavaScript number arrives as int when it is whole and as float otherwise.
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    # bool is an int in Python, but true is no channel number.
    fits = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if fits and kind is float and not math.isfinite(value):
        raise ProtocolError(f"the {name} of {request} must be a finite number, not {value}")
    if fits:
        return value
    expected = {int: "a whole number", float: "a number", str: "text", bytes: "bytes",
                bool: "true or false"}.get(kind, kind.__name__)
    raise ProtocolError(f"the {name} of {request} must be {expected}, not {value!r}")


def check_arguments(name: str, values: Sequence[Any]) -> list[Any]:
    """The arguments of request ``name`` after checking their number and types."""
    request = BY_NAME.get(name)
    if request is None:
        raise ProtocolError(f"there is no request called {name!r}")
    if len(values) != len(request.arguments):
        listing = ", ".join(request.arguments) or "nothing"
        raise ProtocolError(f"{name} takes {len(request.arguments)} argument(s) ({listing}), "
                            f"not {len(values)}")
    return [_check(name, arg, kind, value)
            for (arg, kind), value in zip(request.arguments.items(), values, strict=True)]


# --- encoding ---


def _non_finite_at(obj: Any, path: str) -> str | None:
    """Where in ``obj`` the first inf or NaN is (``.classes[3].exp``), else None."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else path
    if isinstance(obj, Mapping):
        items = ((f"{path}.{key}", value) for key, value in obj.items())
    elif isinstance(obj, list | tuple):
        items = ((f"{path}[{i}]", value) for i, value in enumerate(obj))
    else:
        return None
    for at, value in items:
        found = _non_finite_at(value, at)
        if found is not None:
            return found
    return None


def encode(obj: Any, what: str) -> Json:
    """``obj`` as JSON text for the page; every JSON field of an answer is made here.

    ``what`` names the answer for the message (``"the overview"``). Raises
    :class:`NonFiniteError` when ``obj`` holds inf or NaN: Python would write ``Infinity``,
    which is not JSON, and the page could not parse the answer.
    """
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError as error:
        at = _non_finite_at(obj, "")
        where = f" (at {at.lstrip('.')})" if at else ""
        raise NonFiniteError(f"{what} produced a non-finite number (inf or NaN){where}, "
                             "which the page cannot show") from error


def error_answer(error: CnnlensError | str) -> ErrorAnswer:
    """The answer for one of our documented errors (or a message)."""
    return {"error": str(error)}
