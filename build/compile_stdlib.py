#!/usr/bin/env python3
"""Pyodide's `python_stdlib.zip` as bytecode, for dist/: each `name.py` becomes `name.pyc`.

    python3 build/compile_stdlib.py      # prints the cached zip's path (build/site.py uses it)

Pyodide 0.27.7 ships the stdlib as source only, so every page load compiles each module it
imports; with bytecode in the zip (imported sourceless, as zipimport allows) "Python start"
took 4.7 s instead of 19.3 s in the page on a loaded machine, for 1.6 MB more (deflated).
The bytecode must be Pyodide's Python 3.12, so it is compiled inside Pyodide under Node.js
(build/pyodide_node.py), then checked by booting a second Pyodide on it. Unchecked-hash pycs
(nothing to check against) and a zip written with sorted names and fixed dates make the
output byte-identical for the same input. Cached in build/cache/stdlib/, keyed by the input
zip, Pyodide's version and this script; without Node.js there is none and the site keeps the
source zip.

The page never imports much of the stdlib (mail and network protocols a worker cannot
open, debuggers, test runners, most codecs, …): that part, `LATER`, goes into a second
zip, `python_stdlib_later.zip`, which py/cnnlens/later_modules.py fetches the first time
something imports one of its modules (a learner's live code, say). The main zip carries the
list of those modules as a small generated module (`_later_stdlib`), so an import that fails
for any other reason never fetches anything.

The same file is imported inside Pyodide (`compile_zip` below).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import zipfile
from pathlib import Path

BUILD = Path(__file__).resolve().parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)
CACHE = BUILD / "cache" / "stdlib"
NAME = "python_stdlib.zip"
LATER_NAME = "python_stdlib_later.zip"
# Where the runtime is in the site; the later zip is next to the main one, and the page
# fetches it from there.
RUNTIME_PATH = "build/vendor/pyodide"
LATER_PATH = f"{RUNTIME_PATH}/{LATER_NAME}"
# Where Pyodide mounts the stdlib zip: source imports give their code this file name, so
# tracebacks read the same as with the source zip; and where later_modules.py mounts the other.
MOUNTED = "/lib/python312.zip"
LATER_MOUNTED = "/lib/python312_later.zip"
# The generated module in the main zip that names what the later one holds.
LATER_MODULE = "_later_stdlib"
# Top-level modules and packages that neither the page nor what it runs (PyScript, Pyodide's
# package loader, NumPy, Pillow) imports, as its sys.modules showed after a boot, an upload
# and a live-code run (our CLI's argparse runs in CPython only). tests/e2e/conftest.py fails
# any browser test whose page fetched the later zip without saying it should.
LATER = frozenset({
    "__hello__", "__phello__", "_markupbase", "_pydatetime", "_pyio",
    "_sysconfigdata__emscripten_wasm32-emscripten", "aifc", "antigravity", "argparse", "bdb",
    "cgi", "cgitb", "chunk", "cmd", "colorsys", "compileall", "configparser", "cProfile",
    "crypt", "difflib", "doctest", "filecmp", "fileinput", "ftplib", "getopt", "getpass",
    "gettext", "graphlib", "html", "http", "imaplib", "imghdr", "mailbox", "mailcap",
    "mimetypes", "modulefinder", "multiprocessing", "netrc", "nntplib", "optparse", "pdb",
    "pickletools", "pipes", "pkgutil", "plistlib", "poplib", "pprint", "profile", "pstats",
    "pty", "py_compile", "pyclbr", "pydoc", "rlcompleter", "runpy", "sched", "shelve", "shlex",
    "smtplib", "sndhdr", "socketserver", "statistics", "stringprep", "sunau", "symtable",
    "sysconfig", "tabnanny", "telnetlib", "this", "timeit", "tomllib", "trace", "tracemalloc",
    "tty", "unittest", "uu", "uuid", "wave", "webbrowser", "wsgiref", "xdrlib", "xml",
    "xmlrpc", "zipapp", "zoneinfo",
})
# Parts of the packages the page imports that it never does: Windows' event loops, email's
# header parser and MIME classes, logging's handlers and config, urllib's client side, …
LATER_PARTS = {
    "asyncio": frozenset({"__main__", "proactor_events", "windows_events", "windows_utils"}),
    "ctypes": frozenset({"_aix", "macholib", "util", "wintypes"}),
    "email": frozenset({"_header_value_parser", "contentmanager", "headerregistry", "mime",
                        "policy"}),
    "json": frozenset({"tool"}),
    "logging": frozenset({"config", "handlers"}),
    "urllib": frozenset({"error", "request", "response", "robotparser"}),
}
# The codecs kept in the main zip: those Python, zipfile (cp437 names) and the web's text
# use; the other hundred (code pages, CJK, Mac) are in the later zip.
CODECS = frozenset({
    "__init__", "aliases", "ascii", "base64_codec", "charmap", "cp437", "hex_codec", "idna",
    "latin_1", "punycode", "raw_unicode_escape", "undefined", "unicode_escape", "utf_16",
    "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le", "utf_7", "utf_8",
    "utf_8_sig",
})
DATE = (1980, 1, 1, 0, 0, 0)
# Modules the check imports from the compiled zip: ours, PyScript's and NumPy's start-up needs.
CHECK = ("asyncio", "json", "email.parser", "importlib.metadata", "zipfile", "tempfile",
         "pathlib", "dataclasses", "typing", "base64", "struct")

NODE_SCRIPT = """
const [runtime, build, source, folder, py] = process.argv.slice(1);
const { loadPyodide } = await import(runtime + "/pyodide.mjs");
const fs = await import("fs");
try {
  const pyodide = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  pyodide.FS.mkdir("/build");
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: build }, "/build");
  pyodide.FS.writeFile("/source.zip", fs.readFileSync(source));
  pyodide.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_stdlib;"
    + "compile_stdlib.compile_zip('/source.zip', '/main.zip', '/later.zip')");
  fs.writeFileSync(`${folder}/python_stdlib.zip`, pyodide.FS.readFile("/main.zip"));
  fs.writeFileSync(`${folder}/python_stdlib_later.zip`, pyodide.FS.readFile("/later.zip"));
  const check = await loadPyodide({ indexURL: runtime + "/", stdout: () => {},
                                    stdLibURL: `${folder}/python_stdlib.zip` });
  for (const [at, root] of [["/build", build], ["/py", py], ["/folder", folder]]) {
    check.FS.mkdir(at);
    check.FS.mount(check.FS.filesystems.NODEFS, { root }, at);
  }
  check.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_stdlib; compile_stdlib.check()");
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
"""
# Modules of the later zip the check imports through py/cnnlens/later_modules.py's finder.
CHECK_LATER = ("statistics", "unittest.mock", "encodings.cp1252", "encodings.mac_roman",
               "xml.dom.minidom", "email.mime.text", "email.policy", "urllib.request",
               "logging.handlers")


# --- inside Pyodide ---

def compiled_entry(name: str, data: bytes, folder: str) -> tuple[str, bytes]:
    """A zip entry as shipped: a `.py` (imported from `folder`) as its `.pyc`, else as is."""
    from importlib._bootstrap_external import _code_to_hash_pyc
    from importlib.util import source_hash

    if not name.endswith(".py"):
        return name, data
    code = compile(data, f"{folder}/{name}", "exec", dont_inherit=True, optimize=0)
    return name + "c", bytes(_code_to_hash_pyc(code, source_hash(data), checked=False))


def write_entries(target: str, entries: list[tuple[str, bytes, int]]) -> None:
    """(name, bytes, external_attr) entries into the zip `target`: sorted, fixed dates."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name, data, attributes in sorted(entries, key=lambda e: e[0]):
            info = zipfile.ZipInfo(name, DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = attributes
            out.writestr(info, data)


def later_module(name: str) -> str | None:
    """The module an entry of the stdlib zip belongs to when it goes in the later zip (what
    an import of it asks for: `unittest`, `encodings.cp1252`, `email.mime`), else None."""
    top, _, rest = name.partition("/")
    if top.removesuffix(".py") in LATER:
        return top.removesuffix(".py")
    part = rest.split("/")[0].removesuffix(".py")
    if top == "encodings" and rest.endswith(".py") and part not in CODECS:
        return f"encodings.{part}"
    if part in LATER_PARTS.get(top, ()):
        return f"{top}.{part}"
    return None


def listing(script: str, what: str, archives: list[tuple[str, str, bool, set[str]]]) -> str:
    """The source of a generated module that names archives for py/cnnlens/later_modules.py
    (its `ARCHIVES`): each one's site path, root, whether it is unpacked, and its modules."""
    rows = "".join(f"    {{'path': {path!r}, 'root': {root!r}, 'unpack': {unpack!r},\n"
                   f"     'names': frozenset({sorted(names)!r})}},\n"
                   for path, root, unpack, names in archives)
    return f'"""Generated by {script}: {what}."""\nARCHIVES = (\n{rows})\n'


def finders_reading(listing_module: str, folder: str) -> list:
    """The page's finders (py/cnnlens/later_modules.py, at /py) for the archives that the
    generated module `listing_module` names, reading each from `folder` instead of the site."""
    import importlib

    sys.path.insert(0, "/py/cnnlens")
    from later_modules import finders

    return finders(importlib.import_module(listing_module), lambda path: lambda name: Path(
        f"{folder}/{path.rpartition('/')[2]}").read_bytes())


def compile_zip(source: str, target: str, later_target: str) -> None:
    """Writes `source`'s entries, each `.py` compiled to `.pyc`, into `target` or, for
    the modules `later_module` names, `later_target`; `target` also gets LATER_MODULE."""
    main: list[tuple[str, bytes, int]] = []
    later: list[tuple[str, bytes, int]] = []
    names: set[str] = set()
    with zipfile.ZipFile(source) as src:
        for entry in src.infolist():
            module = later_module(entry.filename)
            folder = MOUNTED if module is None else LATER_MOUNTED
            compiled = (*compiled_entry(entry.filename, src.read(entry), folder),
                        entry.external_attr)
            (main if module is None else later).append(compiled)
            if module is not None:
                names.add(module)
    parts = {f"{top}.{part}" for top, named in LATER_PARTS.items() for part in named}
    if missing := (LATER | parts) - names:
        raise SystemExit(f"compile_stdlib: LATER and LATER_PARTS name what the stdlib lacks: "
                         f"{sorted(missing)}")
    text = listing("build/compile_stdlib.py", f"the modules in {LATER_NAME}",
                   [(LATER_PATH, LATER_MOUNTED, False, names)])
    main.append((f"{LATER_MODULE}.py", text.encode(), 0o644 << 16))  # data: read as is
    write_entries(target, main)
    write_entries(later_target, later)


def check() -> None:
    """In an interpreter started on the main zip: CHECK imports from its `.pyc`s without the
    later zip; then CHECK_LATER imports from the later zip (at /folder) through the page's
    finder (py/cnnlens/later_modules.py, at /py)."""
    import codecs
    import importlib

    def imported(names: tuple[str, ...], folder: str) -> None:
        for name in names:
            origin = importlib.import_module(name).__file__ or ""
            if not (origin.startswith(folder) and origin.endswith(".pyc")):
                raise SystemExit(f"compile_stdlib: {name} was imported from {origin}, "
                                 f"not a .pyc in {folder}")

    imported(CHECK, MOUNTED)
    (finder,) = finders_reading(LATER_MODULE, "/folder")
    if early := sorted(finder.names & set(sys.modules)):
        raise SystemExit(f"compile_stdlib: {early} imported at start: not for the later zip")
    sys.meta_path.append(finder)
    imported(CHECK_LATER, LATER_MOUNTED)
    if "é€".encode("cp1252") != b"\xe9\x80" or codecs.lookup("koi8_r").name != "koi8-r":
        raise SystemExit("compile_stdlib: the later zip's codecs do not encode")


# --- in CPython ---

def key(source: Path, version: str) -> str:
    digest = hashlib.sha256(version.encode() + b"\0")
    digest.update(hashlib.sha256(source.read_bytes()).digest())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def build(folder: Path) -> None:
    """Compiles the vendored runtime's zip into NAME and LATER_NAME in `folder` (made
    here), in Pyodide (Node.js needed)."""
    import pyodide_node as runner  # CPython only: this script is also imported in Pyodide
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    status = runner.run(NODE_SCRIPT, str(BUILD), str(runner.PYODIDE / NAME), str(partial),
                        str(BUILD.parent / "py"))
    if status != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise SystemExit(f"compile_stdlib: compiling {NAME} in Pyodide failed (exit {status})")
    partial.replace(folder)


def compiled() -> Path | None:
    """The folder of the two compiled zips for the vendored runtime (made once, then from
    the cache), or None without Node.js."""
    import pyodide_node as runner  # CPython only: this script is also imported in Pyodide
    source = runner.PYODIDE / NAME
    if not source.is_file():
        raise SystemExit("compile_stdlib: the vendored runtime is missing (run `make vendor`)")
    target = CACHE / key(source, runner.version())
    if (target / NAME).is_file():
        return target
    if runner.node() is None:
        print("compile_stdlib: Node.js is not installed, so dist/ keeps Pyodide's source-only "
              f"{NAME} (Python start compiles the stdlib on every page load)", file=sys.stderr)
        return None
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    build(target)
    print(f"compile_stdlib: wrote {target.relative_to(BUILD.parent)}/", file=sys.stderr)
    return target


if __name__ == "__main__":
    made = compiled()
    print(made or "(none: Node.js is not installed)")
    sys.exit(0)
