"""The modules a page imports at start named in its HTML, so the browser asks for them at once.

    links(out, "index.html")   # the <link> lines build/site.py puts into dist's page

Without them a cold visit is a waterfall: the browser learns of a module only once the one
that imports it has arrived and been parsed (four levels from app.js, ~650 ms of a cold
visit here). So dist's `index.html` and `embed.html` name every module their entry scripts
import statically (`modulepreload`: fetched and parsed in parallel); modules imported on
demand are left to load when needed. The prerendered overview's files are not preloaded
too: with a `preload` of them (as fetch), a new release's service worker stayed waiting
and never took over. Stdlib only.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

# `import … from "./x.js"`, `export … from "./x.js"` and `import "./x.js"`, each starting a
# line (the house style); `import("./x.js")`, a module loaded on demand, is not one of them.
_STATIC_IMPORT = re.compile(
    r"""^(?:import|export)\b[^;"'`(]*?\bfrom\s*["']([^"']+)["']|^import\s*["']([^"']+)["']""",
    re.MULTILINE)
_ENTRY = re.compile(r"""<script type="module" src="([^"]+)"></script>""")
# Where the links go: after the stylesheets, which the first paint needs as much.
_BEFORE = "  <script type=\"module\""


def entries(html: str) -> list[str]:
    """The page's module scripts, as site paths."""
    return _ENTRY.findall(html)


def imported(out: Path, module: str) -> list[str]:
    """Site paths of the modules `module` (a site path) imports statically, in order."""
    text = (out / module).read_text()
    found = [a or b for a, b in _STATIC_IMPORT.findall(text)]
    return [posixpath.normpath(posixpath.join(posixpath.dirname(module), name))
            for name in found if name.startswith(".")]


def module_graph(out: Path, roots: list[str]) -> list[str]:
    """Every module reachable from `roots` by static imports, roots first, each once."""
    seen: dict[str, None] = {}
    todo = list(roots)
    while todo:
        module = todo.pop(0)
        if module in seen:
            continue
        seen[module] = None
        todo.extend(imported(out, module))
    return list(seen)


def links(out: Path, page: str) -> str:
    """The <link> lines for `page` (a site path of out): its modules not already named by a
    <script> tag."""
    roots = entries((out / page).read_text())
    return "".join(f'  <link rel="modulepreload" href="{m}">\n'
                   for m in module_graph(out, roots) if m not in roots)


def write(out: Path, page: str) -> None:
    """Puts the links into out/page, before its first module script."""
    path = out / page
    html = path.read_text()
    if html.count(_BEFORE) < 1:
        raise SystemExit(f"preload: {page} has no <script type=\"module\"> to put links before")
    at = html.index(_BEFORE)
    path.write_text(html[:at] + links(out, page) + html[at:])
