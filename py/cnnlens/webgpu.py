"""The page's GPU from Python in the worker: `assets/js/gpu/index.js` (the WGSL kernels)
behind `engine.GpuDevice`. Pyodide only (the command line and the tests never import it).

Float32 buffers cross without per-element conversion: a C-contiguous float32 array's
buffer becomes one `Float32Array` (`to_js` copies the bytes out of the wasm memory in one
go), and a `Float32Array` comes back as a memoryview that `np.frombuffer` reads as it is.
The weights go once per model (`set_weights`); each segment's outputs come back in one
batched readback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import js  # type: ignore[import-not-found]
import numpy as np
from pyodide.code import run_js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_proxy, to_js  # type: ignore[import-not-found]

from .backend_plan import GpuNode
from .engine import Engine, GpuError

KERNELS = "assets/js/gpu/index.js"


async def open_engine(base_url: str) -> Engine:
    """The engine with the browser's GPU, or without one, saying why (no `navigator.gpu`,
    no adapter or device, or kernels that would not load)."""
    try:
        module = await run_js(f"import({json.dumps(base_url + KERNELS)})")
        device = await module.openGpu()
    except JsException as error:
        return Engine(None, f"the WebGPU kernels could not start ({error})")
    if device is None:
        return Engine(None, "no WebGPU in this browser")
    js.globalThis.cnnlensGpu = device  # automation: tests destroy its device to lose it
    return Engine(JsGpu(device))


def _js(value: Any) -> Any:
    return to_js(value, dict_converter=js.Object.fromEntries)


def _tensors(arrays: Mapping[str, np.ndarray]) -> Any:
    """``{name: {data: Float32Array, shape}}``, each array's bytes copied once."""
    return _js({name: {"data": to_js(np.ascontiguousarray(a, dtype=np.float32).reshape(-1)),
                       "shape": list(a.shape)} for name, a in arrays.items()})


class JsGpu:
    """`engine.GpuDevice` over the kernels' `Gpu` object; a rejected call is a `GpuError`."""

    def __init__(self, device: Any) -> None:
        self._device = device
        self.label = str(device.label)
        self._lost: str | None = None
        self._on_lost = create_proxy(self._lose)  # kept: the device calls it later
        device.onLost(self._on_lost)

    def _lose(self, info: Any = None) -> None:
        message = getattr(info, "message", None) if info is not None else None
        self._lost = str(message or info or "device lost")

    @property
    def lost(self) -> str | None:
        return self._lost

    def supports(self, node: GpuNode) -> bool:
        return bool(self._device.supports(_js(node)))

    async def set_weights(self, key: str, tensors: Mapping[str, np.ndarray]) -> None:
        try:
            await self._device.setWeights(key, _tensors(tensors))
        except JsException as error:
            raise GpuError(str(error)) from error

    def drop_weights(self, key: str) -> None:
        self._device.dropWeights(key)

    async def run(self, key: str, nodes: list[GpuNode], feeds: Mapping[str, np.ndarray],
                  wanted: list[str]) -> dict[str, np.ndarray]:
        shapes = {name: tuple(dims) for node in nodes for name, dims in node["shapes"].items()}
        try:
            answer = await self._device.run(key, _js(nodes), _tensors(feeds), _js(wanted))
        except JsException as error:
            raise GpuError(str(error)) from error
        return {name: np.frombuffer(js.Reflect.get(answer, name).to_py(),
                                    dtype=np.float32).reshape(shapes[name])
                for name in wanted}
