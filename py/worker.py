"""PyScript worker entry point: loads the packages we ship, then answers the page's requests.

Each exported function is called by assets/js/app.js through PyScript's `worker.sync`
and returns plain data (strings, numbers, one byte buffer) that the page draws.
"""

import js
import pyodide_js
from pyodide.ffi import to_js
from pyodide.http import pyfetch

from cnnlens.errors import CnnlensError

_app = None


def _to_js(answer):
    return to_js(answer, dict_converter=js.Object.fromEntries)


async def _fetch(url):
    response = await pyfetch(url)
    if not response.ok:
        raise CnnlensError(f"could not load {url} (HTTP {response.status})")
    return await response.bytes()


async def load_packages():
    # From our trimmed pyodide-lock.json next to pyodide.mjs: nothing comes from elsewhere.
    await pyodide_js.loadPackage(["numpy", "pillow"])


async def start(base_url):
    global _app
    from cnnlens.page import App  # needs the packages loaded above

    _app = App(_fetch, str(base_url))
    return _to_js(await _app.start())


async def example(file):
    return _to_js(await _app.example(str(file)))


def image(data, name):
    return _to_js(_app.image(data.to_bytes(), str(name)))


def mode(name):
    return _to_js(_app.mode(str(name)))


def detail(layer, channel):
    return _to_js(_app.detail(str(layer), int(channel)))


def time_forward(repeats):
    return _to_js(_app.time_forward(int(repeats)))


__export__ = [
    "load_packages", "start", "example", "image", "mode", "detail", "time_forward",
]


# For the benchmarks (bench/): per-layer forward timings and the size of Pyodide's heap.
def time_layers(repeats):
    return _to_js(_app.time_layers(int(repeats)))


def memory():
    # The WebAssembly memory Python and NumPy live in; it only grows, so growth after
    # many requests shows as a leak.
    return _to_js({"wasm_bytes": int(pyodide_js._module.HEAP8.length)})


__export__ += ["time_layers", "memory"]


# The hyperparameter playground of the article (needs no model or image).
def playground(n, p, k, s):
    # Pure Python: it answers without NumPy or a model, so an embedded playground boots light.
    from cnnlens.views.playground import answer

    return _to_js(answer(n, p, k, s))  # whole numbers are checked there


__export__ += ["playground"]


# Opening a model the user picked: the bytes come from the page, never from the network.
def model(data, name):
    return _to_js(_app.model(data.to_bytes(), str(name)))


__export__ += ["model"]
