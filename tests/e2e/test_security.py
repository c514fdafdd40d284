"""Hostile text is shown as text, the Content-Security-Policy holds, and nothing the user
gives the page leaves the browser.

One boot serves every test here: the page loads the bundled graph with hostile metadata
(served in place of the bundled model), with CSP violations and dialogs recorded from the
first byte. The test that injects code to prove the CSP is enforced runs last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import onnx
import pytest

from tests.paths import BUNDLED_MODEL, ROOT

from .conftest import Browser, wait_ready

# The image decoder the first upload loads (the boot loads NumPy only).
PILLOW_WHEEL = json.loads((ROOT / "build/vendor/pyodide/pyodide-lock.json").read_text())[
    "packages"]["pillow"]["file_name"]
HOSTILE = [f"<img src=x onerror=alert({i})>" for i in range(10)]
HOSTILE_NAME = "<script>alert('name')</script><b>bold</b>"

# Every `securitypolicyviolation` from the first byte on, kept on the window.
RECORD_VIOLATIONS = """
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
        {directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile}));
"""


def hostile_model() -> bytes:
    """The bundled graph with class names and model name that are HTML payloads."""
    model = onnx.load(str(BUNDLED_MODEL))
    props = {p.key: p.value for p in model.metadata_props}
    props["cnnlens.classes"] = json.dumps(HOSTILE)
    props["cnnlens.name"] = HOSTILE_NAME
    onnx.helper.set_model_props(model, props)
    return model.SerializeToString()


@dataclass
class Hostile:
    page: object
    browser: Browser
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def hostile(playwright_instance, tmp_path_factory, site, request):
    browser = Browser(playwright_instance, tmp_path_factory.mktemp("profile"))
    body = hostile_model()
    browser.context.route("**/assets/models/tinyvgg-fashion-mnist.onnx",
                          lambda route: route.fulfill(status=200, body=body,
                                                      content_type="application/octet-stream"))
    page = browser.context.new_page()
    state = Hostile(page, browser)
    page.on("dialog", lambda dialog: (state.dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(site + "index.html")
    wait_ready(page, 1)
    yield state
    browser.close()
    browser.check(request.module)


def test_hostile_labels_are_shown_as_literal_text(hostile):
    page = hostile.page
    names = page.eval_on_selector_all("section.kind-output li.class .name",
                                      "els => els.map(e => e.textContent)")
    assert sorted(names) == sorted(HOSTILE)
    assert page.get_by_test_id("top1").text_content() in HOSTILE
    # The markup stayed text: no element was made from it anywhere in the page.
    assert page.locator("section.kind-output img").count() == 0
    assert page.locator("#overview img, #overview script, #overview b").count() == 0
    assert page.locator("img[src=x]").count() == 0
    page.wait_for_timeout(300)  # give any injected handler a moment to fire
    assert hostile.dialogs == []


def test_hostile_model_name_is_not_markup(hostile):
    page = hostile.page
    assert HOSTILE_NAME not in page.content()  # if it appears at all, it is escaped
    assert page.locator("b:text('bold')").count() == 0
    assert hostile.dialogs == []


def test_an_upload_sends_nothing_anywhere(hostile, tmp_path):
    """The picture is processed in the browser: no request carries it, not even to 127.0.0.1.
    The first upload fetches the image decoder (Pillow's wheel, from the site itself: the
    boot does not load it); the next one makes no request at all."""
    from PIL import Image

    page = hostile.page
    page.wait_for_load_state("networkidle")
    for turn, shade in enumerate((255, 128)):
        path = tmp_path / f"private photo {turn}.png"
        Image.fromarray(np.tri(28, dtype=np.uint8) * shade).save(path)
        seen = len(hostile.browser.requests)
        before = int(page.evaluate("document.documentElement.dataset.cnnlensReady"))
        page.set_input_files("#upload", str(path))
        wait_ready(page, before + 1)
        page.wait_for_timeout(1000)  # and after: nothing is sent later either
        assert page.locator("#image-name").text_content() == path.name
        sent = hostile.browser.requests[seen:]
        if turn == 0:
            assert [urlsplit(url).path.rsplit("/", 1)[-1] for url in sent] == [PILLOW_WHEEL]
            assert all(urlsplit(url).hostname == "127.0.0.1" for url in sent)
        else:
            assert sent == []


def csp_directives(page) -> dict[str, list[str]]:
    policy = page.get_attribute("meta[http-equiv=Content-Security-Policy]", "content")
    assert policy, "index.html has no Content-Security-Policy"
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {name: sources for name, *sources in parts}


def test_the_page_boots_under_its_csp_without_a_violation(hostile):
    page = hostile.page
    page.click("button.example >> nth=1")  # one more request/answer round under the policy
    page.wait_for_function("document.getElementById('image-name').textContent.length > 0")
    assert page.evaluate("window.__cspViolations") == []
    policy = csp_directives(page)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    # https: for the image address a user types; nothing else beyond our own origin.
    assert policy["connect-src"] == ["'self'", "https:"]
    assert not any("'unsafe-inline'" in sources for sources in policy.values())
    # No host is named: keywords, blob: for PyScript's worker, https: for image addresses.
    assert all(source.startswith("'") or source == "blob:"
               for name, sources in policy.items() for source in sources
               if (name, source) != ("connect-src", "https:")), policy


def test_the_csp_is_enforced(hostile):
    """Runs last: injected inline code does not run and is reported, and nothing can be
    fetched from another origin (the browser fixture would abort it too, but only the CSP
    reports a `connect-src` violation)."""
    page = hostile.page
    page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true';
        document.body.append(s);
        const b = document.createElement('button');
        b.setAttribute('onclick', 'window.__clicked = true');
        document.body.append(b);
        b.click();
        b.remove();
    }""")
    page.wait_for_function("window.__cspViolations.length >= 2")
    assert page.evaluate("window.__injected === undefined && window.__clicked === undefined")
    blocked = page.evaluate(
        "() => fetch('http://example.com/').then(() => 'sent', () => 'blocked')")
    assert blocked == "blocked"
    directives = {v["directive"] for v in page.evaluate("window.__cspViolations")}
    assert {"script-src-elem", "script-src-attr", "connect-src"} <= directives, directives
    assert hostile.dialogs == []
