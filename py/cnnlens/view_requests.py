"""The page's requests that read the current session and change nothing (`page.App` hands
them its session): a column's channels, the preprocessing form, a detail view, attribution
maps, the article's figures, the architecture graph, the live-code cells and a kernel, one
tensor. Each answers its view or an `ErrorAnswer`; the worker's state stays as it was.
"""

from __future__ import annotations

from . import live_code
from .errors import CnnlensError
from .loader import LoadedModel
from .preprocess import input_preview
from .protocol import (
    ArchitectureAnswer,
    AttributionAnswer,
    ChannelsAnswer,
    CodeAnswer,
    DetailAnswer,
    ErrorAnswer,
    FiguresAnswer,
    KernelAnswer,
    PreprocessingAnswer,
    TensorAnswer,
    encode,
    error_answer,
)
from .session import Session
from .views.overview import column_page


def channels(session: Session | None, layer: str, channel: int) -> ChannelsAnswer | ErrorAnswer:
    """An overview column showing the page of its channels that holds `channel`."""
    if session is None:
        return error_answer("there is no image yet")
    try:
        column, rasters = column_page(session.loaded.model, session.result, session.mode,
                                      layer, channel)
        text = encode(column, f"the channels of {layer}")
    except CnnlensError as error:
        return error_answer(error)
    return {"view": text, "rasters": memoryview(rasters)}


def preprocessing(session: Session | None) -> PreprocessingAnswer | ErrorAnswer:
    if session is None:
        return error_answer("there is no model on screen yet")
    return {"preprocessing": encode(session.preprocessing(), "the preprocessing")}


def detail(session: Session | None, layer: str, channel: int) -> DetailAnswer | ErrorAnswer:
    """The detail view of a tile or class: JSON plus a float32 and an RGBA buffer."""
    if session is None:
        return error_answer("there is no image yet")
    try:
        view, numbers, rasters = session.detail(layer, channel)
        text = encode(view, f"the detail view of {layer} (channel {channel})")
    except CnnlensError as error:
        return error_answer(error)
    return {"view": text, "numbers": memoryview(numbers), "rasters": memoryview(rasters)}


def attribution(session: Session | None, layer: str, channel: int, method: str,
                cam_layer: str) -> AttributionAnswer | ErrorAnswer:
    """Attribution maps of a tile or class for the current image (`views.attribution`):
    `method` one name or "all", `cam_layer` Grad-CAM's layer ("" for the default)."""
    from .views.attribution import attribution_view

    if session is None:
        return error_answer("there is no image yet")
    try:
        preview = input_preview(session.x, session.loaded.card.preprocessing)
        view, numbers, rasters = attribution_view(
            session.loaded.model, session.gradient_result, preview,
            list(session.classes), layer, channel, method, cam_layer)
        text = encode(view, f"the attribution of {layer} (channel {channel})")
    except CnnlensError as error:
        return error_answer(error)
    return {"view": text, "numbers": memoryview(numbers), "rasters": memoryview(rasters)}


def figures(session: Session | None) -> FiguresAnswer | ErrorAnswer:
    """The article's figures for the current image (`views.figures`): the engine's
    numbers of the forward pass already made, drawn as the static fallbacks are."""
    from .views.figures import figures as made_figures

    if session is None:
        return error_answer("there is no image yet")
    try:
        made = made_figures(session.loaded.model, session.result, list(session.classes),
                            session.image_name)
        text = encode(made, "the article's figures")
    except CnnlensError as error:
        return error_answer(error)
    return {"figures": text}


def architecture(loaded: LoadedModel | None, session: Session | None
                 ) -> ArchitectureAnswer | ErrorAnswer:
    """The current model as a laid-out graph at its input size (`views.architecture`):
    shapes from the ops' shape rules, nothing run."""
    from .views.architecture import architecture as laid_out

    if loaded is None:
        return error_answer("no model is loaded yet")
    try:
        shape = None if session is None else tuple(session.x.shape)
        text = encode(laid_out(loaded.model, shape), "the architecture view")
    except CnnlensError as error:
        return error_answer(error)
    return {"architecture": text}


def code(session: Session | None) -> CodeAnswer | ErrorAnswer:
    """The live-code cells and what is modified (`live_code.code_view`)."""
    try:
        return {"code": encode(live_code.code_view(session), "the code cells")}
    except CnnlensError as error:
        return error_answer(error)


def kernel(session: Session | None, layer: str, channel: int) -> KernelAnswer | ErrorAnswer:
    """A conv neuron's kernels now and as loaded (`live_code.kernel_view`)."""
    if session is None:
        return error_answer("there is no image yet")
    try:
        view = live_code.kernel_view(session, layer, channel)
        return {"kernel": encode(view, f"the kernel of {layer} #{channel}")}
    except CnnlensError as error:
        return error_answer(error)


def tensor(session: Session | None, name: str) -> TensorAnswer | ErrorAnswer:
    """One tensor of the current forward pass (automation, tests)."""
    tensors = {} if session is None else session.result.tensors
    if name not in tensors:
        return error_answer(f"there is no tensor called {name!r}")
    array = tensors[name]
    return {"shape": encode(list(array.shape), "a shape"),
            "values": memoryview(array.astype("float32").reshape(-1))}
