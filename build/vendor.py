#!/usr/bin/env python3
"""Fetch, verify and lay out cnnlens's browser runtime under build/vendor/.

The page loads Pyodide, PyScript and the NumPy/Pillow wheels from build/vendor/ only, never
from a CDN. build/manifest.json pins every source (the sha512 integrity of each npm tarball,
the sha256 of the PyPI file the wheels come from) and the size and sha256 of every file laid
out; anything that differs is refused.

    python3 build/vendor.py                    # fetch once into build/cache/, verify, lay out
    python3 build/vendor.py --check            # verify build/vendor/ against the manifest, offline
    python3 build/vendor.py --update-manifest  # maintainers: re-pin per-file hashes after a bump

Stdlib only: it runs before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import fnmatch
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "build" / "manifest.json"
VENDOR = ROOT / "build" / "vendor"
CACHE = ROOT / "build" / "cache"
STAMP_NAME = "VENDORED.json"
SCHEMA = 1
# npm and pip retry on their own; this only stops a hung client from hanging the build.
CLIENT_TIMEOUT_S = 900
URL_TIMEOUT_S = 120
# Words in a client's output that mean "the registry could not be reached", not "bad input".
NETWORK_SIGNS = (
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
    "Temporary failure in name resolution",
    "Name or service not known",
    "NewConnectionError",
    "Max retries exceeded",
    "Network is unreachable",
    "ProxyError",
    "Cannot connect to proxy",
)
# pip answers "no such release" when it could not reach the index at all.
NOT_LISTED_SIGNS = ("from versions: none", "E404", "404 Not Found")
STACK_FRAME = re.compile(r"^(npm error)?\s+at \S")

Manifest = dict[str, Any]
Pin = dict[str, Any]  # {"size": int, "sha256": hex}


class VendorError(Exception):
    """A problem the user has to act on; main() prints it without a traceback."""


# --- hashing -------------------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def pin_of(data: bytes) -> Pin:
    return {"size": len(data), "sha256": sha256_hex(data)}


def npm_integrity(data: bytes, algo: str = "sha512") -> str:
    """The Subresource-Integrity string npm records for a tarball (`sha512-<base64>`)."""
    return f"{algo}-" + base64.b64encode(hashlib.new(algo, data).digest()).decode()


def integrity_matches(data: bytes, integrity: str) -> bool:
    algo, _, _ = integrity.partition("-")
    if algo not in ("sha512", "sha384", "sha256"):
        raise VendorError(f"unsupported integrity {integrity!r}: expected sha512-<base64>")
    return npm_integrity(data, algo) == integrity


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


def npm_dest(pkg: Manifest, member: str) -> str:
    """Where a tarball member (path below the tarball's top folder) lands in build/vendor/."""
    return f"{pkg['dest']}/{member.removeprefix(pkg.get('strip', ''))}"


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


# --- running the registry clients ----------------------------------------------------------


def run_client(cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
    """Run npm or pip; turn its failures into messages that say what to do."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError as e:
        raise VendorError(f"{what}: {cmd[0]} was not found") from e
    except subprocess.TimeoutExpired as e:
        raise VendorError(f"{what}: no answer after {CLIENT_TIMEOUT_S} s (no network?)") from e
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        # Stack frames say nothing to the user; the lines around them say what went wrong.
        lines = [line for line in output.splitlines() if not STACK_FRAME.match(line)]
        if any(sign in output for sign in NETWORK_SIGNS):
            hint = "the package registry could not be reached (no network?)"
        elif any(sign in output for sign in NOT_LISTED_SIGNS):
            hint = "the registry did not list it (no network, or the release is gone?)"
        else:
            hint = f"exit status {proc.returncode}"
        raise VendorError(f"{what} failed: {hint}\n" + "\n".join(lines[-15:]))
    return proc


def npm_pack(spec: str, dest: Path) -> tuple[Path, str | None]:
    """`npm pack` a registry package into dest; its path and the integrity npm reports."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            f"npm is not on PATH, and it fetches {spec}: install Node.js 20 with npm "
            "(Debian: apt-get install -y npm)"
        )
    cmd = [npm, "pack", spec, "--pack-destination", str(dest), "--json", "--ignore-scripts"]
    proc = run_client(cmd, f"npm pack {spec}")
    with contextlib.suppress(ValueError, IndexError, KeyError, TypeError):
        info = json.loads(proc.stdout)[0]
        return dest / info["filename"], info.get("integrity")
    # Older npm versions print only the file name.
    tarballs = sorted(dest.glob("*.tgz"))
    if len(tarballs) != 1:
        raise VendorError(f"npm pack {spec}: expected one tarball in {dest}, found {tarballs}")
    return tarballs[0], None


def pip_download(requirement: str, dest: Path) -> Path:
    """`pip download --no-deps` one wheel into dest, with the user's pip configuration."""
    if importlib.util.find_spec("pip") is None:
        raise VendorError(
            f"pip is not available to {sys.executable}, and it fetches {requirement}: install "
            "it (Debian: apt-get install -y python3-pip), or set CNNLENS_WHEEL_BASE_URL"
        )
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--no-input", "--progress-bar", "off", "--dest", str(dest), requirement]
    run_client(cmd, f"pip download {requirement}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise VendorError(f"pip download {requirement}: expected one wheel, found {wheels}")
    return wheels[0]


def fetch_url(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as response, dest.open("wb") as f:
            shutil.copyfileobj(response, f)
    except urllib.error.HTTPError as e:
        raise VendorError(f"{url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise VendorError(
            f"cannot fetch {url}: {reason} (no network, or a wrong CNNLENS_WHEEL_BASE_URL?)"
        ) from e


# --- the cache ------------------------------------------------------------------------------


def cached(
    path: Path,
    is_good: Callable[[Path], bool],
    fetch: Callable[[Path], Path],
    cache: Path,
) -> tuple[Path, bool]:
    """Return path if it holds a good copy, else fetch into a temp dir, check, then move in.

    fetch(tmpdir) returns the fetched file and raises VendorError on a bad one, so only
    verified files ever reach the cache. The bool says whether anything was downloaded.
    """
    if path.is_file():
        if is_good(path):
            return path, False
        log(f"{path.relative_to(cache.parent)} no longer matches its pin; fetching it again")
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fetch-", dir=cache) as tmp:
        fetched = fetch(Path(tmp))
        os.replace(fetched, path)
    return path, True


def npm_tarball_name(pkg: Manifest) -> str:
    # npm pack names "@scope/name" tarballs "scope-name-<version>.tgz".
    return f"{pkg['name'].lstrip('@').replace('/', '-')}-{pkg['version']}.tgz"


def get_npm_tarball(pkg: Manifest, cache: Path, update: bool) -> bytes:
    spec = f"{pkg['name']}@{pkg['version']}"
    path = cache / "npm" / npm_tarball_name(pkg)

    def fetch(tmp: Path) -> Path:
        log(f"fetching {spec} with npm pack")
        out, reported = npm_pack(spec, tmp)
        if update and not pkg.get("integrity"):
            # Bootstrapping a new pin: trust what npm checked against the registry, and say so.
            pkg["integrity"] = reported or npm_integrity(out.read_bytes())
            log(f"pinned {spec} integrity {pkg['integrity']} (as npm reported it: check it)")
        verify_integrity(out.read_bytes(), pkg, f"npm pack {spec}")
        return out

    good = bool(pkg.get("integrity"))
    path, _ = cached(
        path, lambda p: good and integrity_matches(p.read_bytes(), pkg["integrity"]), fetch, cache
    )
    data = path.read_bytes()
    verify_integrity(data, pkg, str(path))
    return data


def verify_integrity(data: bytes, pkg: Manifest, source: str) -> None:
    pinned = pkg.get("integrity", "")
    if not pinned or not integrity_matches(data, pinned):
        algo = pinned.partition("-")[0] if pinned else "sha512"
        raise VendorError(
            f"{pkg['name']}@{pkg['version']} tarball from {source} does not match "
            f"build/manifest.json:\n  expected {pinned or '(no integrity pinned)'}\n"
            f"  actual   {npm_integrity(data, algo)}"
        )


# --- reading the sources ---------------------------------------------------------------------


def tar_members(tgz: bytes) -> dict[str, tarfile.TarInfo]:
    """Regular files of an npm tarball, by path below its top folder (usually `package/`)."""
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        return {
            info.name.split("/", 1)[1]: info
            for info in tar.getmembers()
            if info.isfile() and "/" in info.name
        }


def read_tar_member(tgz: bytes, info: tarfile.TarInfo) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        return extract(tar, info)


def select_members(pkg: Manifest, members: dict[str, tarfile.TarInfo], update: bool) -> list[str]:
    """Which tarball files we ship: the include globs when re-pinning, else the pinned list."""
    if update:
        chosen: set[str] = set()
        for pattern in pkg["include"]:
            hits = {m for m in members if fnmatch.fnmatchcase(m, pattern)}
            if not hits:
                raise VendorError(f"{pkg['name']}@{pkg['version']}: nothing matches {pattern!r}")
            chosen |= hits
        return sorted(chosen)
    missing = sorted(set(pkg["files"]) - members.keys())
    if missing:
        raise VendorError(
            f"{pkg['name']}@{pkg['version']} has no {', '.join(missing)}: "
            "build/manifest.json is out of date (run `python3 build/vendor.py --update-manifest`)"
        )
    return list(pkg["files"])


def read_npm_package(pkg: Manifest, cache: Path, update: bool) -> tuple[dict[str, bytes], bytes]:
    """The files we ship from one npm package (by vendored path) and its raw tarball."""
    tgz = get_npm_tarball(pkg, cache, update)
    members = tar_members(tgz)
    chosen = select_members(pkg, members, update)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        contents = {m: extract(tar, members[m]) for m in chosen}
    if update:
        pkg["files"] = {m: pin_of(data) for m, data in contents.items()}
    return {npm_dest(pkg, m): data for m, data in contents.items()}, tgz


def extract(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(info)
    if f is None:
        raise VendorError(f"cannot read {info.name} from the tarball")
    return f.read()


def read_official_lock(tgz: bytes, manifest: Manifest, update: bool) -> dict[str, Any]:
    """Pyodide's own pyodide-lock.json from its npm tarball: the authority for wheel hashes."""
    spec = manifest["pyodide_lock"]
    members = tar_members(tgz)
    if spec["official"]["path"] not in members:
        raise VendorError(f"the pyodide tarball has no {spec['official']['path']}")
    data = read_tar_member(tgz, members[spec["official"]["path"]])
    if update:
        spec["official"] = {"path": spec["official"]["path"], **pin_of(data)}
    elif sha256_hex(data) != spec["official"]["sha256"]:
        raise VendorError(
            f"official pyodide-lock.json: sha256 {sha256_hex(data)}, "
            f"build/manifest.json pins {spec['official']['sha256']}"
        )
    return json.loads(data)


def official_entry(official_lock: dict[str, Any], file_name: str) -> dict[str, Any] | None:
    for entry in official_lock["packages"].values():
        if entry.get("file_name") == file_name:
            return entry
    return None


def verify_wheel(
    name: str,
    data: bytes,
    official_lock: dict[str, Any],
    pinned: dict[str, Pin],
    source: str,
) -> None:
    """Refuse a wheel unless its sha256 matches both Pyodide's own lock and our manifest."""
    actual = sha256_hex(data)
    version = official_lock.get("info", {}).get("version", "?")
    entry = official_entry(official_lock, name)
    if entry is None:
        raise VendorError(f"{name} (from {source}) is not in pyodide {version}'s pyodide-lock.json")
    if actual != entry["sha256"]:
        raise VendorError(
            f"{name} from {source} does not match pyodide {version}'s official "
            f"pyodide-lock.json:\n  expected sha256 {entry['sha256']}\n  actual   sha256 {actual}"
        )
    pin = pinned.get(name)
    if pin is None or actual != pin["sha256"]:
        expected = pin["sha256"] if pin else "(not pinned)"
        raise VendorError(
            f"{name} from {source} does not match build/manifest.json:\n"
            f"  expected sha256 {expected}\n  actual   sha256 {actual}"
        )


# --- the wheels ---------------------------------------------------------------------------------


def wheel_names(manifest: Manifest, official_lock: dict[str, Any], update: bool) -> list[str]:
    """The wheel files we ship: those the official lock names for our packages."""
    wanted = manifest["pyodide_lock"]["packages"]
    unknown = [p for p in wanted if p not in official_lock["packages"]]
    if unknown:
        raise VendorError(f"pyodide's lock has no package {', '.join(unknown)}")
    names = [official_lock["packages"][p]["file_name"] for p in wanted]
    wheels = manifest["wheels"]
    if update:
        entries = [official_lock["packages"][p] for p in wanted]
        wheels["files"] = {e["file_name"]: {"size": None, "sha256": e["sha256"]} for e in entries}
    elif sorted(names) != sorted(wheels["files"]):
        raise VendorError(
            f"build/manifest.json pins wheels {sorted(wheels['files'])}, but the official lock "
            f"names {sorted(names)}: run `python3 build/vendor.py --update-manifest`"
        )
    return names


def wheel_base_url(manifest: Manifest) -> str | None:
    value = os.environ.get(manifest["wheels"]["base_url_env"], "").strip()
    if not value:
        return None
    if "://" not in value:  # a plain folder on disk
        return Path(value).resolve().as_uri()
    return value.rstrip("/")


def wheels_from_base(
    names: list[str], base: str, cache: Path, verify: Callable[[str, bytes, str], None]
) -> Iterator[tuple[str, bytes, str]]:
    """Wheels from a mirror (<base>/<file name>), cached only once verify() accepts them."""
    for name in names:
        url = f"{base}/{name}"

        def fetch(tmp: Path, url: str = url, name: str = name) -> Path:
            log(f"fetching {url}")
            out = tmp / name
            fetch_url(url, out)
            verify(name, out.read_bytes(), url)
            return out

        def is_good(path: Path, name: str = name) -> bool:
            try:
                verify(name, path.read_bytes(), str(path))
            except VendorError:
                return False
            return True

        path, fetched = cached(cache / "wheels" / name, is_good, fetch, cache)
        yield name, path.read_bytes(), url if fetched else f"{path} (fetched from {url})"


def wheels_from_pypi(
    manifest: Manifest, names: list[str], cache: Path, update: bool
) -> Iterator[tuple[str, bytes, str]]:
    src = manifest["wheels"]["default_source"]
    requirement = f"{src['pypi']}=={src['version']}"

    def fetch(tmp: Path) -> Path:
        log(f"fetching {requirement} with pip download (about 77 MB)")
        out = pip_download(requirement, tmp)
        if update and not src.get("sha256"):
            src.update(pin_of(out.read_bytes()))
            log(f"pinned {out.name} sha256 {src['sha256']} (as pip checked it: check it)")
        verify_pypi_file(out, src, f"pip download {requirement}")
        return out

    path, _ = cached(
        cache / "pypi" / src["file"],
        lambda p: bool(src.get("sha256")) and file_sha256(p) == src["sha256"],
        fetch,
        cache,
    )
    with zipfile.ZipFile(path) as zf:
        for name in names:
            member = src["folder"] + name
            try:
                data = zf.read(member)
            except KeyError as e:
                raise VendorError(f"{src['file']} has no {member}") from e
            yield name, data, f"{requirement} ({member})"


def verify_pypi_file(path: Path, src: Manifest, source: str) -> None:
    if path.name != src["file"]:
        raise VendorError(f"{source} gave {path.name}, build/manifest.json expects {src['file']}")
    actual = file_sha256(path)
    if actual != src.get("sha256"):
        raise VendorError(
            f"{path.name} from {source} does not match build/manifest.json:\n"
            f"  expected sha256 {src.get('sha256')}\n  actual   sha256 {actual}"
        )


def read_wheels(
    manifest: Manifest, official_lock: dict[str, Any], cache: Path, update: bool
) -> tuple[dict[str, bytes], str]:
    """The wheels by vendored path, each verified, and a description of where they came from."""
    names = wheel_names(manifest, official_lock, update)
    wheels = manifest["wheels"]

    def verify(name: str, data: bytes, source: str) -> None:
        verify_wheel(name, data, official_lock, wheels["files"], source)

    base = wheel_base_url(manifest)
    if base:
        fetched = wheels_from_base(names, base, cache, verify)
        origin = f"{wheels['base_url_env']}={base}"
    else:
        fetched = wheels_from_pypi(manifest, names, cache, update)
        src = wheels["default_source"]
        origin = f"PyPI {src['pypi']}=={src['version']}"
    out: dict[str, bytes] = {}
    for name, data, source in fetched:
        verify(name, data, source)  # again: whatever the source, nothing unverified is shipped
        if update:
            wheels["files"][name] = pin_of(data)
        out[f"{wheels['dest']}/{name}"] = data
    return out, origin


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


def log(message: str) -> None:
    print(f"vendor: {message}", file=sys.stderr, flush=True)


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
