"""PyScript worker entry point: loads the packages we ship, then answers the page's requests.

It exports one function per request of `cnnlens.protocol.REQUESTS` (and nothing else), which
assets/js/protocol.js calls through PyScript's `worker.sync`. Each checks its arguments
against the protocol and calls the handler of the same name: a method of `cnnlens.page.App`
or, for the requests below that need no model, a function here. Answers are plain data
(strings, numbers, byte buffers) converted to JavaScript objects.
"""

import js

# Boot marks on the worker's own timeline, read by bench/boot_split.py (with those of
# assets/js/runtime-progress.js): here PyScript has started the interpreter and runs us.
js.performance.mark("cnnlens:worker:start")

# Before any of our dataclasses is created: their methods come compiled (cnnlens/dataclass_code).
from cnnlens.dataclass_code import install as _install_dataclass_code  # noqa: E402

_install_dataclass_code()

import asyncio  # noqa: E402
import inspect  # noqa: E402
import sys  # noqa: E402

import pyodide_js  # noqa: E402
from pyodide.ffi import JsProxy, to_js  # noqa: E402
from pyodide.http import pyfetch  # noqa: E402

from cnnlens.errors import CnnlensError  # noqa: E402
from cnnlens.protocol import REQUESTS, check_arguments, error_answer  # noqa: E402

_app = None


def _to_js(answer):
    return to_js(answer, dict_converter=js.Object.fromEntries)


def _from_js(value):
    # A Uint8Array arrives as a JsProxy of a buffer; everything else the page sends is a
    # string or a number, which Pyodide has already made Python's.
    if isinstance(value, JsProxy):
        return value.to_bytes() if hasattr(value, "to_bytes") else value.to_py()
    return value


async def _fetch(url):
    response = await pyfetch(url)
    if not response.ok:
        raise CnnlensError(f"could not load {url} (HTTP {response.status})")
    return await response.bytes()


# --- the handlers that live here rather than on page.App ---


async def _load_packages():
    # From our trimmed pyodide-lock.json next to pyodide.mjs: nothing comes from elsewhere.
    # Pillow is not among them: the examples come decoded (cnnlens.examples), and the first
    # request that needs Pillow loads it (`_answer`).
    await pyodide_js.loadPackage(["numpy"])
    js.performance.mark("cnnlens:worker:packages-loaded")


async def _start(base_url):
    global _app
    from cnnlens.later_modules import install
    from cnnlens.page import App  # needs the packages loaded above

    install(base_url)  # the modules the boot never imports, on their first import

    from cnnlens.dataclass_code import counts

    # How many dataclass methods the boot ran compiled at build time, and compiled itself.
    js.performance.mark("cnnlens:worker:imported", to_js({"detail": counts},
                                                          dict_converter=js.Object.fromEntries))
    _app = App(_fetch, base_url)
    from cnnlens.webgpu import open_engine

    # The browser's GPU, if it gives one: its kernels' modules load while the model does.
    started, _app.engine = await asyncio.gather(_app.start(), open_engine(base_url))
    js.performance.mark("cnnlens:worker:model-loaded")
    return started


def _playground(n, p, k, s):
    # Pure Python: it answers without NumPy or a model, so an embedded playground boots light.
    from cnnlens.views.playground import answer

    return answer(n, p, k, s)


def _memory():
    # The WebAssembly memory Python and NumPy live in; it only grows, so growth after
    # many requests shows as a leak.
    return {"wasm_bytes": int(pyodide_js._module.HEAP8.length)}


_HERE = {"load_packages": _load_packages, "start": _start, "playground": _playground,
         "memory": _memory}


def _handler(name):
    if name in _HERE:
        return _HERE[name]
    if _app is None:
        return None
    return getattr(_app, name)


async def _answer(handler, values):
    result = handler(*values)
    return await result if inspect.isawaitable(result) else result


def _export(name):
    async def answer(*args):
        try:
            values = check_arguments(name, [_from_js(arg) for arg in args])
        except CnnlensError as error:
            return _to_js(error_answer(error))
        handler = _handler(name)
        if handler is None:
            return _to_js(error_answer("the model is not loaded yet"))
        try:
            return _to_js(await _answer(handler, values))
        except ModuleNotFoundError as error:
            if (error.name or "").split(".")[0] != "PIL" or "PIL" in sys.modules:
                raise
        # An upload, a picture at another size than the model's, a probe set of files, …:
        # load Pillow (from the service worker's cache offline) and answer once more. Asking
        # again is safe: PIL is imported before any pixel is decoded, and every handler
        # replaces its state (session, model, probe sets, job) only once the new one is
        # complete, so the failed try changed nothing the page sees.
        await pyodide_js.loadPackage(["pillow"])
        return _to_js(await _answer(handler, values))

    answer.__name__ = name
    return answer


for _request in REQUESTS:
    globals()[_request.name] = _export(_request.name)

__export__ = [request.name for request in REQUESTS]
js.performance.mark("cnnlens:worker:ready")
