"""Memory: the page's JS heap and Pyodide's WebAssembly memory, after boot and after many
image switches (WebAssembly memory never shrinks, so a leak shows as growth)."""

from __future__ import annotations

import itertools
import json

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


def _usage(send) -> dict[str, int]:
    """One isolate's live JS objects plus its ArrayBuffers' stores (typed arrays, tensors),
    after a forced GC."""
    send("HeapProfiler.collectGarbage")
    usage = send("Runtime.getHeapUsage")
    return {"js": int(usage["usedSize"]), "buffers": int(usage.get("backingStorageSize", 0))}


def heaps(page, wasm: str = "0", settle_ms: int = 2_000) -> dict[str, object]:
    """The page's main thread and each of its dedicated workers (CDP, the same way for any
    site): `main_bytes`, `worker_bytes`, and the parts. Each is the JS heap plus ArrayBuffer
    stores; CDP leaves WebAssembly memories out, so `wasm` (a JS expression, awaited in the
    page) gives the workers' (ours: Pyodide's heap)."""
    cdp = page.context.new_cdp_session(page)
    workers: dict[str, str] = {}
    replies: dict[int, dict] = {}
    ids = itertools.count(1)

    def attached(event: dict) -> None:
        if event["targetInfo"]["type"] == "worker":
            workers[event["sessionId"]] = event["targetInfo"]["url"]

    def received(event: dict) -> None:
        message = json.loads(event["message"])
        if "id" in message:
            replies[message["id"]] = message

    cdp.on("Target.attachedToTarget", attached)
    cdp.on("Target.receivedMessageFromTarget", received)
    try:
        main = _usage(lambda method: cdp.send(method))
        cdp.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False,
                                          "flatten": False})
        page.wait_for_timeout(200)  # attachedToTarget for the running workers
        per_worker = {}
        # A copy: a worker started meanwhile (the built site's throwaway workers) attaches
        # during the loop; one that ended meanwhile never answers and is left out.
        for session, url in list(workers.items()):
            def send(method: str, session: str = session, url: str = url) -> dict:
                ident = next(ids)
                cdp.send("Target.sendMessageToTarget", {"sessionId": session, "message":
                         json.dumps({"id": ident, "method": method})})
                for _ in range(settle_ms // 20):
                    if ident in replies:
                        return replies.pop(ident)["result"]
                    page.wait_for_timeout(20)
                raise TimeoutError(f"worker {url} did not answer {method}")
            try:
                per_worker[url] = _usage(send)
            except TimeoutError:
                continue
    finally:
        cdp.detach()
    wasm_bytes = int(page.evaluate(f"async () => {wasm}"))
    return {"main_bytes": main["js"] + main["buffers"],
            "worker_bytes": wasm_bytes + sum(w["js"] + w["buffers"]
                                             for w in per_worker.values()),
            "main": main, "workers": per_worker, "wasm_bytes": wasm_bytes}
