"""PyScript entry point: loads the packages we ship, then starts the page (`cnnlens.page`).

Packages are loaded here rather than through PyScript's `packages` so that the boot
progress shows them as their own stage; they come from our trimmed pyodide-lock.json.
"""

import js
import pyodide_js

js.cnnlens.stage("packages", "Loading NumPy and Pillow")
await pyodide_js.loadPackage(["numpy", "pillow"])  # noqa: F704  # PyScript allows top-level await

from cnnlens.page import main  # noqa: E402  # needs the packages loaded above

await main()  # noqa: F704
