#!/usr/bin/env python3
"""Fetch, verify and lay out cnnlens's browser runtime under build/vendor/.

The page loads Pyodide, PyScript and the NumPy/Pillow wheels from build/vendor/ only, never
from a CDN. build/manifest.json pins every source (the sha512 integrity of each npm tarball,
the sha256 of the PyPI file the wheels come from) and the size and sha256 of every file laid
out; anything that differs is refused.

    python3 build/vendor.py                    # fetch once into build/cache/, verify, lay out
    python3 build/vendor.py --check            # verify build/vendor/ against the manifest, offline
    python3 build/vendor.py --update-manifest  # maintainers: re-pin per-file hashes after a bump

Fetching and verifying the sources (npm, pip, a wheel mirror, the cache in build/cache/, the
wheels against Pyodide's own lock) is build/vendor_sources.py; this script checks a laid-out
tree, generates our lock and lays the tree out. Stdlib only: it runs before any virtual
environment exists.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "build" / "manifest.json"
VENDOR = ROOT / "build" / "vendor"
CACHE = ROOT / "build" / "cache"
STAMP_NAME = "VENDORED.json"
SCHEMA = 1

BUILD = Path(__file__).resolve().parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)
from vendor_sources import (  # noqa: E402
    Manifest,
    Pin,
    VendorError,
    file_sha256,
    log,
    npm_dest,
    pin_of,
    read_npm_package,
    read_official_lock,
    read_wheels,
    sha256_hex,
)

# --- manifest ------------------------------------------------------------------------------


def load_manifest(path: Path) -> tuple[Manifest, str]:
    """The parsed manifest and the sha256 of its bytes (recorded in the stamp)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise VendorError(f"cannot read {path}: {e.strerror}") from e
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise VendorError(f"{path} is not valid JSON: {e}") from e
    if data.get("schema") != SCHEMA:
        raise VendorError(f"{path}: schema {data.get('schema')!r}, this script reads {SCHEMA}")
    return data, sha256_hex(raw)


def write_manifest(path: Path, manifest: Manifest) -> None:
    text = json.dumps(manifest, indent=2) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def expected_files(manifest: Manifest) -> dict[str, Pin]:
    """Every file build/vendor/ must hold (besides the stamp), by path, with its pin."""
    out: dict[str, Pin] = {}

    def add(rel: str, pin: Pin) -> None:
        if rel in out:
            raise VendorError(f"build/manifest.json lays out {rel} twice")
        out[rel] = pin

    for pkg in manifest["npm"]:
        for member, pin in pkg["files"].items():
            add(npm_dest(pkg, member), pin)
    wheels = manifest["wheels"]
    for name, pin in wheels["files"].items():
        add(f"{wheels['dest']}/{name}", pin)
    lock = manifest["pyodide_lock"]
    add(lock["dest"], lock["generated"])
    return out


# --- checking a laid-out tree (no network) --------------------------------------------------


def walk_tree(root: Path) -> tuple[set[str], list[str]]:
    """Relative paths of all files below root, and problems (links) found on the way."""
    found: set[str] = set()
    problems: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                # A link could point anywhere; we only ever write plain files.
                problems.append(f"{rel}: is a symbolic link, not a vendored file")
            elif name in filenames:
                found.add(rel)
    return found, problems


def check_file(path: Path, rel: str, pin: Pin) -> str | None:
    size = path.stat().st_size
    if size != pin["size"]:
        return f"{rel}: {size} bytes, the manifest pins {pin['size']}"
    actual = file_sha256(path)
    if actual != pin["sha256"]:
        return f"{rel}: sha256 {actual}, the manifest pins {pin['sha256']}"
    return None


