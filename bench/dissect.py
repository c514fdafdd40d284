"""Dissection in the page: a full dissection of `conv_2_2` over the bundled probe set (300
Fashion-MNIST test images), and how long each of its chunks of Python work takes.

The first figure is the reader's first use: a click on the "What it stands for" tab of a
`conv_2_2` tile until the panel has drawn the finished dissection (the probe set fetched
and decoded, every batch run, the summary made, the panel drawn). The next are the same
work asked through the page's own queue (`dissect_start`, then `job_step` chunks until
done, as the panel asks), each with another number of top images so that none is the
session's cached answer.

    .venv/bin/python -m bench.dissect [--runs 5]
"""

from __future__ import annotations

import sys

from bench.browser import run_alone, summary

RUN_TIMEOUT_MS = 300_000
LAYER = "conv_2_2"

_FIRST_USE = """() => new Promise((resolve) => {
    const host = document.getElementById("method-dissect-host");
    const start = performance.now();
    const observer = new MutationObserver(() => {
        const panel = host.querySelector("[data-testid='method-dissect']");
        if (panel?.dataset.done === "true" && panel.dataset.cnnlensMethodReady) {
            observer.disconnect();
            resolve(performance.now() - start);
        }
    });
    observer.observe(host, {subtree: true, attributes: true});
    document.getElementById("tab-dissect").click();
})"""

# One whole dissection through the client: milliseconds to the last answer, and every
# chunk's own Python milliseconds.
_RUN = """async ([layer, top]) => {
    const start = performance.now();
    let answer = await cnnlens.client.ask("dissect_start", layer, "", top);
    const chunks = [];
    while (!answer.view.done) {
        answer = await cnnlens.client.ask("job_step", 80);
        chunks.push(answer.view.chunk.ms);
    }
    return {ms: performance.now() - start, chunks};
}"""


def measure(page, runs: int) -> dict:
    page.click(f"#overview canvas.tile[data-layer='{LAYER}'][data-channel='0']")
    page.wait_for_function("!document.querySelector('#detail').hidden")
    first = page.evaluate(_FIRST_USE)
    totals, chunks = [], []
    tops = [k for k in range(1, 33) if k != 8][:runs]  # 8: the panel's, cached now
    for top in tops:
        done = page.evaluate(_RUN, [LAYER, top])
        totals.append(done["ms"])
        chunks.extend(done["chunks"])
    return {
        "dissect_conv_2_2_first_use_ms": summary([first]),
        "dissect_conv_2_2_ms": summary(totals),
        "dissect_chunk_ms": summary(chunks),
    }


def _alone(page, runs: int) -> dict:
    page.set_default_timeout(RUN_TIMEOUT_MS)
    return measure(page, runs)


def main() -> int:
    return run_alone(__doc__, _alone)


if __name__ == "__main__":
    sys.exit(main())
