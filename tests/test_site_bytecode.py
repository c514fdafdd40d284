"""dist/ ships Pyodide's stdlib, NumPy and Pillow as Python 3.12 bytecode
(build/compile_stdlib.py, build/compile_wheels.py), complete, deterministic and precached
under their own hashes, and our package as one archive of sources and checked-hash bytecode
(build/package_zip.py).
That the page boots on them is tests/e2e/test_site.py's."""

from __future__ import annotations

import _imp
import base64
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import load_build_script

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "build" / "vendor" / "pyodide" / "python_stdlib.zip"
# CPython 3.12's bytecode magic number (3531, Lib/importlib/_bootstrap_external.py), then the
# flags word of PEP 552: hash-based (bit 0), not checked against a source (bit 1 clear).
MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH = (1).to_bytes(4, "little")
CHECKED_HASH = (3).to_bytes(4, "little")  # bit 1 set: checked against the source's hash
PY = ROOT / "py"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None,
                       reason="Node.js is not installed: the stdlib is compiled inside Pyodide "
                              "under Node, and without it dist/ keeps the source zip"),
    pytest.mark.skipif(not SOURCE.is_file(), reason="the runtime is not vendored (make vendor)"),
]


def official_names() -> list[str]:
    """The vendored zip's names, once its bytes are checked against build/manifest.json."""
    manifest = json.loads((ROOT / "build" / "manifest.json").read_text())
    pinned = json.dumps(manifest)
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert digest in pinned, "build/vendor/pyodide/python_stdlib.zip is not the pinned file"
    return zipfile.ZipFile(SOURCE).namelist()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return load_build_script("site").build_site(tmp_path_factory.mktemp("site") / "dist")


def test_dist_holds_a_pyc_for_every_py_of_the_official_zip_and_no_source(site):
    """In two zips: what the page never imports (build/compile_stdlib.py's LATER, most
    codecs) in the later one, each module in exactly one of them."""
    official = official_names()
    folder = site.out / "build/vendor/pyodide"
    main = zipfile.ZipFile(folder / "python_stdlib.zip")
    later = zipfile.ZipFile(folder / "python_stdlib_later.zip")
    names = [n for n in main.namelist() if n != "_later_stdlib.py"] + later.namelist()
    assert len(names) == len(set(names))
    sources = [n for n in official if n.endswith(".py")]
    assert len(sources) > 400
    assert not [n for n in names if n.endswith(".py")]
    assert sorted(n for n in names if n.endswith(".pyc")) == sorted(n + "c" for n in sources)
    # Everything else (directories, data files, py.typed) is carried over unchanged.
    others = sorted(n for n in official if not n.endswith(".py"))
    assert sorted(n for n in names if not n.endswith(".pyc")) == others
    for name in others:
        shipped = main if name in main.namelist() else later
        assert shipped.read(name) == zipfile.ZipFile(SOURCE).read(name)
    for name in ("asyncio/__init__.pyc", "json/decoder.pyc", "zipfile/__init__.pyc",
                 "encodings/utf_8.pyc", "encodings/cp437.pyc"):
        assert main.read(name)[:8] == MAGIC_312 + UNCHECKED_HASH, name
    for name in ("statistics.pyc", "unittest/case.pyc", "encodings/cp1252.pyc",
                 "multiprocessing/pool.pyc", "pydoc.pyc"):
        assert later.read(name)[:8] == MAGIC_312 + UNCHECKED_HASH, name
    # The listing the page's finder reads names the later zip's modules, and those only.
    listing: dict = {}
    exec(main.read("_later_stdlib.py"), listing)
    # A package wholly in the later zip is asked for by its name; one whose other half is in
    # the main zip (encodings, email, …) by the names of the parts the later zip holds.
    split = {n.split("/")[0] for n in main.namelist() if "/" in n}
    names = {top.removesuffix(".pyc") if top not in split else
             f"{top}.{rest.split('/')[0].removesuffix('.pyc')}"
             for top, _, rest in (n.partition("/") for n in later.namelist())}
    assert {"xml", "encodings.cp1252", "email.mime", "urllib.request"} <= names
    (archive,) = listing["ARCHIVES"]
    assert archive["names"] == names
    assert (archive["root"], archive["unpack"]) == ("/lib/python312_later.zip", False)
    assert (site.out / archive["path"]).read_bytes() == (folder / later.filename).read_bytes()


def test_the_service_worker_precaches_the_main_zip_and_keeps_the_later_one_when_asked(site):
    folder = site.out / "build/vendor/pyodide"
    worker = (site.out / "sw.js").read_text()
    files = json.loads(worker.split("const FILES = ", 1)[1].split(";\n", 1)[0])
    on_demand = json.loads(worker.split("const ON_DEMAND = ", 1)[1].split(";\n", 1)[0])
    main = "build/vendor/pyodide/python_stdlib.zip"
    later = "build/vendor/pyodide/python_stdlib_later.zip"
    assert files[main] == hashlib.sha256((folder / "python_stdlib.zip").read_bytes()).hexdigest()
    assert later not in files and later not in site.files
    assert on_demand[later] == hashlib.sha256((site.out / later).read_bytes()).hexdigest()
    assert hashlib.sha256(SOURCE.read_bytes()).hexdigest() not in worker


