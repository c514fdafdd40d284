#!/usr/bin/env python3
"""Writes answers the page shows first as static files, so they are drawn before Python starts.

    python3 build/prerender.py [--out DIR] [--state STATE ...] [--force]

A state is one of
    MODEL:IMAGE:RANGE            an overview (a catalogue id, one of its examples, a colour range)
    MODEL:IMAGE:LAYER:CHANNEL    a detail view (`detail(LAYER, CHANNEL)`, an embed's conv view)
    playground:N:P:K:S           the hyperparameter playground for one setting

For each state (the default: the catalogue's first model, its first example, range `layer`;
plus any `--state`) it runs `page.App`, the worker's own request handlers, and writes the
answer exactly as the worker sends it, one file per field: JSON text (`<name>.json`; the
playground's `<name>.json` is its `playground` field), the raster buffer (`<name>.bin`) and a
detail view's float32 numbers (`<name>.numbers.bin`), with `index.json` listing the states
(`kind`: `overview`, `detail` or `playground`, their keys, and each field's file) and the
`start` answer's examples and catalogue (the page fills its example strip and model picker
from them). `assets/prerendered/` holds the default state, committed; `make serve` and
`make site` run this script first, and it rewrites nothing while its inputs are unchanged.
`make site` adds `EMBEDDED`, the views examples/blog-post.html embeds, to dist/.

It runs on the worker's runtime, Pyodide under Node.js, not on CPython: the page compares
the worker's first answer with these bytes and redraws nothing when they are equal, and
CPython's NumPy (OpenBLAS, x86 SIMD) rounds some float32 values one unit in the last place
away from Pyodide's, which changes the view's JSON text (the rasters agree). Without Node.js
the script says so and leaves the committed files as they are; the page then redraws the
live answer if it differs.

The same file is imported inside Pyodide (`compute` below), with the repository mounted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

BUILD = Path(__file__).resolve().parent
ROOT = BUILD.parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)
OUT = ROOT / "assets" / "prerendered"
PYODIDE = ROOT / "build" / "vendor" / "pyodide"
CACHE = ROOT / "build" / "cache" / "prerender"
STAMP = CACHE / "stamp"
INDEX = "index.json"
DEFAULT_RANGE = "layer"
RANGES = ("layer", "neuron", "network")

# Run by build/pyodide_node.py, which links the vendored runtime where Node can load it.
NODE_SCRIPT = """
const [runtime, root, out, states] = process.argv.slice(1);
const { loadPyodide } = await import(runtime + "/pyodide.mjs");
const pyodide = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
await pyodide.loadPackage(["numpy", "pillow"], { messageCallback: () => {} });
pyodide.FS.mkdir("/repo");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root }, "/repo");
pyodide.FS.mkdir("/out");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: out }, "/out");
try {
  const compute = pyodide.runPython(
    "import sys; sys.path[:0] = ['/repo/py', '/repo/build']; import prerender; prerender.compute");
  await compute("/repo", "/out", states);
} catch (error) {
  console.error(error.message);  // Python's traceback, without the runtime's minified source
  process.exit(1);
}
"""


# The views examples/blog-post.html embeds (its frames' addresses, as embed-page.js reads them).
EMBEDDED = ("fashion-mnist:trouser_1.png:layer", "fashion-mnist:trouser_1.png:conv_1_2:3",
            "playground:5:1:3:2")
PLAYGROUND = ("n", "p", "k", "s")


def parse_state(text: str) -> dict:
    """A state's text (see the module's docstring) → its `kind` and keys."""
    parts = text.split(":")
    if parts[0] == "playground" and len(parts) == 5 and all(p.isdigit() for p in parts[1:]):
        values = (int(v) for v in parts[1:])
        return {"kind": "playground", **dict(zip(PLAYGROUND, values, strict=True))}
    if len(parts) == 4 and all(parts) and parts[3].isdigit():
        return {"kind": "detail", "model": parts[0], "image": parts[1], "layer": parts[2],
                "channel": int(parts[3])}
    if len(parts) != 3 or not all(parts) or parts[2] not in RANGES:
        raise argparse.ArgumentTypeError(
            f"a state is MODEL:IMAGE:RANGE with RANGE one of {', '.join(RANGES)}, "
            f"MODEL:IMAGE:LAYER:CHANNEL or playground:N:P:K:S, not {text!r}")
    return {"kind": "overview", "model": parts[0], "image": parts[1], "range": parts[2]}


def file_stem(state: dict) -> str:
    """`fashion-mnist--ankle-boot_1--layer`, `fashion-mnist--trouser_1--conv_1_2--3`,
    `playground--5-1-3-2`: one name per state, safe in any URL."""
    if state["kind"] == "playground":
        return "playground--" + "-".join(str(state[k]) for k in PLAYGROUND)
    image = state["image"].rsplit(".", 1)[0]
    last = [state["range"]] if state["kind"] == "overview" else [
        re.sub(r"[^A-Za-z0-9_.-]", "_", state["layer"]), str(state["channel"])]
    return "--".join((state["model"], image, *last))


def default_state(root: Path = ROOT) -> dict:
    catalogue = json.loads((root / "assets" / "models" / "index.json").read_text())
    entry = catalogue[0]
    examples = json.loads((root / entry["examples"] / "index.json").read_text())
    return {"kind": "overview", "model": entry["id"], "image": examples[0]["file"],
            "range": DEFAULT_RANGE}


# --- inside Pyodide: the worker's handlers, the worker's answers ---

async def compute(root: str, out: str, states_json: str) -> None:
    """Writes each state's answer, as `page.App` answers it, under `out`."""
    from cnnlens.errors import CnnlensError
    from cnnlens.page import App

    async def fetch(url: str) -> bytes:
        path = Path(root) / url
        if not path.is_file():
            raise CnnlensError(f"could not load {url} (HTTP 404)")
        return path.read_bytes()

    listed = []
    started = None
    for state in json.loads(states_json):
        app = App(fetch, "")
        answer = await app.start()
        if started is None:
            started = {"model": answer["model"], "examples": json.loads(answer["examples"]),
                       "catalogue": json.loads(answer["catalogue"])}
        if state["kind"] == "playground":
            answer = app.playground(*(state[k] for k in PLAYGROUND))
        else:
            if state["model"] != answer["model"]:
                answer = await app.open_model(state["model"])
            if "error" not in answer:
                answer = await app.example(state["image"])
            if "error" not in answer:
                answer = (app.mode(state["range"]) if state["kind"] == "overview"
                          else app.detail(state["layer"], state["channel"]))
        stem = file_stem(state)
        if "error" in answer:
            raise SystemExit(f"prerender: {stem}: {answer['error']}")
        files = {}
        for field, value in answer.items():
            if field in ("timings", "backend"):
                continue  # outside what the page compares (they differ from run to run)
            name = (f"{stem}.json" if isinstance(value, str) else
                    f"{stem}.bin" if field == "rasters" else f"{stem}.{field}.bin")
            target = Path(out) / name
            target.write_text(value) if isinstance(value, str) else target.write_bytes(
                bytes(value))
            files[field] = name
        listed.append({**state, **files})
    index = {"started": started, "states": listed}
    (Path(out) / INDEX).write_text(json.dumps(index, indent=1) + "\n")


