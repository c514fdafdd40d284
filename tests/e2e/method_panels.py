"""What the e2e tests of the step-by-step method panels share (test_methods_maximize.py,
test_methods_invert.py): typing a setting, reading the numbers a panel drew, and
cancelling a run mid-way."""

from __future__ import annotations

import numpy as np


def set_number(page, selector: str, value: float) -> None:
    """Types a value and leaves the box, as a user would: the browser's one change event
    starts a new run with it. (A change dispatched by hand leaves the box's edit pending: the
    browser fires its own when the focus next leaves it, on a later click, and that starts a
    run the test did not ask for.)"""
    page.fill(selector, str(value))
    page.locator(selector).blur()


def drawn_numbers(page, panel: str, name: str) -> np.ndarray:
    """The named array of the panel's ``cnnlensNumbers`` (what it drew) as float32."""
    shape, values = page.eval_on_selector(
        panel, f"p => [p.cnnlensNumbers.{name}.shape, Array.from(p.cnnlensNumbers.{name}.values)]")
    return np.array(values, np.float32).reshape(shape)


def cancel_mid_run(page, panel: str, cancel: str) -> int:
    """Presses the ``cancel`` button of the running ``panel`` and checks that the run stops
    where Cancel took effect: nothing is drawn after it and the worker has dropped the job.
    Returns the step shown when Cancel took effect."""
    # The step shown when Cancel takes effect, and every step drawn after it: a draw is a
    # task of its own, so the observer sees Cancel's state before any later draw.
    page.evaluate(f"""() => {{
        const p = document.querySelector("{panel}");
        window.atCancel = null;
        window.afterCancel = [];
        new MutationObserver((records) => {{
            if (p.dataset.state !== 'cancelled') return;
            if (window.atCancel === null) window.atCancel = Number(p.dataset.step);
            else if (records.some((r) => r.attributeName === 'data-cnnlens-method-ready'))
                window.afterCancel.push(Number(p.dataset.step));
        }}).observe(p, {{attributes: true,
                         attributeFilter: ['data-state', 'data-cnnlens-method-ready']}}); }}""")
    page.click(cancel)
    assert page.get_attribute(panel, "data-state") == "cancelled"
    stopped = page.evaluate("window.atCancel")
    # Requests run in order: once this one answers, the chunk that was on its way when
    # Cancel was pressed has been answered too, and any chunk asked after it would be.
    answer = page.evaluate("async () => await cnnlens.python.job_step(10)")
    assert "no long-running work is under way" in answer["error"]
    assert page.evaluate("window.afterCancel") == []  # the answer on its way is not drawn
    assert int(page.get_attribute(panel, "data-step")) == stopped
    assert page.get_attribute(panel, "data-state") == "cancelled"
    return stopped
