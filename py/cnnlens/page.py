"""The page's Python side (Pyodide only): loads the bundled model, answers the UI, draws.

JavaScript (`assets/js/app.js`) owns the DOM events and the drawing; it calls the
handlers registered here with plain values and receives view-models back. Everything
that decides *what* is shown lives in `Session` and `views/`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import js  # type: ignore[import-not-found]  # Pyodide's bridge to the page
from pyodide.ffi import JsProxy, create_proxy, to_js  # type: ignore[import-not-found]
from pyodide.http import pyfetch  # type: ignore[import-not-found]

from .errors import CnnlensError
from .forward import run
from .session import Session, load_model

MODEL_URL = "assets/models/tinyvgg-fashion-mnist.onnx"
EXAMPLES_URL = "assets/images/fashion-mnist/"


async def _fetch(url: str) -> bytes:
    response = await pyfetch(url)
    if not response.ok:
        raise CnnlensError(f"could not load {url} (HTTP {response.status})")
    return await response.bytes()


def _to_bytes(data: Any) -> bytes:
    return data.to_bytes() if isinstance(data, JsProxy) else bytes(data)


def _measure(name: str, start_ms: float) -> None:
    """Records a span in the browser's Performance timeline (devtools and benchmarks read it)."""
    options = to_js({"start": start_ms, "end": js.performance.now()},
                    dict_converter=js.Object.fromEntries)
    js.performance.measure(f"cnnlens:{name}", options)


class Page:
    """Holds the current `Session` and swaps it only for a complete new one."""

    def __init__(self, ui: Any) -> None:
        self.ui = ui
        self.session: Session | None = None
        self.examples: list[dict[str, Any]] = []
        self._proxies: list[Any] = []

    async def start(self) -> None:
        self.ui.stage("model", "Loading the model")
        loaded = load_model(await _fetch(MODEL_URL), MODEL_URL.rsplit("/", 1)[-1])
        self.examples = json.loads(await _fetch(EXAMPLES_URL + "index.json"))
        self.ui.setExamples(json.dumps(self.examples))
        self.ui.stage("forward", "Running the network")
        first = self.examples[0]["file"]
        self.session = Session.start(loaded, await _fetch(EXAMPLES_URL + first), first)
        self._connect()
        self.draw()

    def _connect(self) -> None:
        handlers = {
            "image": self.on_image,
            "example": self.on_example,
            "mode": self.on_mode,
            "timeForward": self.time_forward,
        }
        self._proxies = [create_proxy(f) for f in handlers.values()]
        self.ui.connect(to_js(dict(zip(handlers, self._proxies, strict=True)),
                              dict_converter=js.Object.fromEntries))

    def draw(self) -> None:
        assert self.session is not None
        start = js.performance.now()
        view, rasters = self.session.overview()
        _measure("view-model", start)
        start = js.performance.now()
        self.ui.render(json.dumps(view), to_js(memoryview(rasters)))
        _measure("render", start)

    def _replace(self, make: Callable[[], Session]) -> bool:
        """Builds the next session; on our documented errors shows the message and keeps the old."""
        start = js.performance.now()
        try:
            session = make()
        except CnnlensError as error:
            self.ui.showError(str(error))
            return False
        _measure("compute", start)
        self.session = session
        self.ui.clearError()
        self.draw()
        return True

    def on_image(self, data: Any, name: str) -> bool:
        assert self.session is not None
        image = _to_bytes(data)
        return self._replace(lambda: self.session.with_image(image, str(name)))

    async def on_example(self, file: str) -> bool:
        assert self.session is not None
        try:
            image = await _fetch(EXAMPLES_URL + str(file))
        except CnnlensError as error:
            self.ui.showError(str(error))
            return False
        return self._replace(lambda: self.session.with_image(image, str(file)))

    def on_mode(self, mode: str) -> bool:
        assert self.session is not None
        self.session = self.session.with_mode(str(mode))
        self.draw()
        return True

    def time_forward(self, repeats: int) -> Any:
        """Seconds per forward pass of the current model and input, `repeats` times (benchmarks)."""
        assert self.session is not None
        times = []
        for _ in range(int(repeats)):
            start = time.perf_counter()
            run(self.session.loaded.model, self.session.x)
            times.append(time.perf_counter() - start)
        return to_js(times)


async def main() -> None:
    page = Page(js.cnnlens)
    try:
        await page.start()
    except CnnlensError as error:
        js.cnnlens.fail(str(error))
        raise
    # Keep the page object alive for the proxies' sake.
    js.cnnlens.pythonReady = True
    globals()["_page"] = page
