"""dist's pages link their stylesheets as one file each (build/stylesheets.py): joined in the
page's order, linked where the first was, the originals gone from the build. That the page
looks the same: tests/e2e/test_site.py."""

from __future__ import annotations

import re

import pytest

from tests.paths import ROOT, load_build_script

stylesheets = load_build_script("stylesheets")
LINK = re.compile(r'<link rel="stylesheet" href="([^"]+)">')


@pytest.fixture
def out(tmp_path):
    css = tmp_path / "assets" / "css"
    css.mkdir(parents=True)
    for name, rule in (("a.css", "p { color: red; }"), ("b.css", "p { color: blue; }"),
                       ("c.css", "h1 { margin: 0; }")):
        (css / name).write_text(rule + "\n")
    (tmp_path / "index.html").write_text(
        "<head>\n  <meta charset=\"utf-8\">\n"
        '  <link rel="stylesheet" href="assets/css/b.css">\n'
        '  <link rel="stylesheet" href="assets/css/a.css">\n'
        '  <script type="module" src="assets/js/app.js"></script>\n</head>\n')
    (tmp_path / "one.html").write_text(
        '<head>\n  <link rel="stylesheet" href="assets/css/c.css">\n')
    return tmp_path


def test_the_page_links_one_file_of_its_sheets_in_its_order(out):
    assert stylesheets.merge(out, "index.html") == "assets/css/index.css"
    html = (out / "index.html").read_text()
    assert LINK.findall(html) == ["assets/css/index.css"]
    assert html.index("index.css") < html.index("<script")  # where the first one was
    text = (out / "assets/css/index.css").read_text()
    assert text.index("color: blue") < text.index("color: red")  # b.css came first
    assert "margin" not in text


def test_a_page_with_one_sheet_keeps_it(out):
    before = (out / "one.html").read_text()
    assert stylesheets.merge(out, "one.html") is None
    assert (out / "one.html").read_text() == before


def test_the_repository_pages_link_their_sheets_the_way_the_merge_reads_them():
    # Each stylesheet <link> of index.html and embed.html is one the merge finds.
    for page in ("index.html", "embed.html"):
        html = (ROOT / page).read_text()
        assert stylesheets.linked(html) == LINK.findall(html)
        assert len(stylesheets.linked(html)) >= 2


def test_dist_holds_the_joined_sheets_and_not_the_others(tmp_path):
    site = load_build_script("site").build_site(tmp_path / "dist")
    css = sorted(p.name for p in (site.out / "assets/css").iterdir())
    assert css == ["embed.css", "index.css"]
    joined = (site.out / "assets/css/index.css").read_text()
    for sheet in LINK.findall((ROOT / "index.html").read_text()):
        assert (ROOT / sheet).read_text() in joined, sheet
