"""Memory: the page's JS heap and Pyodide's WebAssembly memory, after boot and after many
image switches (WebAssembly memory never shrinks, so a leak shows as growth)."""

from __future__ import annotations

from bench.interaction import example_files, switch_image


def snapshot(page) -> dict[str, int]:
    """JS heap in use on the main thread (CDP) and the worker's WebAssembly memory."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")  # count what is live, not what awaits GC
        heap = cdp.send("Runtime.getHeapUsage")
    finally:
        cdp.detach()
    wasm = page.evaluate("async () => (await cnnlens.python.memory()).wasm_bytes")
    return {"js_heap_bytes": int(heap["usedSize"]), "wasm_bytes": int(wasm)}


def growth(page, switches: int) -> dict[str, dict[str, int]]:
    """Snapshots before and after `switches` image switches on one booted page."""
    before = snapshot(page)
    files = example_files(page)
    for i in range(switches):
        switch_image(page, files[(i + 1) % len(files)])
    return {"before": before, "after": snapshot(page)}
