"""The page's requests that start a method's long-running job (`jobs`): activation
maximisation, inversion and dissection, and the reader's probe set dissection runs over.

`page.App` hands each its current session and the worker's `jobs.JobSlot`; a start answers
the job's state at step 0 (`JobSlot.start`), a bad request keeps the running job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .errors import CnnlensError
from .jobs import JobSlot
from .protocol import ErrorAnswer, JobAnswer, ProbeAnswer, encode, error_answer
from .session import Session

# Each method's modules are imported by its first start, not while the page boots.
if TYPE_CHECKING:
    from .views.dissect import DissectionCache, ProbeShelf

Read = Callable[[str], Awaitable[bytes]]  # a path relative to the site → its bytes


def maximize_start(jobs: JobSlot, session: Session | None, target: str, settings: str,
                   seed: int, steps: int) -> JobAnswer | ErrorAnswer:
    """Starts activation maximisation of ``target`` (``LAYER:CHANNEL``,
    ``LAYER:CHANNEL:Y:X``, ``class:NAME`` or ``LAYER:*`` for every channel) from seeded
    noise, ``settings`` a JSON object of `methods.maximize.Settings` fields, for
    ``steps`` steps."""
    from .views.maximize import start as start_maximize

    if session is None:
        return error_answer("there is no model and image yet")
    return jobs.start(lambda: start_maximize(session.loaded, session.gradient_result,
                                    list(session.classes), target, settings, seed, steps))


def invert_start(jobs: JobSlot, session: Session | None, layer: str, mode: str,
                 settings: str, seed: int, steps: int) -> JobAnswer | ErrorAnswer:
    """Starts reconstructing the current image from ``layer``'s activations
    (`views.invert`: ``mode`` ``layer``, ``perturb`` or ``all``; ``settings`` a JSON
    object of `methods.inversion.Settings` fields)."""
    from .views.invert import start

    if session is None:
        return error_answer("there is no model and image yet")
    # The pass the descent differentiates: the engine's own functions (with any edited
    # kernels), so the goal and the reconstruction come from the same network.
    return jobs.start(lambda: start(session.loaded, session.x, session.gradient_result,
                                    layer, mode, settings, seed, steps))


async def dissect_start(jobs: JobSlot, session: Session | None, probes: ProbeShelf,
                        dissections: DissectionCache, model_id: str | None, read: Read,
                        layer: str, probe: str, top: int) -> JobAnswer | ErrorAnswer:
    """Starts dissecting ``layer`` over a probe set (`views.dissect`: ``""`` the model's
    bundled one, read from the site, ``"own"`` the reader's) with ``top`` images per
    channel; one made before this session (kept in ``dissections``) answers at once, done."""
    from .views.dissect import start

    if session is None:
        return error_answer("there is no model yet")
    try:
        found, title = await probes.get(probe, session.loaded, model_id,
                                        list(session.classes), read)
    except CnnlensError as error:
        return error_answer(error)
    return jobs.start(lambda: start(session.loaded, found, title, layer, top, dissections))


def dissect_probe(probes: ProbeShelf, session: Session | None, data: bytes, files: str
                  ) -> ProbeAnswer | ErrorAnswer:
    """Reads and keeps the reader's own probe set (a folder's files or a zip), checked
    against the current model's preprocessing; a bad set keeps the previous one."""
    if session is None:
        return error_answer("there is no model yet")
    try:
        held = probes.keep_own(data, files, session.loaded.card.preprocessing)
        return {"probe": encode(held, "the probe set")}
    except (CnnlensError, ValueError, KeyError, TypeError) as error:
        return error_answer(f"those images cannot be used: {error}")