def test_the_boot_progress_counts_the_compiled_zips_bytes(site):
    sizes = json.loads((site.out / "assets/runtime-sizes.json").read_text())
    zip_path = site.out / "build/vendor/pyodide/python_stdlib.zip"
    assert sizes["python_stdlib.zip"] == len(zip_path.read_bytes()) != SOURCE.stat().st_size
    wasm = site.out / "build/vendor/pyodide/pyodide.asm.wasm"
    assert sizes["pyodide.asm.wasm"] == len(wasm.read_bytes())


@pytest.mark.slow  # compiles the stdlib once more in Pyodide
def test_two_builds_write_the_same_bytes(site, tmp_path):
    compile_stdlib = load_build_script("compile_stdlib")
    again = tmp_path / "again"
    compile_stdlib.build(again)
    for name in ("python_stdlib.zip", "python_stdlib_later.zip"):
        shipped = site.out / "build/vendor/pyodide" / name
        assert (again / name).read_bytes() == shipped.read_bytes(), name


def test_our_package_is_one_archive_of_sources_and_checked_bytecode(site):
    """Every module the page may import, its source as in py/ (the page reads the ops'
    source), and beside it a 3.12 pyc whose hash is the source's, so Python takes it."""
    config = json.loads((site.out / "assets/pyscript.json").read_text())
    assert config["files"] == {"../py/cnnlens.zip": "./*"}
    assert not (site.out / "py/cnnlens").exists()
    archive = zipfile.ZipFile(site.out / "py/cnnlens.zip")
    sources = sorted(n for n in archive.namelist() if n.endswith(".py"))
    cli_only = load_build_script("pyscript_config").CLI_ONLY
    modules = [p.relative_to(PY).as_posix() for p in (PY / "cnnlens").rglob("*.py")]
    assert sources == sorted(m for m in modules if not m.startswith(cli_only))
    assert "cnnlens/ops/conv.py" in sources and "cnnlens/cli.py" not in sources
    pycs = sorted(n for n in archive.namelist() if n.endswith(".pyc"))
    assert len(pycs) == len(sources)
    for name in sources:
        source = archive.read(name)
        assert source == (PY / name).read_bytes(), name
        folder, _, file = name.rpartition("/")
        pyc = archive.read(f"{folder}/__pycache__/{file[:-3]}.cpython-312.pyc")
        assert pyc[:8] == MAGIC_312 + CHECKED_HASH, name
        # CPython's own siphash of the source under 3.12's magic number (what 3.12 checks).
        assert pyc[8:16] == _imp.source_hash(int.from_bytes(MAGIC_312, "little"), source)


def test_two_builds_of_our_package_write_the_same_bytes(site, tmp_path):
    package_zip = load_build_script("package_zip")
    again = tmp_path / "again.zip"
    package_zip.write(again, package_zip.page_modules())
    assert again.read_bytes() == (site.out / "py/cnnlens.zip").read_bytes()


def official(package: str) -> Path:
    """The vendored wheel of `package`, once its bytes are checked against
    build/manifest.json."""
    lock = json.loads((SOURCE.parent / "pyodide-lock.json").read_text())
    wheel = SOURCE.parent / lock["packages"][package]["file_name"]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert digest in (ROOT / "build" / "manifest.json").read_text(), "not the pinned wheel"
    return wheel


# What each wheel leaves out besides stubs and headers: f2py builds Fortran extensions with
# a compiler, _pyinstaller holds PyInstaller's hooks; _imagingft is FreeType (ImageFont).
TRIMMED = {"numpy": ("numpy/f2py/", "numpy/_pyinstaller/"), "pillow": ("PIL/_imagingft.",)}
MODULE = {"numpy": "numpy/_core/numeric.py", "pillow": "PIL/Image.py"}
# What `import numpy` does not load, shipped beside the wheel (py/cnnlens/later_modules.py
# unpacks each on its first import); random is precached (the methods use it), the rest not.
PARTS = {"numpy": {"numpy-random.zip": ("numpy/random/",),
                   "numpy-extras.zip": ("numpy/fft/", "numpy/ma/", "numpy/polynomial/",
                                        "numpy/testing/")},
         "pillow": {}}
LISTING = {"numpy": "_later_numpy.pyc", "pillow": None}  # names the parts for the finder


