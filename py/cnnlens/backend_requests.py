"""The page's requests about the backend (`page.App` hands them the current session and its
`engine.Engine`): the switch that forces one (`backend`), what the label shows, and the two
automation requests, timing a forward pass per layer on a given backend (`time_backend`,
what `bench/webgpu.html` asks) and every tensor of one pass on a given backend (`tensors`,
what tests/e2e/test_webgpu.py compares).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from .decode import Picture
from .edits import NO_EDITS, Edits
from .engine import Engine, Ran, parse_choice
from .errors import CnnlensError
from .loader import LoadedModel
from .model_card import Preprocessing
from .preprocess import picture_input
from .protocol import BackendTimes, ErrorAnswer, TensorsAnswer, encode, error_answer
from .session import Session, with_reader_preprocessing
from .views.overview import RangeMode


def label(ran: Ran | None, engine: Engine) -> dict[str, Any]:
    """What the page's backend label shows: the pass's backend, time, layers and note, and
    whether a GPU is there to switch to."""
    shown = {"backend": "NumPy", "choice": engine.choice, "forward_ms": None, "note": None,
             "gpu": None, "first": False, "layers": []} if ran is None else ran.as_json()
    return {**shown, "available": engine.gpu is not None}


async def start_on(engine: Engine, loaded: LoadedModel, image: Picture, image_name: str,
                   mode: RangeMode = "layer", edits: Edits = NO_EDITS) -> Session:
    """`Session.start` with the forward pass on the engine's backend (awaited: WebGPU's
    readback is asynchronous). A learner's edited functions run on NumPy, as written."""
    x = picture_input(image, loaded.card.preprocessing)
    result, ran = await engine.forward(loaded.model, x, edits=edits)
    return replace(Session.made(loaded, image, image_name, x, result, mode, ran), edits=edits)


# The session's own changes (`Session.with_image`, …), with the pass on the engine.

async def with_image(engine: Engine, session: Session, image: Picture, name: str) -> Session:
    return await start_on(engine, session.loaded, image, name, session.mode, session.edits)


async def with_model(engine: Engine, session: Session, loaded: LoadedModel) -> Session:
    return await start_on(engine, loaded, session.image, session.image_name, session.mode,
                          session.edits.for_model())


async def with_preprocessing(engine: Engine, session: Session, prep: Preprocessing | None
                             ) -> Session:
    return await start_on(engine, with_reader_preprocessing(session.loaded, prep),
                          session.image, session.image_name, session.mode, session.edits)


async def rerun(engine: Engine, session: Session) -> Session:
    """The same picture through the same model again, on the engine's current choice."""
    return await start_on(engine, session.loaded, session.image, session.image_name,
                          session.mode, session.edits)


async def time_backend(engine: Engine, session: Session | None, backend: str, repeats: int
                       ) -> BackendTimes | ErrorAnswer:
    """Milliseconds of ``repeats`` whole forward passes of the session's input on
    ``backend`` (WebGPU: one call per segment, fused where the views' tensors are not
    needed), and per node, of passes with one GPU call per node."""
    if session is None:
        return error_answer("there is no model and image yet")
    if repeats < 1:
        return error_answer(f"time at least one pass, not {repeats}")
    try:
        choice = parse_choice(backend)
    except CnnlensError as error:
        return error_answer(error)
    model, x = session.loaded.model, session.x
    totals: list[float] = []
    layers: dict[str, list[float]] = {}
    for _ in range(repeats):
        start = time.perf_counter()
        _result, ran = await engine.forward(model, x, choice=choice, fuse=True)
        totals.append((time.perf_counter() - start) * 1000.0)
        clock: dict[str, float] = {}
        await engine.forward(model, x, choice=choice, split=True, clock=clock)
        for name, ms in clock.items():
            layers.setdefault(name, []).append(ms)
    return {"backend": ran.backend, "total_ms": totals,
            "layers": [{"node": node, "op": op, "backend": where, "ms": layers[node]}
                       for node, op, where in ran.layers],
            "note": ran.note}


async def tensors(engine: Engine, session: Session | None, backend: str
                  ) -> TensorsAnswer | ErrorAnswer:
    """Every tensor of one forward pass of the session's input on ``backend``: an index
    ``[{name, shape, offset}]`` (offsets in floats) and the values, float32, end to end."""
    if session is None:
        return error_answer("there is no model and image yet")
    try:
        choice = parse_choice(backend)
    except CnnlensError as error:
        return error_answer(error)
    result, ran = await engine.forward(session.loaded.model, session.x, choice=choice)
    floats = {name: a for name, a in result.tensors.items() if a.dtype == np.float32}
    index, offset = [], 0
    for name, array in floats.items():
        index.append({"name": name, "shape": list(array.shape), "offset": offset})
        offset += array.size
    numbers = (np.concatenate([a.reshape(-1) for a in floats.values()]) if floats
               else np.zeros(0, np.float32))
    return {"index": encode({"tensors": index, "ran": ran.as_json()}, "the tensor index"),
            "numbers": memoryview(numbers)}
