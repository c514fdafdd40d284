"""The vendored browser runtime: build/vendor/ must be exactly what build/manifest.json pins.

This is the supply-chain check. Each check is also shown to fail on a tampered copy, so a
check that silently passes everything cannot hide here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.paths import ROOT, load_build_script

VENDOR_PY = ROOT / "build" / "vendor.py"

vendor = load_build_script("vendor")
# Its sources' fetching and verifying, as vendor.py imported it (build/ is on sys.path now).
sources = importlib.import_module("vendor_sources")
serve_mod = load_build_script("serve")

VENDOR = vendor.VENDOR
CACHE = vendor.CACHE
LOCK = VENDOR / "pyodide" / "pyodide-lock.json"

needs_vendor = pytest.mark.skipif(
    not (VENDOR / vendor.STAMP_NAME).is_file(),
    reason="build/vendor was never built: run `make vendor` (`make test` builds it first)",
)


@pytest.fixture(scope="module")
def manifest() -> tuple[dict, str]:
    return vendor.load_manifest(vendor.MANIFEST)


@pytest.fixture
def vendor_copy(tmp_path: Path) -> Path:
    """A private copy of build/vendor/ to tamper with (a real copy: never hard links)."""
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    return copy


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_names(manifest: tuple[dict, str]) -> list[str]:
    return sorted(manifest[0]["wheels"]["files"])


def run_vendor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # PATH is emptied so that npm cannot be found: a run that needs no download still passes.
    full_env = {**os.environ, "PATH": "", **(env or {})}
    return subprocess.run(
        [sys.executable, str(VENDOR_PY), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


# --- the manifest itself ----------------------------------------------------------------------


def test_manifest_pins_every_source_and_file(manifest: tuple[dict, str]) -> None:
    data, _ = manifest
    for pkg in data["npm"]:
        assert pkg["integrity"].startswith("sha512-"), pkg["name"]
        assert pkg["files"], f"{pkg['name']} ships no file"
    assert len(data["wheels"]["default_source"]["sha256"]) == 64
    pins = vendor.expected_files(data)
    assert all(len(pin["sha256"]) == 64 and pin["size"] > 0 for pin in pins.values())
    assert not any(rel.endswith(".map") for rel in pins), "source maps are not shipped"


def test_manifest_pins_the_official_numpy_and_pillow_wheels(manifest: tuple[dict, str]) -> None:
    wheels = manifest[0]["wheels"]["files"]
    numpy = wheels["numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"]["sha256"]
    pillow = wheels["pillow-10.2.0-cp312-cp312-pyodide_2024_0_wasm32.whl"]["sha256"]
    assert numpy.startswith("ebb61241") and numpy.endswith("cd08")
    assert pillow.startswith("43eab147") and pillow.endswith("2815")


def test_no_vendored_or_cached_file_is_tracked_by_git() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--", "build/vendor", "build/cache"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == ""
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "-q", "build/vendor/pyodide/pyodide.mjs"],
    )
    assert ignored.returncode == 0, "build/vendor/ must be git-ignored"


# --- the laid-out tree matches the manifest, and the check can fail ---------------------------


@needs_vendor
def test_vendor_tree_matches_the_manifest(manifest: tuple[dict, str]) -> None:
    assert vendor.check_vendor(VENDOR, *manifest) == []


@needs_vendor
def test_check_command_passes_offline() -> None:
    proc = run_vendor("--check")
    assert proc.returncode == 0, proc.stderr
    assert "matches" in proc.stderr


@needs_vendor
@pytest.mark.parametrize(
    "rel",
    [
        "pyodide/pyodide.asm.wasm",
        "pyodide/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
        "pyodide/pyodide-lock.json",
        "pyscript/core.js",
    ],
)
def test_check_reports_a_flipped_byte(
    vendor_copy: Path, manifest: tuple[dict, str], rel: str
) -> None:
    assert vendor.check_vendor(vendor_copy, *manifest) == []
    flip_a_byte(vendor_copy / rel)
    problems = vendor.check_vendor(vendor_copy, *manifest)
    assert len(problems) == 1
    assert problems[0].startswith(f"{rel}: sha256 ")


@needs_vendor
def test_check_reports_missing_extra_and_linked_files(
    vendor_copy: Path, manifest: tuple[dict, str]
) -> None:
    (vendor_copy / "pyscript" / "core.css").unlink()
    (vendor_copy / "pyodide" / "extra.js").write_text("fetch('elsewhere')")
    (vendor_copy / "pyodide" / "pyodide.mjs").unlink()
    (vendor_copy / "pyodide" / "pyodide.mjs").symlink_to(VENDOR / "pyodide" / "pyodide.mjs")
    problems = vendor.check_vendor(vendor_copy, *manifest)
    assert "pyscript/core.css: missing" in problems
    assert "pyodide/extra.js: not in the manifest" in problems
    assert any(p.startswith("pyodide/pyodide.mjs: is a symbolic link") for p in problems)


@needs_vendor
def test_check_refuses_an_incomplete_or_stale_tree(
    vendor_copy: Path, manifest: tuple[dict, str]
) -> None:
    data, sha = manifest
    stale = vendor.check_vendor(vendor_copy, data, "0" * 64)
    assert any("another build/manifest.json" in p for p in stale)
    (vendor_copy / vendor.STAMP_NAME).unlink()
    incomplete = vendor.check_vendor(vendor_copy, data, sha)
    assert any("never completed" in p for p in incomplete)


@needs_vendor
def test_check_command_fails_on_a_flipped_byte(vendor_copy: Path) -> None:
    flip_a_byte(vendor_copy / "pyscript" / "core.css")
    proc = run_vendor("--check", "--vendor-dir", str(vendor_copy))
    assert proc.returncode == 1
    assert "pyscript/core.css: sha256" in proc.stderr


@needs_vendor
def test_second_run_downloads_nothing_and_is_fast() -> None:
    started = time.monotonic()
    proc = run_vendor()  # npm is off PATH: any download attempt would fail
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "is up to date" in proc.stderr
    # Well under a second on a developer machine; generous here for a loaded CI runner.
    assert seconds < 5, f"an up-to-date run took {seconds:.2f} s"


# --- the generated lock and the wheel verification --------------------------------------------


@needs_vendor
def test_generated_lock_lists_only_numpy_and_pillow() -> None:
    lock = json.loads(LOCK.read_text())
    assert set(lock["packages"]) == {"numpy", "pillow"}
    assert lock["info"]["version"] == "0.27.7"
    for key, entry in lock["packages"].items():
        wheel = LOCK.parent / entry["file_name"]
        assert wheel.is_file(), f"{key}: {wheel.name} is not next to the lock"
        assert sha256(wheel) == entry["sha256"], f"{key}: {wheel.name}"
        assert all(dep in lock["packages"] for dep in entry["depends"]), key
        assert entry["imports"], key


@needs_vendor
def test_tampered_wheel_is_refused_naming_the_file(
    tmp_path: Path, manifest: tuple[dict, str]
) -> None:
    # The generated lock's entries are verbatim copies of Pyodide's official ones.
    official = json.loads(LOCK.read_text())
    pins = manifest[0]["wheels"]["files"]
    for name in wheel_names(manifest):
        sources.verify_wheel(name, (LOCK.parent / name).read_bytes(), official, pins, "vendor")
        copy = tmp_path / name
        shutil.copyfile(LOCK.parent / name, copy)
        flip_a_byte(copy)
        with pytest.raises(vendor.VendorError) as refused:
            sources.verify_wheel(name, copy.read_bytes(), official, pins, str(copy))
        message = str(refused.value)
        assert name in message
        assert "official pyodide-lock.json" in message
        assert pins[name]["sha256"] in message  # expected
        assert sha256(copy) in message  # actual
        assert str(copy) in message  # where it came from


@needs_vendor
def test_wheel_must_match_both_the_official_lock_and_the_manifest(
    manifest: tuple[dict, str],
) -> None:
    official = json.loads(LOCK.read_text())
    pins = manifest[0]["wheels"]["files"]
    name = wheel_names(manifest)[0]
    data = (LOCK.parent / name).read_bytes()
    key = next(k for k, e in official["packages"].items() if e["file_name"] == name)

    other_lock = json.loads(json.dumps(official))
    other_lock["packages"][key]["sha256"] = "0" * 64
    with pytest.raises(vendor.VendorError, match=r"official pyodide-lock\.json"):
        sources.verify_wheel(name, data, other_lock, pins, "test")

    other_pins = {**pins, name: {"size": len(data), "sha256": "0" * 64}}
    with pytest.raises(vendor.VendorError, match=r"build/manifest\.json"):
        sources.verify_wheel(name, data, official, other_pins, "test")


def test_make_lock_refuses_a_dependency_we_do_not_ship() -> None:
    def entry(name: str, depends: list[str]) -> dict:
        return {"name": name, "file_name": f"{name}.whl", "sha256": "0" * 64, "depends": depends}

    official = {
        "info": {"version": "0.27.7"},
        "packages": {"numpy": entry("numpy", []), "pillow": entry("Pillow", ["libwebp"])},
    }
    with pytest.raises(vendor.VendorError, match="pillow depends on libwebp"):
        vendor.make_lock(official, ["numpy", "pillow"])
    lock = json.loads(vendor.make_lock(official, ["numpy"]))
    assert set(lock["packages"]) == {"numpy"}
    assert lock["info"] == official["info"]


# --- vendoring from a wheel mirror (CNNLENS_WHEEL_BASE_URL), offline from the cache -------------


def seeded_cache(tmp_path: Path, manifest: tuple[dict, str]) -> Path:
    """A cache holding the already verified npm tarballs, so no npm run is needed."""
    cache = tmp_path / "cache"
    (cache / "npm").mkdir(parents=True)
    for pkg in manifest[0]["npm"]:
        tarball = CACHE / "npm" / sources.npm_tarball_name(pkg)
        if not tarball.is_file():
            pytest.skip(f"{tarball} is not cached: run `make vendor`")
        shutil.copyfile(tarball, cache / "npm" / tarball.name)
    return cache


def wheel_mirror(tmp_path: Path, manifest: tuple[dict, str]) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in wheel_names(manifest):
        shutil.copyfile(LOCK.parent / name, mirror / name)
    return mirror


@needs_vendor
def test_wheel_mirror_with_a_tampered_wheel_is_refused(
    tmp_path: Path, manifest: tuple[dict, str]
) -> None:
    cache, mirror = seeded_cache(tmp_path, manifest), wheel_mirror(tmp_path, manifest)
    tampered = next(n for n in wheel_names(manifest) if n.startswith("pillow"))
    flip_a_byte(mirror / tampered)
    out = tmp_path / "vendor"
    proc = run_vendor(
        "--vendor-dir", str(out), "--cache-dir", str(cache),
        env={"CNNLENS_WHEEL_BASE_URL": str(mirror)},
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"{tampered} from {mirror.as_uri()}/{tampered}" in proc.stderr
    assert sha256(mirror / tampered) in proc.stderr
    assert not out.exists(), "a refused run must not leave a vendor tree behind"
    assert not (cache / "wheels" / tampered).exists(), "a refused wheel must not be cached"


@needs_vendor
def test_wheel_mirror_lays_out_the_same_tree(tmp_path: Path, manifest: tuple[dict, str]) -> None:
    cache, mirror = seeded_cache(tmp_path, manifest), wheel_mirror(tmp_path, manifest)
    out = tmp_path / "vendor"
    env = {"CNNLENS_WHEEL_BASE_URL": mirror.as_uri()}
    first = run_vendor("--vendor-dir", str(out), "--cache-dir", str(cache), env=env)
    assert first.returncode == 0, first.stderr
    assert vendor.check_vendor(out, *manifest) == []
    for rel in vendor.expected_files(manifest[0]):
        assert (out / rel).read_bytes() == (VENDOR / rel).read_bytes(), rel
    second = run_vendor("--vendor-dir", str(out), "--cache-dir", str(cache), env=env)
    assert second.returncode == 0 and "is up to date" in second.stderr


# --- the vendored runtime is served with the types browsers insist on ----------------------------


@needs_vendor
def test_vendored_runtime_is_served_with_browser_mime_types() -> None:
    server, url = serve_mod.serve(ROOT, 0)
    try:
        expected = {
            "build/vendor/pyodide/pyodide.mjs": "text/javascript",
            "build/vendor/pyodide/pyodide.asm.wasm": "application/wasm",
            "build/vendor/pyodide/python_stdlib.zip": "application/octet-stream",
            "build/vendor/pyodide/pyodide-lock.json": "application/json",
            "build/vendor/pyscript/core.js": "text/javascript",
        }
        for path, mime in expected.items():
            with urllib.request.urlopen(url + path, timeout=10) as response:
                assert response.headers["Content-Type"] == mime, path
                assert response.headers["Cache-Control"] == "no-cache", path
    finally:
        server.shutdown()
        server.server_close()


@needs_vendor
def test_dev_server_gives_the_page_our_package_as_one_archive_of_the_sources_in_py() -> None:
    """As dist/ does (one request, bytecode beside each source), but made from py/ as it is,
    so an edited module shows on reload; answered 304 while py/ is unchanged."""
    server, url = serve_mod.serve(ROOT, 0)
    try:
        with urllib.request.urlopen(url + "assets/pyscript.json", timeout=10) as response:
            config = json.loads(response.read())
        assert config["files"] == {"../py/cnnlens.zip": "./*"}
        assert config["interpreter"] == "../build/vendor/pyodide/pyodide.mjs"
        with urllib.request.urlopen(url + "py/cnnlens.zip", timeout=60) as response:
            archive, tag = zipfile.ZipFile(io.BytesIO(response.read())), response.headers["ETag"]
        sources = sorted(p.relative_to(ROOT / "py").as_posix()
                         for p in (ROOT / "py" / "cnnlens").rglob("*.py"))
        shipped = [n for n in archive.namelist() if n.endswith(".py")]
        assert "cnnlens/views/overview.py" in shipped and "cnnlens/cli.py" not in shipped
        assert set(shipped) < set(sources)
        for name in shipped:
            assert archive.read(name) == (ROOT / "py" / name).read_bytes(), name
        again = urllib.request.Request(url + "py/cnnlens.zip", headers={"If-None-Match": tag})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(again, timeout=10)
        assert answer.value.code == 304
    finally:
        server.shutdown()
        server.server_close()
