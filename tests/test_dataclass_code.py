"""cnnlens.dataclass_code: the methods `dataclasses` writes, recorded and run from a file.

Each test puts `dataclasses.exec` back as it was (monkeypatch), since recording and
installing replace it for the whole process. That the page's boot runs only recorded code is
tests/e2e/test_site.py's (the file is written inside Pyodide by build/package_zip.py).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import marshal

import pytest

from cnnlens import dataclass_code


@pytest.fixture(autouse=True)
def own_exec(monkeypatch):
    monkeypatch.setattr(dataclasses, "exec", exec, raising=False)
    monkeypatch.setitem(dataclass_code.counts, "recorded", 0)
    monkeypatch.setitem(dataclass_code.counts, "compiled", 0)


def make_point():
    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        y: float = 0.5
    return Point


def test_recorded_methods_run_from_the_file_and_behave(tmp_path):
    codes = dataclass_code.record()
    make_point()
    # __init__, __repr__, __eq__, __hash__, __setattr__, __delattr__
    assert len(codes) == 6 and all(isinstance(s, str) for s in codes)
    path = tmp_path / "code.marshal"
    dataclass_code.save(codes, path)
    dataclasses.exec = exec
    assert dataclass_code.install(path) == 6
    point = make_point()
    assert dataclass_code.counts == {"recorded": 6, "compiled": 0}
    p = point(3)
    assert (p.x, p.y) == (3, 0.5) and p == point(3, 0.5) and p != point(3, 1.0)
    assert repr(p).endswith("Point(x=3, y=0.5)") and hash(p) == hash(point(3, 0.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 4


def test_a_source_not_recorded_is_compiled_as_dataclasses_would(tmp_path):
    plain = make_point().__init__.__annotations__  # the stdlib's own `exec`
    path = tmp_path / "code.marshal"
    dataclass_code.save({}, path)
    assert dataclass_code.install(path) == 0
    point = make_point()
    assert dataclass_code.counts == {"recorded": 0, "compiled": 6}
    # Compiled under dataclass_code's `from __future__ import annotations`, each would be
    # the string "__dataclass_type_x__" instead.
    assert point.__init__.__annotations__ == plain == {"x": "int", "y": "float", "return": None}


@pytest.mark.parametrize("content", [None, b"not marshal", b"\x00"])
def test_no_file_or_a_broken_one_changes_nothing(tmp_path, content):
    path = tmp_path / "code.marshal"
    if content is not None:
        path.write_bytes(content)
    assert dataclass_code.install(path) == 0
    assert dataclasses.exec is exec


def test_another_pythons_file_changes_nothing(tmp_path):
    path = tmp_path / "code.marshal"
    path.write_bytes(marshal.dumps((b"\x00\x00\r\n", {})))
    assert importlib.util.MAGIC_NUMBER != b"\x00\x00\r\n"
    assert dataclass_code.install(path) == 0
    assert dataclasses.exec is exec
