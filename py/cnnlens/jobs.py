"""The page's long-running work: one job at a time, advanced in short chunks.

Activation maximisation, network inversion and dissection take seconds to minutes, longer
than any one request may keep the worker busy. So the page starts a job with its method's
own request (``maximize_start``, ``invert_start``, …), which answers the job's state at
step 0, then asks ``job_step(max_ms)`` again and again, each answer the complete current
state after at most ``max_ms`` milliseconds of work, until the view says ``done``;
``job_cancel()`` drops it. Between chunks the worker answers any other request. The worker
holds one job (:class:`JobSlot`): starting another replaces it, and a new image or model
ends it.

A new kind of job implements :class:`Job` (four members) and gets one ``*_start`` request,
one ``job_requests`` function that calls :meth:`JobSlot.start` with a function making it,
and ``App``'s one-line method handing it the slot; stepping, cancelling, the errors and
the answers are shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final, Protocol

import numpy as np

from .errors import CnnlensError
from .protocol import ErrorAnswer, JobAnswer, JobCancelled, encode, error_answer

MAX_CHUNK_MS: Final = 100.0
"""Longest chunk of work one ``job_step`` may ask for: the page promises to answer within
this between chunks."""


@dataclass(frozen=True)
class Chunk:
    """What one call of :meth:`Job.advance` did: steps run and milliseconds taken."""

    steps: int
    ms: float


class Job(Protocol):
    """What the job slot needs of a long-running piece of work.

    ``what`` names it in messages (``"the maximisation of conv_1_1:3"``); ``step`` is how
    far it is (``job_cancel`` reports it); ``advance(max_ms)`` does about ``max_ms``
    milliseconds of work (at least one step unless it is done; a step is never split) and
    says what it did; ``view(chunk)`` is its complete current state as the page draws it:
    a view-model (a dict with ``"kind"``, the method's name, and ``"done"``), float32
    numbers and RGBA rasters, as ``views.bundle.Bundle.pack`` makes them (``chunk`` is None
    at step 0). A :class:`CnnlensError` from ``advance`` ends the job.
    """

    what: str

    @property
    def step(self) -> int: ...

    def advance(self, max_ms: float) -> Chunk: ...

    def view(self, chunk: Chunk | None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]: ...


def run_chunk(step: Callable[[], None], done: Callable[[], bool], max_ms: float) -> Chunk:
    """Calls ``step()`` until ``done()`` or the budget is spent: at least once unless done,
    and a step starts only while the previous one's duration still fits in ``max_ms``, so a
    chunk lasts about ``max_ms`` when steps take equally long."""
    begin = time.perf_counter()
    count, last = 0, 0.0
    while not done():
        if count and _ms_since(begin) + last > max_ms:
            break
        started = time.perf_counter()
        step()
        last = _ms_since(started)
        count += 1
    return Chunk(count, _ms_since(begin))


class Stepping(Protocol):
    """One picture's descent or ascent: ``steps`` taken so far, ``step(n)`` takes ``n``."""

    @property
    def steps(self) -> int: ...

    def step(self, n: int) -> Any: ...


class PartsInTurn:
    """A job of several pictures, each ``goal`` steps, stepped one step of one picture at
    a time and the pictures in turn, so that a chunk can stop after any picture's step (a
    step of every picture at once can take longer than a chunk may). Each picture then
    equals the one its part makes alone, however the work is chunked. A subclass sets
    ``parts`` and ``goal``."""

    parts: list[Stepping]
    goal: int
    _next: int = 0  # the part whose turn it is

    @property
    def step(self) -> int:
        """Steps every picture has had (the plot's last point)."""
        return self.parts[-1].steps

    @property
    def done(self) -> bool:
        return self.step >= self.goal

    @property
    def steps_run(self) -> int:
        """Steps run over all pictures (the progress bar counts these)."""
        return sum(part.steps for part in self.parts)

    def advance(self, max_ms: float) -> Chunk:
        """Runs steps for about ``max_ms`` milliseconds, none once the goal is reached
        (:func:`run_chunk`)."""
        return run_chunk(self._step_next, lambda: self.done, max_ms)

    def _step_next(self) -> None:
        self.parts[self._next].step(1)
        self._next = (self._next + 1) % len(self.parts)

    def progress(self, chunk: Chunk | None) -> dict[str, Any]:
        """How far the job is, as its view-model says it (``chunk``: the last one's, None at
        step 0)."""
        return {"goal": self.goal, "step": self.step, "steps_run": self.steps_run,
                "steps_total": self.goal * len(self.parts), "done": self.done,
                "chunk": None if chunk is None else asdict(chunk)}


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def answer(job: Job, chunk: Chunk | None) -> JobAnswer | ErrorAnswer:
    """The job's state as the page receives it (JSON made by `encode`)."""
    try:
        view, numbers, rasters = job.view(chunk)
        text = encode(view, job.what)
    except CnnlensError as error:
        return error_answer(error)
    return {"view": text, "numbers": memoryview(numbers), "rasters": memoryview(rasters)}


class JobSlot:
    """The worker's one job: started by a method's request, stepped and cancelled by
    ``job_step`` and ``job_cancel``."""

    def __init__(self) -> None:
        self.job: Job | None = None

    def start(self, make: Callable[[], Job]) -> JobAnswer | ErrorAnswer:
        """Makes a job and answers its state at step 0; it replaces the running one only
        once made and encoded, so a request that cannot start leaves that job as it was."""
        try:
            job = make()
        except CnnlensError as error:
            return error_answer(error)
        made = answer(job, None)
        if "error" not in made:
            self.job = job
        return made

    def step(self, max_ms: float) -> JobAnswer | ErrorAnswer:
        """Runs the job for about ``max_ms`` milliseconds (0 to :data:`MAX_CHUNK_MS`) and
        answers its complete state."""
        if not 0 <= max_ms <= MAX_CHUNK_MS:
            return error_answer(f"a chunk of work lasts 0 to {MAX_CHUNK_MS:g} ms, not {max_ms:g}")
        job = self.job
        if job is None:
            return error_answer("no long-running work is under way (it was cancelled, or "
                                "the image or model changed): start it again")
        try:
            chunk = job.advance(max_ms)
        except CnnlensError as error:
            self.job = None  # a step that failed would fail again
            return error_answer(error)
        return answer(job, chunk)

    def cancel(self) -> JobCancelled:
        """Drops the running job (if any); says whether there was one and its last step."""
        job, self.job = self.job, None
        return {"cancelled": job is not None, "step": 0 if job is None else job.step}

    def end(self) -> None:
        """A new image or model: the job's input is gone."""
        self.job = None