# --- in CPython: when to run, and running it ---

def inputs(states: list[dict], root: Path = ROOT) -> str:
    """A digest of everything the answers depend on: our Python, the catalogue, the states'
    models and example folders (images, index, pack), the runtime's lock file, this script."""
    catalogue = json.loads((root / "assets" / "models" / "index.json").read_text())
    entries = {e["id"]: e for e in catalogue}
    paths = sorted((root / "py" / "cnnlens").rglob("*.py"))
    paths += [root / "assets" / "models" / "index.json", PYODIDE / "pyodide-lock.json",
              Path(__file__).resolve()]
    for state in states:
        if state["kind"] == "playground":
            continue  # our Python alone
        entry = entries.get(state["model"])
        if entry is None:
            raise SystemExit(f"prerender: there is no model {state['model']!r} in the catalogue")
        paths.append(root / entry["file"])
        folder = root / (entry["examples"] or catalogue[0]["examples"])
        paths += sorted(path for path in folder.iterdir() if path.is_file())  # + its pack
    digest = hashlib.sha256(json.dumps(states).encode())
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest()


def outputs(out: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(out.glob("*")) if out.is_dir() else []:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def write(out: Path, states: list[dict], force: bool = False) -> bool:
    """Writes the answers for `states` into `out` unless they are up to date; True if it ran."""
    stamp_key = f"{out.resolve()}\n{inputs(states)}"
    if not force and STAMP.is_file():
        recorded = STAMP.read_text().split("\n")
        if "\n".join(recorded[:2]) == stamp_key and recorded[2:3] == [outputs(out)]:
            return False
    import pyodide_node

    if pyodide_node.node() is None:
        print("prerender: Node.js is not installed, so the prerendered first paint in "
              f"{out} was not rebuilt; the page redraws the live answer if it differs",
              file=sys.stderr)
        return False
    if not (PYODIDE / "pyodide.mjs").is_file():
        raise SystemExit("prerender: the vendored runtime is missing (run `make vendor` first)")
    shutil.rmtree(CACHE / "runtime", ignore_errors=True)  # where earlier versions linked it
    fresh = CACHE / "out"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    status = pyodide_node.run(NODE_SCRIPT, str(ROOT), str(fresh), json.dumps(states))
    if status != 0:
        raise SystemExit(f"prerender: page.App failed in Pyodide (exit {status}), "
                         "see above; nothing was written")
    out.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in out.glob("*")) - set(p.name for p in fresh.glob("*")):
        (out / stale).unlink()
    written = 0
    for made in sorted(fresh.glob("*")):
        target = out / made.name
        if not target.is_file() or target.read_bytes() != made.read_bytes():
            shutil.copyfile(made, target)
            shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
            print(f"prerender: wrote {shown}")
            written += 1
    if not written:
        print(f"prerender: {len(states)} state(s) answered as already written")
    STAMP.write_text(f"{stamp_key}\n{outputs(out)}\n")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prerender the page's first answers.")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--state", type=parse_state, action="append", default=[],
                        help="another state to prerender, MODEL:IMAGE:RANGE, "
                        "MODEL:IMAGE:LAYER:CHANNEL or playground:N:P:K:S (repeatable)")
    parser.add_argument("--force", action="store_true", help="run even when up to date")
    args = parser.parse_args(argv)
    states = [default_state()]
    states += [s for s in args.state if s not in states]
    write(args.out, states, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
