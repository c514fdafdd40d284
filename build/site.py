#!/usr/bin/env python3
"""Builds the deployable static site: `dist/` and `dist/cnnlens-site.zip`.

    python3 build/site.py [--out dist]        # make site

`dist/` keeps the repository's own paths (`index.html`, `assets/`, `py/`, `build/vendor/`),
so every relative URL in the page, its JavaScript and `pyscript.json` stays valid and the
folder works from any sub-path of any static host. What goes in is an allowlist of what the
page actually requests (checked in headless Chromium by tests/e2e/test_site.py), plus:

- `sw.js`, a generated service worker that precaches every file of the build but those a
  visit may never ask for (below), which it keeps once fetched. Its version is a hash of the
  list of (path, sha256) of all of them, so any changed file makes a new worker and a new
  cache; the worker checks each file's sha256 while precaching (fetch's
  `integrity`), so a cache never holds a mix of two releases, and takes what the page has
  just downloaded from the HTTP cache instead of asking the server again.
- `assets/js/offline.js` with the service worker switched on (the repository root, served by
  `make serve`, runs without one, so development never sees files from a stale cache).
- `assets/prerendered/`, the first overview drawn before Python starts (build/prerender.py),
  plus the views examples/blog-post.html embeds (`prerender.EMBEDDED`) and any
  `--prerender STATE` (an embed's view, say); sw.js precaches only the first overview's.
- Pyodide's `python_stdlib.zip` and NumPy wheel compiled to bytecode, with the lock file and
  runtime sizes that go with them (build/shipped_runtime.py; needs Node.js, without it the
  source files stay and the build says so): Python starts ~4× faster. The stdlib's modules
  the page never imports are in `python_stdlib_later.zip`, fetched on first import.
- our package as one archive, `py/cnnlens.zip` (build/package_zip.py: every module the page
  may import, its source and its checked-hash bytecode), which dist's `pyscript.json` has
  PyScript unpack, instead of one request per module.
- `index.html` and `embed.html` naming every module they import at start
  (`<link rel="modulepreload">`, build/preload.py), so a cold visit fetches them at once
  instead of level by level, and each linking its stylesheets as one file
  (`assets/css/index.css`, `embed.css`: build/stylesheets.py).
- `pyodide.mjs` renamed to `pyodide.esm.js`: Python 3.11's `http.server` and other plain hosts
  serve `.mjs` as `application/octet-stream`, which browsers refuse as a module.

Stdlib only. Importable: `build_site(out)` returns the `Site` with its file list and groups.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

BUILD = Path(__file__).resolve().parent
ROOT = BUILD.parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)

import package_zip  # noqa: E402
import preload  # noqa: E402
import prerender as prerendering  # noqa: E402  (build_site has an argument `prerender`)
import pyscript_config  # noqa: E402
import shipped_runtime  # noqa: E402
import stylesheets  # noqa: E402

ZIP_NAME = "cnnlens-site.zip"
SW_NAME = "sw.js"
SW_TEMPLATE = ROOT / "build" / "sw.template.js"
OFFLINE_JS = "assets/js/offline.js"
PRERENDERED = "assets/prerendered"
# The line in offline.js that the build flips; the source keeps the worker off.
SW_OFF = 'const SERVICE_WORKER = null;  // build/site.py switches this on in dist/'
SW_ON = f'const SERVICE_WORKER = "./{SW_NAME}";'
MJS = "build/vendor/pyodide/pyodide.mjs"
ESM = "build/vendor/pyodide/pyodide.esm.js"
STDLIB = "build/vendor/pyodide/python_stdlib.zip"

# PyScript's chunks that the page loads (recorded in headless Chromium against dist/, see
# tests/e2e/test_site.py, which fails when this list goes stale). core.js imports the rest at
# start-up, including py-editor, py-game and py-terminal, although we use none of them; the
# xterm, toml, zip, storage and MicroPython chunks are never requested. The CodeMirror
# chunks (and `index`, their shared chunk) are the live code cells' editor
# (assets/js/code-cells.js imports them once Python is up).
PYSCRIPT_CHUNKS = re.compile(
    r"(core|deprecations-manager|donkey|error|py-editor|py-game|py-terminal|index"
    r"|codemirror|codemirror_[a-z-]+)(-[A-Za-z0-9_-]{8})?\.js"
)
# pyodide.js is the classic-script build: PyScript imports the ES module instead.
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
                 "pyodide-lock.json")
# Kept although never requested: the licences of what we redistribute.
LICENSES = ("build/vendor/pyscript/LICENSE",)
APP_EXTENSIONS = {".js", ".css", ".svg", ".html"}

GROUPS = ("runtime", "packages", "app", "model", "images")


def group_of(path: str) -> str:
    """Which part of a first visit a dist path belongs to (for the size table)."""
    if path.endswith(".whl") or path.endswith("pyodide-lock.json"):
        return "packages"
    if path.startswith("build/vendor/"):
        return "runtime"
    if path.startswith("assets/models/"):
        return "model"
    if path.startswith("assets/images/"):
        return "images"
    return "app"


@dataclass
class Site:
    out: Path
    files: list[str] = field(default_factory=list)  # dist paths precached by sw.js
    on_demand: list[str] = field(default_factory=list)  # and those it keeps once fetched
    version: str = ""

    def sizes(self) -> dict[str, dict[str, int]]:
        return sizes({rel: self.out / rel for rel in self.files})


def sizes(files: dict[str, Path]) -> dict[str, dict[str, int]]:
    """Per group: number of files, raw bytes, and bytes after gzip -6 (what hosts send)."""
    table = {g: {"files": 0, "raw": 0, "gzip": 0} for g in (*GROUPS, "total")}
    for rel, path in files.items():
        data = path.read_bytes()
        packed = len(gzip.compress(data, 6, mtime=0))
        for key in (group_of(rel), "total"):
            table[key]["files"] += 1
            table[key]["raw"] += len(data)
            table[key]["gzip"] += packed
    return table


def page_modules() -> list[str]:
    """The modules the page may import, as paths under the repository (`py/cnnlens/…`),
    from the dev config (generated fresh from py/, never the possibly stale file)."""
    return [src.removeprefix("../") for src in pyscript_config.config()["files"]]


def dist_config() -> dict[str, object]:
    """dist's config: the renamed interpreter, and our package as one archive to unpack."""
    config = pyscript_config.config(packaged=True)
    config["interpreter"] = "../" + ESM
    return config


