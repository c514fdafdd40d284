"""The registry clients build/vendor_sources.py fetches with: npm, pip and plain URLs, their
failures turned into messages that say what to do (`VendorError`). What they fetch is
verified by vendor_sources before it is cached or laid out. Stdlib only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

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


class VendorError(Exception):
    """A problem the user has to act on; build/vendor.py's main() prints it without a traceback."""


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
