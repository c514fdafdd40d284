"""The forward pass on the backend the page chose: WebGPU for the nodes its kernels
support where the browser gave a device, NumPy for every other node (and everywhere when
there is no device, when the reader forces NumPy, or after the device is lost).

It runs `forward.run_async` with a hook that follows a `backend_plan.Plan`: a NumPy node is
computed as `forward.run` would; a WebGPU segment runs in one `GpuDevice.run` when its first
node is reached, and its outputs are handed out node by node. The GPU itself is behind the
`GpuDevice` protocol (`webgpu.py` in the page, a NumPy stand-in in the unit tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from .backend_plan import NUMPY, WEBGPU, Backend, GpuNode, Plan, plan, weights
from .edits import NO_EDITS, Edits, finish, run_edited
from .errors import CnnlensError
from .forward import AsyncNodeHook, ForwardResult, NodeOutputs, run_async
from .graph import Model, Node

Choice = Literal["auto", "webgpu", "numpy"]
CHOICES: tuple[Choice, ...] = ("auto", "webgpu", "numpy")
"""``auto``: WebGPU where there is a device; ``webgpu``/``numpy``: the reader's switch
(``webgpu`` still falls back to NumPy, saying so, where there is no device)."""


def parse_choice(choice: str) -> Choice:
    """A request's backend argument, refused when it is none of :data:`CHOICES`."""
    if choice not in CHOICES:
        raise CnnlensError(f"unknown backend {choice!r}; expected one of {', '.join(CHOICES)}")
    return choice  # type: ignore[return-value]


class GpuError(Exception):
    """The GPU could not run what it was given (the device was lost, or a kernel failed)."""


class GpuDevice(Protocol):
    """What the engine needs of a GPU (`webgpu.JsGpu` wraps `assets/js/gpu/index.js`)."""

    label: str

    @property
    def lost(self) -> str | None:
        """Why the device was lost, or None while it works."""

    def supports(self, node: GpuNode) -> bool: ...

    async def set_weights(self, key: str, tensors: Mapping[str, np.ndarray]) -> None: ...

    def drop_weights(self, key: str) -> None: ...

    async def run(self, key: str, nodes: list[GpuNode], feeds: Mapping[str, np.ndarray],
                  wanted: list[str]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class Ran:
    """Which backend ran a forward pass and how long it took (the page's label)."""

    backend: Backend  # WebGPU when any node ran there
    choice: Choice
    forward_ms: float
    layers: tuple[tuple[str, str, Backend], ...]  # (node, op, backend) in execution order
    note: str | None  # no device, a device lost, a forced backend that is not there
    gpu: str | None  # the adapter's label
    first: bool = False  # the model's first pass on the GPU: its weights sent, kernels compiled

    def as_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "choice": self.choice,
                "forward_ms": round(self.forward_ms, 3), "note": self.note, "gpu": self.gpu,
                "first": self.first,
                "layers": [{"node": n, "op": op, "backend": b} for n, op, b in self.layers]}