def sources(root: Path = ROOT) -> dict[str, Path]:
    """dist path → source file, for everything the page requests (sw.js excluded)."""
    chosen: dict[str, Path] = {}
    for name in ("index.html", "embed.html"):
        if (root / name).is_file():
            chosen[name] = root / name
    for path in sorted((root / "assets").rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or rel == "assets/pyscript.json" or path.name.startswith("."):
            continue
        if rel.startswith(("assets/js/", "assets/css/")) and path.suffix not in APP_EXTENSIONS:
            continue  # source maps and editor leftovers
        if rel.startswith("assets/models/") and path.suffix not in (".onnx", ".json"):
            continue  # model cards are for readers of the repository; the page reads the
            # models and their catalogue (index.json)
        chosen[rel] = path
    chosen["py/worker.py"] = root / "py" / "worker.py"
    vendor = root / "build" / "vendor"
    for path in sorted((vendor / "pyscript").iterdir()):
        if PYSCRIPT_CHUNKS.fullmatch(path.name):
            chosen[f"build/vendor/pyscript/{path.name}"] = path
    for name in PYODIDE_FILES:
        chosen[f"build/vendor/pyodide/{name}"] = vendor / "pyodide" / name
    # The wheels our trimmed pyodide-lock.json lists (NumPy, Pillow), loaded by py/worker.py.
    for path in sorted((vendor / "pyodide").glob("*.whl")):
        chosen[f"build/vendor/pyodide/{path.name}"] = path
    chosen[ESM] = chosen.pop(MJS)
    for rel in LICENSES:
        chosen[rel] = root / rel
    missing = [rel for rel, path in chosen.items() if not path.is_file()]
    if missing:
        raise SystemExit(f"site: missing {', '.join(missing)} (run `make vendor` first)")
    return chosen


def _rewrite(out: Path) -> None:
    """The few edits dist needs: the renamed interpreter, the service worker switch, the
    pages' first requests named in their HTML (build/preload.py) and their stylesheets as
    one file each (build/stylesheets.py)."""
    for path in [out / "index.html", out / "embed.html", *(out / "assets").rglob("*.js")]:
        if path.is_file():
            text = path.read_text()
            if MJS in text:
                path.write_text(text.replace(MJS, ESM))
    offline = out / OFFLINE_JS
    text = offline.read_text()
    if text.count(SW_OFF) != 1:
        raise SystemExit(f"site: {OFFLINE_JS} no longer has the line {SW_OFF!r}")
    offline.write_text(text.replace(SW_OFF, SW_ON))
    (out / "assets" / "pyscript.json").write_text(json.dumps(dist_config(), indent=2) + "\n")
    pages = ("index.html", "embed.html")
    for page in pages:
        preload.write(out, page)
        stylesheets.merge(out, page)
    linked = {sheet for page in pages for sheet in stylesheets.linked((out / page).read_text())}
    for sheet in (out / stylesheets.FOLDER).glob("*.css"):
        if sheet.relative_to(out).as_posix() not in linked:
            sheet.unlink()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _embeds_only(out: Path) -> set[str]:
    """The prerendered files of states after the first: what embeds fetch when they show
    them, never the page (so a first visit does not precache them)."""
    index = out / PRERENDERED / "index.json"
    states = json.loads(index.read_text())["states"][1:] if index.is_file() else []
    fields = ("view", "numbers", "rasters", "playground")
    return {f"{PRERENDERED}/{s[f]}" for s in states for f in fields if f in s}


def write_service_worker(out: Path) -> Site:
    """(Re)writes out/sw.js for exactly the files now in out (tests use it to make releases):
    it precaches them all but those a visit may never ask for (the embeds' other prerendered
    views, the later stdlib and NumPy's parts that no feature imports), which it keeps once
    they are fetched."""
    everything = sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*")
        if p.is_file() and p.name not in (SW_NAME, ZIP_NAME)
        and p.relative_to(out).as_posix() not in LICENSES
    )
    on_demand = {*_embeds_only(out), *shipped_runtime.ON_DEMAND} & set(everything)
    digests = {rel: sha256(out / rel) for rel in everything}
    listing = "".join(f"{rel} {digests[rel]}\n" for rel in everything)
    version = hashlib.sha256(listing.encode()).hexdigest()[:16]
    files = [rel for rel in everything if rel not in on_demand]
    text = SW_TEMPLATE.read_text().replace('"__VERSION__"', json.dumps(version))
    for name, paths in (("__FILES__", files), ("__ON_DEMAND__", sorted(on_demand))):
        text = text.replace(name, json.dumps({rel: digests[rel] for rel in paths}, indent=1))
    (out / SW_NAME).write_text(text)
    return Site(out=out, files=files, on_demand=sorted(on_demand), version=version)


