"""The tutorial article: readable as plain HTML without JavaScript, and its links open the
live views they name."""

from __future__ import annotations

import itertools
from html.parser import HTMLParser
from urllib.parse import parse_qs

import pytest

from .conftest import ROOT, screenshot, wait_ready

SECTIONS = ["What a CNN is", "Tensors, neurons, layers, kernels and biases", "Input",
            "Convolution", "Kernel size, stride and padding", "ReLU", "Max pooling", "Flatten",
            "Softmax", "Reading the colours", "Using the page"]


class Outline(HTMLParser):
    """Headings in document order, whether each lies inside <article> or <main>, and links."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.headings: list[tuple[int, str, bool, bool]] = []
        self.links: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in {"article", "main"}:
            self.open.append(tag)
        if tag in {"h1", "h2", "h3", "h4"}:
            self._heading = [tag]
        if tag == "a" and "article" in self.open:
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in {"article", "main"}:
            self.open.remove(tag)
        if self._heading and tag == self._heading[0]:
            text = "".join(self._heading[1:]).strip()
            level = int(tag[1])
            self.headings.append((level, text, "article" in self.open, "main" in self.open))
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def outline() -> Outline:
    parser = Outline()
    parser.feed((ROOT / "index.html").read_text())
    return parser


def test_the_served_html_has_the_article_outside_main_with_headings_in_order():
    parsed = outline()
    levels = [level for level, *_ in parsed.headings]
    assert levels[0] == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
    article = [text for _, text, in_article, _ in parsed.headings if in_article]
    assert article[1:] == SECTIONS
    assert not any(in_main for _, _, in_article, in_main in parsed.headings if in_article)
    targets = {href[1:] for href in parsed.links if "=" not in href}
    assert len(targets) == len(SECTIONS)


# Text colour against the first opaque background behind it, as WCAG defines the ratio.
CONTRASTS = """() => {
    const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
    const lum = ([r, g, b]) => {
        const c = [r, g, b].map((v) => v / 255)
            .map((v) => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const background = (el) => {
        for (; el; el = el.parentElement) {
            const c = rgb(getComputedStyle(el).backgroundColor);
            if (c.length === 3 || c[3] === 1) return c.slice(0, 3);
        }
        return [255, 255, 255];
    };
    const sel = '#article :is(p, li, dd, dt, a, h2, h3, code, kbd, figcaption)';
    return [...document.querySelectorAll(sel)].map((el) => {
        const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
        return [el.textContent.slice(0, 40), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
    });
}"""


@pytest.fixture(scope="module")
def no_js(browser, site):
    """A page of the test browser with script execution switched off (as a reader with
    JavaScript disabled sees it; the same switch as a context without JavaScript)."""
    page = browser.context.new_page()
    cdp = browser.context.new_cdp_session(page)
    cdp.send("Emulation.setScriptExecutionDisabled", {"value": True})
    page.goto(site + "index.html")
    assert page.evaluate("1 + 1") == 2  # Playwright's own evaluation still works
    yield page
    page.close()


def test_the_article_is_readable_without_javascript(no_js):
    page = no_js
    assert page.locator("#app").is_hidden()  # the app needs JavaScript; the article does not
    assert page.locator("#boot noscript").count() == 1
    assert "cnnlensStage" not in page.evaluate("Object.keys(document.documentElement.dataset)")
    article = page.locator("article#article")
    assert article.is_visible()
    for title in SECTIONS:
        heading = page.get_by_role("heading", name=title, exact=True)
        assert heading.is_visible(), title
    text = article.inner_text()
    assert "⌊(n + 2p − k) / s⌋ + 1" in text
    placeholder = page.locator("#playground")
    assert placeholder.is_visible()
    assert "animates the kernel window" in placeholder.inner_text()
    ratios = page.evaluate(CONTRASTS)
    assert len(ratios) > 50
    low = {text: ratio for text, ratio in ratios if ratio < 4.5}
    assert not low, low  # WCAG AA for body text
    screenshot(page, "article-no-javascript")




def live_links(page) -> list[str]:
    return page.eval_on_selector_all("#article a.live",
                                     "links => links.map(a => a.getAttribute('href'))")


def test_article_links_open_the_neuron_they_name(page):
    neuron_links = [href for href in live_links(page) if "layer=" in href]
    assert len(neuron_links) >= 5
    for href in neuron_links:
        query = parse_qs(href[1:])
        layer, channel = query["layer"][0], query["channel"][0]
        opened = int(page.locator("#detail").get_attribute("data-opened") or 0)
        page.click(f"#article a.live[href='{href}']")
        page.wait_for_function(
            "n => Number(document.querySelector('#detail').dataset.opened || 0) > n", arg=opened)
        panel = page.locator("#detail")
        assert panel.is_visible()
        assert panel.get_attribute("data-layer") == layer
        assert panel.get_attribute("data-channel") == channel
        selected = page.locator("#overview .selected")
        assert selected.count() == 1
        assert selected.get_attribute("data-layer") == layer
        assert selected.get_attribute("data-channel") == channel
        assert f"layer={layer}" in page.url and f"channel={channel}" in page.url
    screenshot(page, "article-link-opened")


def test_article_links_switch_the_colour_range(page):
    for mode in ["network", "layer"]:
        before = int(page.evaluate("document.documentElement.dataset.cnnlensReady"))
        page.click(f"#article a.live[href='#range={mode}']")
        wait_ready(page, before + 1)
        assert page.input_value("#range-mode") == mode
        assert f"range={mode}" in page.url


def test_screenshot_of_the_article(page):
    page.locator("#article").scroll_into_view_if_needed()
    screenshot(page, "article")