class Engine:
    """The page's backend state: the device (if any), the reader's choice, the models
    whose weights are on the device, and why the GPU is not used when it is not."""

    def __init__(self, gpu: GpuDevice | None = None, absent: str | None = None) -> None:
        self.gpu = gpu
        self.choice: Choice = "auto"
        self.absent = absent if gpu is None else None  # why there is no device
        self._on_device: tuple[Model, str] | None = None  # the model whose weights are there
        self._uploads = 0

    def choose(self, choice: str) -> None:
        self.choice = parse_choice(choice)

    def _usable(self, choice: Choice) -> tuple[GpuDevice | None, str | None]:
        """The device to use for ``choice`` and what the page should say about it."""
        if choice == "numpy":
            return None, None
        if self.gpu is not None and self.gpu.lost:
            self._drop(f"the GPU was lost ({self.gpu.lost})")
        if self.gpu is None:
            why = self.absent or "no WebGPU in this browser"
            return None, f"{why[0].upper()}{why[1:]}: NumPy runs every layer."
        return self.gpu, None

    def _drop(self, why: str) -> None:
        self.gpu, self.absent = None, why

    async def forward(self, model: Model, x: np.ndarray, *, choice: Choice | None = None,
                      fuse: bool = False, split: bool = False,
                      clock: dict[str, float] | None = None,
                      edits: Edits = NO_EDITS) -> tuple[ForwardResult, Ran]:
        """Runs ``x`` through ``model`` on ``choice`` (default: the reader's). ``fuse``: only
        the result is needed (not every tensor), so the kernels may fuse; ``split``: one GPU
        call per node, and ``clock`` gets each node's milliseconds (a GPU segment's are its
        first node's). A GPU failure drops the device for the session and the pass is run
        again on NumPy, saying so. ``edits``: the nodes of the learner's edited functions
        run on NumPy as they wrote them (`edits.run_edited`), the others where they would."""
        choice = self.choice if choice is None else choice
        gpu, note = self._usable(choice)
        uploads = self._uploads
        start = time.perf_counter()
        if gpu is not None:
            try:
                result, chosen = await self._run(gpu, model, x, fuse, split, clock, edits)
                if edits.overrides:
                    note = "Your edited functions run on NumPy, as you wrote them."
            except GpuError as error:
                self._drop(f"the GPU stopped working ({error})")
                gpu, note = self._usable(choice)
                start = time.perf_counter()
        if gpu is None:
            chosen = plan(model, np.shape(x), None)
            result = await run_async(model, x, _timed(_numpy_hook(model, edits), clock),
                                     finite=not edits.overrides)
            result = finish(model, result, edits) if edits.overrides else result
        ms = (time.perf_counter() - start) * 1000.0
        placed = chosen.placement()
        layers = tuple((n.name, n.op_type, placed[n.name]) for n in model.topological_order())
        backend = WEBGPU if any(b == WEBGPU for _n, _op, b in layers) else NUMPY
        label = None if gpu is None else gpu.label
        first = gpu is not None and self._uploads > uploads
        return result, Ran(backend, choice, ms, layers, note, label, first)

    async def _run(self, gpu: GpuDevice, model: Model, x: np.ndarray, fuse: bool,
                   split: bool, clock: dict[str, float] | None, edits: Edits
                   ) -> tuple[ForwardResult, Plan]:
        key = await self._upload(gpu, model, np.shape(x))
        chosen = plan(model, np.shape(x), gpu.supports, numpy_only=edits.overrides.keys(),
                      keep_all=not fuse, split=split)
        starts = chosen.first_nodes()
        pending: dict[str, np.ndarray] = {}
        on_numpy = _numpy_hook(model, edits)

        async def hook(node: Node, compute: Callable[[], NodeOutputs],
                       values: Mapping[str, np.ndarray]) -> NodeOutputs:
            segment = starts.get(node.name)
            if segment is not None:
                feeds = {name: values[name] for name in segment.feeds}
                pending.update(await gpu.run(key, list(segment.gpu_nodes), feeds,
                                             list(segment.wanted)))
            elif chosen_backend.get(node.name) != WEBGPU:
                return await on_numpy(node, compute, values)
            return {name: pending.pop(name) for name in node.outputs if name in pending}

        chosen_backend = chosen.placement()
        result = await run_async(model, x, _timed(hook, clock), finite=not edits.overrides)
        return (finish(model, result, edits) if edits.overrides else result), chosen

    async def _upload(self, gpu: GpuDevice, model: Model, input_shape: tuple[int, ...]) -> str:
        """The model's key on the device; its weights are sent once while it is the model
        in use (the previous model's are freed)."""
        if self._on_device is not None and self._on_device[0] is model:
            return self._on_device[1]
        if self._on_device is not None:
            gpu.drop_weights(self._on_device[1])
            self._on_device = None
        self._uploads += 1
        key = f"model-{self._uploads}"
        await gpu.set_weights(key, weights(model, plan(model, input_shape, gpu.supports)))
        self._on_device = (model, key)
        return key


def _numpy_hook(model: Model, edits: Edits) -> AsyncNodeHook:
    """A node on NumPy: the learner's function where they edited its op, else the engine's."""

    async def hook(node: Node, compute: Callable[[], NodeOutputs],
                   values: Mapping[str, np.ndarray]) -> NodeOutputs:
        outputs = run_edited(node, edits, model.opset, values)
        return compute() if outputs is None else outputs

    return hook


def _timed(hook: AsyncNodeHook, clock: dict[str, float] | None) -> AsyncNodeHook:
    """``hook``, putting each node's milliseconds into ``clock`` when there is one."""
    if clock is None:
        return hook

    async def timed(node: Node, compute: Callable[[], NodeOutputs],
                    values: Mapping[str, np.ndarray]) -> NodeOutputs:
        start = time.perf_counter()
        outputs = await hook(node, compute, values)
        clock[node.name] = (time.perf_counter() - start) * 1000.0
        return outputs

    return timed