def write_zip(out: Path) -> Path:
    """The whole site in one archive, byte-identical for identical builds (fixed dates)."""
    target = out / ZIP_NAME
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(out.rglob("*")):
            if path.is_file() and path != target:
                info = zipfile.ZipInfo(path.relative_to(out).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    return target


def build_site(out: Path, root: Path = ROOT,
               prerender: list[dict] | None = None) -> Site:
    """Writes a clean site into out (removed first) and returns what it holds.

    `prerender`: states to prerender besides the default one (build/prerender.py), e.g.
    those an embed of the site shows; the repository's own assets/prerendered/ stays."""
    chosen = sources(root)
    if out.exists():
        shutil.rmtree(out)
    for rel, src in chosen.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / rel)
    modules = [rel.removeprefix("py/") for rel in page_modules()]
    package = out / pyscript_config.ARCHIVE
    package.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(package_zip.packed(modules), package)
    for rel, data in shipped_runtime.replacements(root).items():
        (out / rel).write_bytes(data)
    if prerender:
        states = [prerendering.default_state(root)]
        states += [state for state in prerender if state not in states]
        prerendering.write(out / PRERENDERED, states, force=True)
    _rewrite(out)
    site = write_service_worker(out)
    write_zip(out)
    return site


def untrimmed_sizes(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """The same table for the whole vendored runtime, as a first visit would be untrimmed."""
    chosen = sources(root)
    chosen[MJS] = chosen.pop(ESM)  # the same file under its vendored name, counted once
    vendor = root / "build" / "vendor"
    for path in vendor.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and path.name != "VENDORED.json":
            chosen.setdefault(rel, path)
    for rel in page_modules():  # one request per module, as the dev page asks
        chosen[rel] = root / rel
    for name in pyscript_config.cli_modules():
        chosen[f"py/{name}"] = root / "py" / name
    return sizes(chosen)


def table(sizes: dict[str, dict[str, int]]) -> str:
    lines = [f"{'group':<10}{'files':>6}{'raw bytes':>14}{'gzip bytes':>14}"]
    for group, row in sizes.items():
        lines.append(f"{group:<10}{row['files']:>6}{row['raw']:>14,}{row['gzip']:>14,}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the static site into dist/.")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--compare", action="store_true",
                        help="also print the untrimmed first visit (every vendored file)")
    parser.add_argument("--prerender", action="append", default=[], metavar="STATE",
                        help="another state to prerender besides the blog post's views "
                        "(build/prerender.py's syntax), repeatable")
    args = parser.parse_args(argv)
    try:
        states = [prerendering.parse_state(text)
                  for text in (*prerendering.EMBEDDED, *args.prerender)]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    site = build_site(args.out.resolve(), prerender=states)
    if args.compare:
        print("first visit without trimming (every vendored file):")
        print(table(untrimmed_sizes()))
    print(f"first visit (version {site.version}; gzip -6 is what a compressing host sends):")
    print(table(site.sizes()))
    zip_size = (site.out / ZIP_NAME).stat().st_size
    print(f"wrote {args.out}/ ({len(site.files)} files) and {ZIP_NAME} ({zip_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
