"""The page's Python side: it runs in a Web Worker and answers the page's requests.

The page (assets/js/app.js) asks; this module owns the model, the current image and what
the overview shows, and answers every request with the complete next view (JSON plus one
raster buffer) or with an error message while the previous state stays. No call reaches
back into the page, so no cross-origin isolation (SharedArrayBuffer) is needed: static
hosts cannot send those headers.

Each public method is the handler of the request of the same name in `protocol.REQUESTS`
and returns that request's answer type or an `ErrorAnswer`; JSON text comes only from
`protocol.encode`. `App` holds the state and makes every change of the session here (model,
image, colouring, backend, preprocessing, live-code edits); the other requests are one line
each, handing the state they need to the module of their family: `view_requests` (what
the session shows), `job_requests` (the methods' long-running jobs), `backend_requests`,
`live_code` and `profile`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import backend_requests, job_requests, live_code, profile, view_requests
from .engine import Engine
from .errors import CnnlensError
from .examples import ExamplePacks
from .jobs import JobSlot
from .loader import LoadedModel, load_model
from .preprocess_settings import parse_settings
from .protocol import (
    ArchitectureAnswer,
    AttributionAnswer,
    BackendTimes,
    BackwardTimes,
    ChannelsAnswer,
    CodeAnswer,
    CodeErrorAnswer,
    DetailAnswer,
    ErrorAnswer,
    FiguresAnswer,
    ForwardTimes,
    JobAnswer,
    JobCancelled,
    KernelAnswer,
    LayerTimes,
    ModelOpened,
    OverviewAnswer,
    PlaygroundAnswer,
    PreprocessingAnswer,
    ProbeAnswer,
    Started,
    TensorAnswer,
    TensorsAnswer,
    encode,
    error_answer,
)
from .session import Session

if TYPE_CHECKING:
    from .decode import Picture
    from .views.dissect import DissectionCache, ProbeShelf

CATALOGUE_PATH = "assets/models/index.json"
"""The models the page offers: ``[{"id", "name", "file", "examples", "untrained", "note"}]``,
paths relative to the site; ``examples`` a folder holding ``index.json`` (or null: the model
runs on the current image, resized by its preprocessing); the first entry is the bundled
model the page starts with."""
MODEL_PATH = "assets/models/tinyvgg-fashion-mnist.onnx"
EXAMPLES_PATH = "assets/images/fashion-mnist/"
"""The bundled model and its examples (the catalogue's first entry; tests/test_page_models.py
checks they agree) for what is made before any page runs (build/article_figures.py)."""

Fetch = Callable[[str], Any]  # async: URL → bytes


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class App:
    """Holds the loaded model and the current `Session`; swaps in only complete new ones."""

    def __init__(self, fetch: Fetch, base_url: str) -> None:
        self.fetch = fetch
        self.base_url = base_url
        self.loaded: LoadedModel | None = None
        self.session: Session | None = None
        self.examples: list[dict[str, Any]] = []
        self.examples_path = ""  # the folder of `examples`, relative to the site
        self.catalogue: list[dict[str, Any]] = []
        self.model_id: str | None = None  # the catalogue id of `loaded`; None: the user's own
        self.jobs = JobSlot()  # the long-running work under way (maximisation, inversion, …)
        self.engine = Engine()  # NumPy until the worker gives it the GPU (webgpu.open_engine)
        self.packs = ExamplePacks(fetch)  # the examples' decoded pixels: no Pillow for them

    # Dissection's modules (probe sets, zip reading, hashing) are imported on its first
    # request, not while the page boots.
    @cached_property
    def probes(self) -> ProbeShelf:
        """What dissections run over."""
        from .views.dissect import ProbeShelf

        return ProbeShelf()

    @cached_property
    def dissections(self) -> DissectionCache:
        """Finished dissections, kept for the session."""
        from .views.dissect import DissectionCache

        return DissectionCache()

    async def start(self) -> Started | ErrorAnswer:
        """Loads the catalogue, its first model (the bundled one) and that model's example
        index (no image yet)."""
        start = time.perf_counter()
        try:
            self.catalogue = json.loads(await self.fetch(self.base_url + CATALOGUE_PATH))
        except CnnlensError as error:
            return error_answer(f"the model catalogue could not be loaded: {error}")
        bundled = self.catalogue[0]
        name = bundled["file"].rsplit("/", 1)[-1]
        try:
            self.loaded = load_model(await self.fetch(self.base_url + bundled["file"]), name)
            self.examples_path = bundled["examples"]
            self.examples = json.loads(
                await self.fetch(self.base_url + self.examples_path + "index.json"))
            examples = encode(self.examples, "the example index")
            catalogue = encode(self.catalogue, "the model catalogue")
        except CnnlensError as error:
            return error_answer(f"the model {name} could not be loaded: {error}")
        self.model_id = bundled["id"]
        return {"examples": examples, "catalogue": catalogue, "model": bundled["id"],
                "timings": {"model_ms": _ms_since(start)}}

    async def _replace_on(self, start: Callable[[], Awaitable[Session]]
                          ) -> OverviewAnswer | ErrorAnswer:
        """`_replace` for a session whose forward pass runs on the engine (awaited)."""
        begin = time.perf_counter()
        try:
            session = await start()
        except CnnlensError as error:
            return error_answer(error)
        return self._replace(lambda: session, _ms_since(begin))

    def _replace(self, make: Callable[[], Session], spent_ms: float = 0.0
                 ) -> OverviewAnswer | ErrorAnswer:
        """The next session and its view, or our documented error (the old session stays,
        also when the new overview cannot be encoded)."""
        start = time.perf_counter()
        try:
            session = make()
            compute_ms = spent_ms + _ms_since(start)
            start = time.perf_counter()
            view, rasters = session.overview()
            text = encode(view, "the overview")
            backend = encode(backend_requests.label(session.ran, self.engine), "the backend")
        except CnnlensError as error:
            return error_answer(error)
        if self.session is None or session.x is not self.session.x:
            self.jobs.end()  # a new image or model ends the running job; a colour range not
        self.session = session
        return {
            "view": text,
            "rasters": memoryview(rasters),
            "timings": {"compute_ms": compute_ms, "view_ms": _ms_since(start)},
            "backend": backend,
        }

    async def _with_image(self, data: Picture, name: str) -> Session:
        if self.session is not None:
            return await backend_requests.with_image(self.engine, self.session, data, name)
        if self.loaded is None:
            raise CnnlensError("no model is loaded yet")
        return await backend_requests.start_on(self.engine, self.loaded, data, name)

    async def image(self, data: bytes, name: str) -> OverviewAnswer | ErrorAnswer:
        return await self._replace_on(lambda: self._with_image(data, name))

    async def example(self, file: str) -> OverviewAnswer | ErrorAnswer:
        if file not in {e["file"] for e in self.examples}:
            return error_answer(f"there is no example called {file!r}")
        try:
            picture = await self.packs.picture(self.base_url + self.examples_path, file)
        except CnnlensError as error:
            return error_answer(error)
        return await self._replace_on(lambda: self._with_image(picture, file))

    async def model(self, data: bytes, name: str) -> OverviewAnswer | ErrorAnswer:
        """Opens a model the user picked and runs the current image through it.

        Any documented error (unreadable bytes, an unusable graph, over the memory budget,
        an image it cannot take) is answered as `{error}` and the previous model, image and
        view all stay: `self.loaded` changes only once the new session is complete.
        """
        try:
            loaded = load_model(data, name)
        except CnnlensError as error:
            return error_answer(f"the model {name} could not be opened: {error}")
        session = self.session
        if session is None:
            return error_answer("there is no image yet to run the model on")
        answer = await self._replace_on(
            lambda: backend_requests.with_model(self.engine, session, loaded))
        if "error" in answer:
            return error_answer(f"the model {name} could not run: {answer['error']}")
        self.loaded = loaded
        self.model_id = None
        return answer

    async def open_model(self, id: str) -> ModelOpened | ErrorAnswer:
        """Opens the catalogue model ``id`` on its first example, or, when it has none, on
        the current image (resized by its preprocessing; the example strip stays). Gallery
        nets run with seeded He-initialised weights (`untrained`); one over the weight
        budget is refused. Any error leaves model, image, examples and view as they were."""
        entry = next((e for e in self.catalogue if e["id"] == id), None)
        if entry is None:
            known = ", ".join(e["id"] for e in self.catalogue)
            return error_answer(f"there is no model called {id!r} in this site's catalogue "
                                f"(it has {known})")
        name = entry["file"].rsplit("/", 1)[-1]
        folder, examples = self.examples_path, self.examples
        try:
            loaded = load_model(await self.fetch(self.base_url + entry["file"]), name)
            if entry["examples"]:
                folder = entry["examples"]
                examples = json.loads(await self.fetch(self.base_url + folder + "index.json"))
                first = examples[0]["file"]
                data = await self.packs.picture(self.base_url + folder, first)
            encoded = encode(examples, "the example index"), encode(entry, "the model entry")
        except CnnlensError as error:
            return error_answer(f"the model {entry['name']} could not be opened: {error}")
        session = self.session
        mode = "layer" if session is None else session.mode
        if entry["examples"]:
            answer = await self._replace_on(
                lambda: backend_requests.start_on(self.engine, loaded, data, first, mode))
        elif session is not None:
            answer = await self._replace_on(
                lambda: backend_requests.with_model(self.engine, session, loaded))
        else:
            return error_answer("there is no image yet to run the model on")
        if "error" in answer:
            return error_answer(f"the model {entry['name']} could not run: {answer['error']}")
        self.loaded, self.model_id = loaded, id
        self.examples_path, self.examples = folder, examples
        return {**answer, "examples": encoded[0], "entry": encoded[1]}

    async def model_tfjs(self, json_text: str, shard_bytes: bytes, name: str
                         ) -> OverviewAnswer | ErrorAnswer:
        """Opens a TF.js layers model (model.json's text, its shards joined in the order of
        `tfjs.shard_paths`) by converting it to ONNX, then as `model` does."""
        try:
            from .tfjs import convert  # TF.js's reader only when a TF.js model is given

            data = convert(json_text, shard_bytes)
        except CnnlensError as error:
            return error_answer(f"the model {name} could not be opened: {error}")
        return await self.model(data, name)

    async def model_caffe(self, prototxt_text: str, name: str) -> OverviewAnswer | ErrorAnswer:
        """Opens a Caffe network definition (a .prototxt picked, dropped or pasted): the
        loader translates it (`cnnlens.caffe`) and it runs with seeded He-initialised
        weights, untrained; bad text is answered with its line, the previous model kept."""
        if not prototxt_text.strip():
            return error_answer("the pasted text is empty: paste a Caffe .prototxt")
        suffix = "" if name.lower().endswith((".prototxt", ".pbtxt")) else ".prototxt"
        return await self.model(prototxt_text.encode("utf-8"), name + suffix)

    def mode(self, mode: str) -> OverviewAnswer | ErrorAnswer:
        if self.session is None:
            return error_answer("there is no image to colour yet")
        session = self.session
        return self._replace(lambda: session.with_mode(mode))

    async def backend(self, choice: str) -> OverviewAnswer | ErrorAnswer:
        """The current image again, on the backend the reader chose (`auto`, `webgpu`,
        `numpy`); it stays chosen for what comes next."""
        if self.session is None:
            return error_answer("there is no image yet")
        session = self.session
        try:
            self.engine.choose(choice)
        except CnnlensError as error:
            return error_answer(error)
        return await self._replace_on(lambda: backend_requests.rerun(self.engine, session))

    async def preprocess(self, settings: str) -> OverviewAnswer | ErrorAnswer:
        """The current image again with the reader's preprocessing (`preprocess_settings`);
        a bad value is answered as `{error}` and the previous preprocessing and view stay."""
        session = self.session
        if session is None:
            return error_answer("there is no image yet to preprocess")
        try:
            prep = (parse_settings(settings, session.loaded.model,
                                   session.loaded.card.preprocessing) if settings else None)
        except CnnlensError as error:
            return error_answer(f"The preprocessing was not applied: {error}.")
        return await self._replace_on(
            lambda: backend_requests.with_preprocessing(self.engine, session, prep))

    # --- what the current session shows (`view_requests`: read only) ---

    def channels(self, layer: str, channel: int) -> ChannelsAnswer | ErrorAnswer:
        return view_requests.channels(self.session, layer, channel)

    def preprocessing(self) -> PreprocessingAnswer | ErrorAnswer:
        return view_requests.preprocessing(self.session)

    def detail(self, layer: str, channel: int) -> DetailAnswer | ErrorAnswer:
        return view_requests.detail(self.session, layer, channel)

    def attribution(self, layer: str, channel: int, method: str,
                    cam_layer: str) -> AttributionAnswer | ErrorAnswer:
        return view_requests.attribution(self.session, layer, channel, method, cam_layer)

    def figures(self) -> FiguresAnswer | ErrorAnswer:
        return view_requests.figures(self.session)

    def architecture(self) -> ArchitectureAnswer | ErrorAnswer:
        return view_requests.architecture(self.loaded, self.session)

    def tensor(self, name: str) -> TensorAnswer | ErrorAnswer:
        return view_requests.tensor(self.session, name)

    # --- long-running work: one job, started by its method, advanced a chunk per request ---

    def maximize_start(self, target: str, settings: str, seed: int, steps: int
                       ) -> JobAnswer | ErrorAnswer:
        return job_requests.maximize_start(self.jobs, self.session, target, settings, seed,
                                           steps)

    def invert_start(self, layer: str, mode: str, settings: str, seed: int, steps: int
                     ) -> JobAnswer | ErrorAnswer:
        return job_requests.invert_start(self.jobs, self.session, layer, mode, settings,
                                         seed, steps)

    async def dissect_start(self, layer: str, probe: str, top: int) -> JobAnswer | ErrorAnswer:
        return await job_requests.dissect_start(self.jobs, self.session, self.probes,
                                                self.dissections, self.model_id, self._read,
                                                layer, probe, top)

    def dissect_probe(self, data: bytes, files: str) -> ProbeAnswer | ErrorAnswer:
        return job_requests.dissect_probe(self.probes, self.session, data, files)

    async def _read(self, path: str) -> bytes:
        return await self.fetch(self.base_url + path)

    def job_step(self, max_ms: float) -> JobAnswer | ErrorAnswer:
        return self.jobs.step(max_ms)

    def job_cancel(self) -> JobCancelled:
        return self.jobs.cancel()

    # --- live code: the learner's functions and kernels (`live_code`) ---

    def _edited(self, make: Callable[[Session], Session]
                ) -> OverviewAnswer | CodeErrorAnswer | ErrorAnswer:
        if self.session is None:
            return error_answer("there is no image yet")
        try:
            session = make(self.session)
        except live_code.CodeError as error:
            return error.answer()
        except CnnlensError as error:
            return error_answer(error)
        return self._replace(lambda: session)

    def code(self) -> CodeAnswer | ErrorAnswer:
        return view_requests.code(self.session)

    def code_run(self, texts: str) -> OverviewAnswer | CodeErrorAnswer | ErrorAnswer:
        return self._edited(lambda session: live_code.run_code(session, texts))

    def code_reset(self) -> OverviewAnswer | CodeErrorAnswer | ErrorAnswer:
        return self._edited(live_code.reset)

    def kernel(self, layer: str, channel: int) -> KernelAnswer | ErrorAnswer:
        return view_requests.kernel(self.session, layer, channel)

    def kernel_set(self, layer: str, channel: int, input_channel: int, values: str
                   ) -> OverviewAnswer | CodeErrorAnswer | ErrorAnswer:
        return self._edited(lambda session: live_code.set_kernel(
            session, layer, channel, input_channel, values))

    # --- benchmarks (`profile`) ---

    def time_forward(self, repeats: int) -> ForwardTimes:
        return profile.time_forward(self.session, repeats)

    def time_backward(self, repeats: int) -> BackwardTimes:
        return profile.time_backward(self.session, repeats)

    def time_layers(self, repeats: int) -> LayerTimes:
        return profile.time_layers(self.session, repeats)

    async def time_backend(self, backend: str, repeats: int) -> BackendTimes | ErrorAnswer:
        return await backend_requests.time_backend(self.engine, self.session, backend, repeats)

    async def tensors(self, backend: str) -> TensorsAnswer | ErrorAnswer:
        return await backend_requests.tensors(self.engine, self.session, backend)

    def playground(self, n: int, p: int, k: int, s: int) -> PlaygroundAnswer | ErrorAnswer:
        """The hyperparameter playground for one setting (needs no model or image; the
        worker answers it without an `App`, see `py/worker.py`)."""
        from .views.playground import answer

        return answer(n, p, k, s)
