"""The stdlib's later zip (build/compile_stdlib.py), NumPy's parts (build/compile_wheels.py) and
their finder (py/cnnlens/later_modules.py): the split keeps every module exactly once, and the
finder fetches an archive once, only for the modules it holds, mounts or unpacks it, and says
so when it cannot. That the page boots without them and a learner's import fetches them:
tests/e2e/test_live_code.py and the e2e conftest's check."""

from __future__ import annotations

import importlib
import sys
import zipfile

import pytest

from cnnlens.later_modules import LaterModules, install
from tests.paths import load_build_script

compile_stdlib = load_build_script("compile_stdlib")


@pytest.mark.parametrize(("entry", "module"), [
    ("unittest/mock.py", "unittest"),
    ("unittest/", "unittest"),
    ("xml/sax/saxutils.py", "xml"),  # it would bring urllib.request: figures.py escapes by hand
    ("http/client.py", "http"),
    ("email/message.py", None),  # importlib.metadata reads packages' METADATA with it
    ("email/mime/text.py", "email.mime"),
    ("email/mime/", "email.mime"),
    ("email/headerregistry.py", "email.headerregistry"),
    ("urllib/parse.py", None),
    ("urllib/request.py", "urllib.request"),
    ("asyncio/tasks.py", None),
    ("asyncio/windows_events.py", "asyncio.windows_events"),
    ("logging/__init__.py", None),
    ("logging/handlers.py", "logging.handlers"),
    ("statistics.py", "statistics"),
    ("pydoc.py", "pydoc"),
    ("encodings/cp1252.py", "encodings.cp1252"),
    ("encodings/mac_roman.py", "encodings.mac_roman"),
    ("encodings/utf_8.py", None),
    ("encodings/cp437.py", None),  # zipfile decodes old archives' names with it
    ("encodings/__init__.py", None),
    ("json/decoder.py", None),
    ("asyncio/events.py", None),
    ("xmlrpc_like.py", None),
])
def test_which_entries_go_in_the_later_zip(entry, module):
    assert compile_stdlib.later_module(entry) == module


def archive_of(path, modules: dict[str, str]):
    """A zip at `path` of `modules` (entry name → source)."""
    with zipfile.ZipFile(path, "w") as z:
        for name, source in modules.items():
            z.writestr(name, source)
    return path


def empty_package(folder, name: str) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text("")


@pytest.fixture
def later(tmp_path, monkeypatch):
    """A later zip of two modules: a package of its own and a submodule of a package that
    stays in the main stdlib (as the codecs of `encodings` do)."""
    main = tmp_path / "main"
    empty_package(main, "zzmain")
    archive = archive_of(tmp_path / "later.zip", {
        "zzlater/__init__.py": "from .part import VALUE\n", "zzlater/part.py": "VALUE = 42\n",
        "zzmain/codec.py": "NAME = 'codec'\n"})
    fetched: list[str] = []

    def fetch(name: str) -> bytes:
        fetched.append(name)
        return archive.read_bytes()

    monkeypatch.syspath_prepend(str(main))
    finder = LaterModules(frozenset({"zzlater", "zzmain.codec"}), str(tmp_path / "mounted.zip"),
                          fetch)
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, finder])
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield finder, fetched
    for name in [n for n in sys.modules if n.split(".")[0] in ("zzlater", "zzmain")]:
        del sys.modules[name]


def test_the_first_import_fetches_the_zip_once_and_the_modules_come_from_it(later):
    finder, fetched = later
    assert importlib.import_module("zzlater").VALUE == 42
    assert importlib.import_module("zzmain.codec").NAME == "codec"
    assert importlib.import_module("zzlater.part").__file__.startswith(finder.root)
    assert importlib.import_module("zzmain.codec").__file__.startswith(finder.root)
    assert fetched == ["zzlater"]


def test_a_module_it_does_not_hold_fetches_nothing(later):
    _, fetched = later
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("zznowhere")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("zzmain.other")
    assert fetched == []


def test_a_failed_download_says_why_and_the_next_import_tries_again(later):
    finder, fetched = later
    good = finder.fetch

    def offline(name: str) -> bytes:
        raise OSError("could not load python_stdlib_later.zip: NetworkError")

    finder.fetch = offline
    with pytest.raises(ImportError, match=r"zzlater is among those the page downloads when "
                                          r"they are first imported.*NetworkError"):
        importlib.import_module("zzlater")
    finder.fetch = good
    assert importlib.import_module("zzlater").VALUE == 42
    assert fetched == ["zzlater"]


def test_an_unpacked_part_is_found_beside_its_package_s_other_modules(tmp_path, monkeypatch):
    """As NumPy's parts: a subpackage (with a module that cannot be imported from a zip, as
    an extension module cannot) unpacked into the folder its package was imported from."""
    site = tmp_path / "site-packages"
    empty_package(site, "zzpkg")
    archive = archive_of(tmp_path / "zzpkg-part.zip", {
        "zzpkg/sub/__init__.py": "from .inner import VALUE\n", "zzpkg/sub/inner.py": "VALUE = 7\n"})
    fetched: list[str] = []
    finder = LaterModules(frozenset({"zzpkg.sub"}), str(site),
                          lambda name: fetched.append(name) or archive.read_bytes(), unpack=True)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, finder])
    try:
        assert importlib.import_module("zzpkg").__file__.startswith(str(site))
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("zzpkg.other")
        assert fetched == []
        assert importlib.import_module("zzpkg.sub").VALUE == 7
        assert importlib.import_module("zzpkg.sub.inner").__file__ == str(
            site / "zzpkg" / "sub" / "inner.py")
        assert fetched == ["zzpkg.sub"]
        assert list(sys.modules["zzpkg"].__path__) == [str(site / "zzpkg")]  # nothing added
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "zzpkg"]:
            del sys.modules[name]


def test_without_a_split_stdlib_nothing_is_installed():
    # CPython's stdlib and NumPy are whole: there is no listing to name an archive.
    before = list(sys.meta_path)
    assert install("http://127.0.0.1/") == 0
    assert sys.meta_path == before


def test_install_puts_one_finder_per_archive_last_for_the_site(monkeypatch):
    stdlib, numpy = type(sys)("_later_stdlib"), type(sys)("_later_numpy")
    stdlib.ARCHIVES = ({"path": "build/vendor/pyodide/later.zip", "root": "/lib/later.zip",
                        "unpack": False, "names": frozenset({"unittest"})},)
    numpy.ARCHIVES = tuple({"path": f"build/vendor/pyodide/numpy-{part}.zip",
                            "root": "/lib/site-packages", "unpack": True,
                            "names": frozenset({f"numpy.{part}"})} for part in ("fft", "ma"))
    monkeypatch.setitem(sys.modules, "_later_stdlib", stdlib)
    monkeypatch.setitem(sys.modules, "_later_numpy", numpy)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    assert install("http://127.0.0.1:8000/site/") == 3
    assert install("http://127.0.0.1:8000/site/") == 3
    finders = [f for f in sys.meta_path if isinstance(f, LaterModules)]
    assert finders == sys.meta_path[-3:]
    assert [(f.names, f.root, f.unpack) for f in finders] == [
        ({"unittest"}, "/lib/later.zip", False),
        ({"numpy.fft"}, "/lib/site-packages", True), ({"numpy.ma"}, "/lib/site-packages", True)]
