"""build/preload.py: which modules a page's HTML names for the browser to fetch at once."""

from __future__ import annotations

from tests.e2e.conftest import load_build_script

preload = load_build_script("preload")

MODULES = {
    "assets/js/app.js": 'import { a } from "./a.js";\nimport {\n  b,\n  c,\n} from "./views/b.js";'
                        '\nimport "./side.js";\nconst lazy = () => import("./lazy.js");\n',
    "assets/js/a.js": 'export * from "./views/b.js";\nexport const x = Array.from("ab");\n',
    "assets/js/views/b.js": 'import { d } from "../deep/d.js";\nexport function b() {}\n',
    "assets/js/side.js": "// imports \"nothing\" from anywhere\n",
    "assets/js/deep/d.js": 'import x from "../../../build/vendor/lib.js";\n',
    "build/vendor/lib.js": "export default 1;\n",
    "assets/js/lazy.js": 'import "./never.js";\n',
}
HTML = ('<head>\n  <link rel="stylesheet" href="a.css">\n'
        '  <script type="module" src="assets/js/app.js"></script>\n</head>\n')


def test_the_static_import_graph_is_named_once_each_and_on_demand_modules_are_not(tmp_path):
    for path, text in MODULES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    (tmp_path / "index.html").write_text(HTML)
    preload.write(tmp_path, "index.html")
    html = (tmp_path / "index.html").read_text()
    assert html == ('<head>\n  <link rel="stylesheet" href="a.css">\n'
                    '  <link rel="modulepreload" href="assets/js/a.js">\n'
                    '  <link rel="modulepreload" href="assets/js/views/b.js">\n'
                    '  <link rel="modulepreload" href="assets/js/side.js">\n'
                    '  <link rel="modulepreload" href="assets/js/deep/d.js">\n'
                    '  <link rel="modulepreload" href="build/vendor/lib.js">\n'
                    '  <script type="module" src="assets/js/app.js"></script>\n</head>\n')
