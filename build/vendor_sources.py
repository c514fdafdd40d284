"""Fetching and verifying build/vendor.py's sources: through the registry clients
(build/registry_clients.py), the cache of verified downloads in build/cache/, npm tarballs,
Pyodide's official pyodide-lock.json and the wheels it names, each checked against
build/manifest.json.

Only verified files ever reach the cache. Stdlib only, like build/vendor.py, which imports it
(build/ is a folder of scripts: it puts this folder on `sys.path`).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from registry_clients import VendorError, fetch_url, npm_pack, pip_download

Manifest = dict[str, Any]
Pin = dict[str, Any]  # {"size": int, "sha256": hex}


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


def npm_dest(pkg: Manifest, member: str) -> str:
    """Where a tarball member (path below the tarball's top folder) lands in build/vendor/."""
    return f"{pkg['dest']}/{member.removeprefix(pkg.get('strip', ''))}"



def log(message: str) -> None:
    print(f"vendor: {message}", file=sys.stderr, flush=True)




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