def read_stamp(vendor_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    path = vendor_dir / STAMP_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, f"{STAMP_NAME} is missing: the tree was never completed"
    except (OSError, ValueError) as e:
        return None, f"{STAMP_NAME} is unreadable: {e}"


def check_vendor(vendor_dir: Path, manifest: Manifest, manifest_sha: str) -> list[str]:
    """Differences between vendor_dir and the manifest; empty when they agree.

    The manifest is the authority: every pinned file must be there with its size and sha256,
    nothing else may be, and the stamp must say it was laid out from this very manifest.
    """
    if not vendor_dir.is_dir():
        return [f"{vendor_dir} does not exist: run `make vendor`"]
    expected = expected_files(manifest)
    on_disk, problems = walk_tree(vendor_dir)
    stamp, stamp_problem = read_stamp(vendor_dir)
    if stamp_problem:
        problems.append(stamp_problem)
    elif stamp is not None:
        if stamp.get("manifest_sha256") != manifest_sha:
            problems.append(f"{STAMP_NAME}: laid out from another build/manifest.json")
        if stamp.get("files") != expected:
            problems.append(f"{STAMP_NAME}: its file list differs from the manifest's")
    on_disk.discard(STAMP_NAME)
    problems += [f"{rel}: missing" for rel in sorted(expected.keys() - on_disk)]
    problems += [f"{rel}: not in the manifest" for rel in sorted(on_disk - expected.keys())]
    for rel in sorted(expected.keys() & on_disk):
        problem = check_file(vendor_dir / rel, rel, expected[rel])
        if problem:
            problems.append(problem)
    return problems


# --- the generated lock ----------------------------------------------------------------------


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def make_lock(official_lock: dict[str, Any], packages: list[str]) -> bytes:
    """A pyodide-lock.json naming only what we ship, so the page can load nothing else.

    Entries are copied verbatim from Pyodide's own lock; a package whose dependencies we do
    not ship is refused here rather than failing later in the browser.
    """
    entries = {key: official_lock["packages"][key] for key in packages}
    shipped = {canonical(key) for key in entries} | {canonical(e["name"]) for e in entries.values()}
    for key, entry in entries.items():
        missing = [d for d in entry.get("depends", []) if canonical(d) not in shipped]
        if missing:
            raise VendorError(
                f"{key} depends on {', '.join(missing)}, which build/manifest.json does not ship: "
                f"add it to pyodide_lock.packages, or stop shipping {key}"
            )
    lock = {"info": official_lock["info"], "packages": entries}
    return (json.dumps(lock, indent=2, sort_keys=True) + "\n").encode()


# --- gathering and laying out ------------------------------------------------------------------


def gather(manifest: Manifest, cache: Path, update: bool) -> tuple[dict[str, bytes], dict]:
    """Every file to lay out (by path below build/vendor/), each source verified.

    With update=True the manifest's per-file pins are recomputed from the verified sources
    (the tarball integrities and the PyPI file's sha256 stay the maintainer's to set).
    """
    files: dict[str, bytes] = {}
    sources: dict[str, str] = {}
    official_lock = None
    for pkg in manifest["npm"]:
        contents, tgz = read_npm_package(pkg, cache, update)
        files.update(contents)
        sources[pkg["name"]] = f"npm {pkg['name']}@{pkg['version']} {pkg['integrity']}"
        if pkg["name"] == manifest["pyodide_lock"]["from"]:
            official_lock = read_official_lock(tgz, manifest, update)
    if official_lock is None:
        raise VendorError(f"no npm package {manifest['pyodide_lock']['from']!r} in the manifest")
    wheels, sources["wheels"] = read_wheels(manifest, official_lock, cache, update)
    files.update(wheels)
    spec = manifest["pyodide_lock"]
    lock = make_lock(official_lock, spec["packages"])
    if update:
        spec["generated"] = pin_of(lock)
    files[spec["dest"]] = lock
    return files, sources


def verify_gathered(files: dict[str, bytes], manifest: Manifest) -> None:
    expected = expected_files(manifest)
    if files.keys() != expected.keys():
        extra = sorted(files.keys() - expected.keys())
        missing = sorted(expected.keys() - files.keys())
        raise VendorError(
            f"laid-out files differ from the manifest: extra {extra}, missing {missing}"
        )
    problems = []
    for rel, data in sorted(files.items()):
        pin = expected[rel]
        if pin_of(data) != {"size": pin["size"], "sha256": pin["sha256"]}:
            problems.append(
                f"{rel}:\n  expected {pin['size']} bytes, sha256 {pin['sha256']}\n"
                f"  actual   {len(data)} bytes, sha256 {sha256_hex(data)}"
            )
    if problems:
        raise VendorError("files differ from build/manifest.json:\n" + "\n".join(problems))


def stage_tree(stage: Path, files: dict[str, bytes], stamp: dict[str, Any]) -> None:
    for rel, data in files.items():
        path = stage / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # The stamp goes last: a tree without it is never taken for a complete one.
    (stage / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")


def swap_into_place(stage: Path, vendor_dir: Path) -> None:
    """Replace vendor_dir by the staged tree with renames, never leaving a half-written one."""
    vendor_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = stage.parent
    if stage.stat().st_dev != vendor_dir.parent.stat().st_dev:
        # Renames cannot cross file systems: copy the stage beside vendor_dir first.
        scratch = vendor_dir.parent
        beside = scratch / f".{vendor_dir.name}.staging"
        shutil.rmtree(beside, ignore_errors=True)
        shutil.copytree(stage, beside)
        stage = beside
    old = scratch / f".{vendor_dir.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if vendor_dir.exists():
        os.replace(vendor_dir, old)
    os.replace(stage, vendor_dir)
    shutil.rmtree(old, ignore_errors=True)


def make_stamp(files: dict[str, bytes], manifest_sha: str, sources: dict[str, str]) -> dict:
    return {
        "_comment": "Written by build/vendor.py; `python3 build/vendor.py --check` verifies it.",
        "manifest_sha256": manifest_sha,
        "sources": sources,
        "total_bytes": sum(len(d) for d in files.values()),
        "files": {rel: pin_of(data) for rel, data in sorted(files.items())},
    }


# --- commands --------------------------------------------------------------------------------


@contextlib.contextmanager
def cache_lock(cache: Path) -> Iterator[None]:
    """One vendoring at a time (`make -j`, a test and a developer at once)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def clear_stale_stages(cache: Path) -> None:
    for stage in cache.glob("stage-*"):
        shutil.rmtree(stage, ignore_errors=True)


def cmd_check(manifest_path: Path, vendor_dir: Path) -> int:
    manifest, manifest_sha = load_manifest(manifest_path)
    problems = check_vendor(vendor_dir, manifest, manifest_sha)
    if problems:
        log(f"{vendor_dir} does NOT match {manifest_path.name}:")
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        log("run `make vendor` to lay it out again from verified sources")
        return 1
    log(f"{vendor_dir} matches {manifest_path.name} ({len(expected_files(manifest))} files)")
    return 0


def cmd_vendor(manifest_path: Path, vendor_dir: Path, cache: Path, update: bool) -> int:
    started = time.monotonic()
    manifest, manifest_sha = load_manifest(manifest_path)
    with cache_lock(cache):
        if not update:
            problems = check_vendor(vendor_dir, manifest, manifest_sha)
            if not problems:
                n = len(expected_files(manifest))
                log(f"{vendor_dir} is up to date ({n} files verified, {elapsed(started)})")
                return 0
            if vendor_dir.exists():
                log(f"{vendor_dir} differs from the manifest; laying it out again:")
                for problem in problems[:10]:
                    print(f"  {problem}", file=sys.stderr)
        clear_stale_stages(cache)
        files, sources = gather(manifest, cache, update)
        if update:
            write_manifest(manifest_path, manifest)
            manifest, manifest_sha = load_manifest(manifest_path)
            log(f"rewrote {manifest_path} with the hashes of {len(files)} files")
        verify_gathered(files, manifest)
        stamp = make_stamp(files, manifest_sha, sources)
        stage = Path(tempfile.mkdtemp(prefix="stage-", dir=cache))
        try:
            stage_tree(stage, files, stamp)
            swap_into_place(stage, vendor_dir)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    total = stamp["total_bytes"]
    log(f"laid out {len(files)} files, {total / 1e6:.1f} MB, in {vendor_dir} ({elapsed(started)})")
    return 0


def elapsed(started: float) -> str:
    return f"{time.monotonic() - started:.2f} s"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="verify build/vendor/ against the manifest, offline"
    )
    mode.add_argument(
        "--update-manifest",
        action="store_true",
        help="recompute per-file hashes from the verified sources and rewrite the manifest",
    )
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)
    parser.add_argument("--vendor-dir", type=Path, default=VENDOR, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, default=CACHE, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.check:
            return cmd_check(args.manifest, args.vendor_dir)
        return cmd_vendor(args.manifest, args.vendor_dir, args.cache_dir, args.update_manifest)
    except VendorError as e:
        log(f"error: {e}")
        return 1
    except KeyError as e:
        log(f"error: build/manifest.json lacks the key {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