def shipped_archives(site, wheel: zipfile.ZipFile, package: str) -> dict[str, zipfile.ZipFile]:
    """The shipped wheel and its parts, by the folders (prefixes) each holds ("" the rest)."""
    folder = site.out / "build/vendor/pyodide"
    archives = {"": zipfile.ZipFile(folder / Path(wheel.filename).name)}
    for part, folders in PARTS[package].items():
        archive = zipfile.ZipFile(folder / part)
        archives.update(dict.fromkeys(folders, archive))
    return archives


def archive_of(archives: dict[str, zipfile.ZipFile], name: str) -> zipfile.ZipFile:
    return next((a for prefix, a in archives.items() if prefix and name.startswith(prefix)),
                archives[""])


@pytest.mark.parametrize("package", ["numpy", "pillow"])
def test_dist_ships_the_wheels_as_bytecode_without_stubs_or_headers(site, package):
    wheel = zipfile.ZipFile(official(package))
    archives = shipped_archives(site, wheel, package)
    names = [n for a in {id(a): a for a in archives.values()}.values() for n in a.namelist()]
    trimmed = TRIMMED[package]
    assert all(any(n.startswith(t) for n in wheel.namelist()) for t in trimmed)
    assert not [n for n in names if n.startswith(trimmed)]
    sources = [n for n in wheel.namelist() if n.endswith(".py") and not n.startswith(trimmed)]
    assert len(sources) > 60 and MODULE[package] in sources
    assert not [n for n in names if n.endswith((".py", ".pyi", ".h", ".c", ".pxd", ".pyx"))]
    pycs = [n for n in names if n.endswith(".pyc") and n != LISTING[package]]
    assert sorted(pycs) == sorted(n + "c" for n in sources)  # each once, wheel or part
    for name in [*sources, *(n for n in wheel.namelist() if n.endswith(".so"))]:
        if not name.startswith(trimmed):  # in the part its folder says, else in the wheel
            shipped = archive_of(archives, name)
            assert (name + "c" if name.endswith(".py") else name) in shipped.namelist(), name
    for name in sources:
        pyc = archive_of(archives, name).read(name + "c")
        assert pyc[:8] == MAGIC_312 + UNCHECKED_HASH, name
        # An unchecked-hash pyc still records its source's hash: compiled from this file.
        source = wheel.read(name)
        assert pyc[8:16] == _imp.source_hash(int.from_bytes(MAGIC_312, "little"), source)
    libraries = [n for n in wheel.namelist() if n.endswith(".so") and not n.startswith(trimmed)]
    assert len(libraries) >= 3
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    for name in [*libraries, metadata]:
        assert archive_of(archives, name).read(name) == wheel.read(name), name


def test_numpy_s_parts_are_listed_for_the_finder_and_the_later_one_is_not_precached(site):
    archives: dict = {}
    exec(load_build_script("compile_wheels").listing("numpy"), archives)
    folder = "build/vendor/pyodide"
    assert {a["path"]: a["names"] for a in archives["ARCHIVES"]} == {
        f"{folder}/{part}": {f.strip("/").replace("/", ".") for f in folders}
        for part, folders in PARTS["numpy"].items()}
    assert all(a["unpack"] and a["root"] == "/lib/python3.12/site-packages"
               for a in archives["ARCHIVES"])
    wheel = zipfile.ZipFile(site.out / folder / Path(official("numpy")).name)
    assert LISTING["numpy"] in wheel.namelist()
    worker = (site.out / "sw.js").read_text()
    files = json.loads(worker.split("const FILES = ", 1)[1].split(";\n", 1)[0])
    on_demand = json.loads(worker.split("const ON_DEMAND = ", 1)[1].split(";\n", 1)[0])
    random, extras = f"{folder}/numpy-random.zip", f"{folder}/numpy-extras.zip"
    assert random in files and random not in on_demand
    assert extras in on_demand and extras not in files
    assert on_demand[extras] == hashlib.sha256((site.out / extras).read_bytes()).hexdigest()


@pytest.mark.parametrize("package", ["numpy", "pillow"])
def test_the_wheels_record_and_lock_entry_describe_the_shipped_file(site, package):
    folder = site.out / "build/vendor/pyodide"
    lock = json.loads((folder / "pyodide-lock.json").read_text())
    wheel = folder / lock["packages"][package]["file_name"]
    digest = lock["packages"][package]["sha256"]
    assert digest == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert digest not in (ROOT / "build/manifest.json").read_text()
    archive = zipfile.ZipFile(wheel)
    record_name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
    rows = [line.split(",") for line in archive.read(record_name).decode().splitlines()]
    listed = {name: (digest, size) for name, digest, size in rows}
    files = [n for n in archive.namelist() if not n.endswith("/")]
    assert sorted(listed) == sorted(files)
    for name in files:
        if name == record_name:
            continue
        data = archive.read(name)
        digest = hashlib.sha256(data).digest()
        encoded = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        assert listed[name] == (f"sha256={encoded}", str(len(data))), name
