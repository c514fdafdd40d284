"""Embedded views: a blog post with three frames, the "Embed this view" snippet, lean boots."""

from __future__ import annotations

import pytest

from .conftest import BOOT_TIMEOUT_MS, Browser, screenshot, wait_ready

FRAMES = ("overview-frame", "conv-frame", "playground-frame")


def frame_ready(frame) -> None:
    frame.wait_for_function("Number(document.documentElement.dataset.cnnlensReady || 0) >= 1",
                            timeout=BOOT_TIMEOUT_MS)


@pytest.fixture(scope="module")
def blog(browser, site):
    page = browser.context.new_page()
    page.set_viewport_size({"width": 1000, "height": 3000})  # every lazy frame in view
    page.goto(site + "examples/blog-post.html")
    for name in FRAMES:
        frame_ready(page.locator(f"#{name}").element_handle().content_frame())
    return page


def test_the_blog_post_shows_all_three_views_and_sizes_their_frames(blog):
    overview = blog.locator("#overview-frame").content_frame
    assert overview.locator("#overview canvas.tile").count() == 1 + 10 * 10  # input + 10 layers
    conv = blog.locator("#conv-frame").content_frame
    assert "conv_1_2 · channel 3" in conv.locator("#detail-title").text_content()
    assert conv.locator(".elastic-row:not(.total)").count() == 10
    playground = blog.locator("#playground-frame").content_frame
    assert playground.locator("#playground [data-step]").count() + playground.locator(
        "#playground[data-step]").count() >= 1
    for name in FRAMES:
        frame = blog.locator(f"#{name}")
        content = frame.content_frame.locator("html").evaluate(
            "h => h.scrollHeight")
        blog.wait_for_function(
            "([id, h]) => Math.abs(document.getElementById(id).getBoundingClientRect().height"
            " - h) <= 4", arg=[name, content])
        assert content > 150
    screenshot(blog, "embed-blog-post")


def test_embeds_leave_the_host_pages_focus_and_scroll_alone(blog):
    assert blog.evaluate("document.activeElement === document.body")
    assert blog.evaluate("window.scrollY") == 0


def test_an_embedded_view_fits_a_narrow_column(browser, site):
    page = browser.context.new_page()
    page.set_viewport_size({"width": 320, "height": 900})
    page.goto(site + "embed.html#view=conv&layer=conv_2_1&channel=0")
    wait_ready(page, 1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.goto(site + "embed.html#view=overview")
    wait_ready(page, 1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.close()


def test_the_embed_button_gives_the_iframe_of_the_current_view(browser, site):
    page = browser.context.new_page()
    page.goto(site + "index.html")
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    page.click("#overview canvas.tile[data-layer='max_pool_1'][data-channel='5']")
    page.locator("#detail").wait_for(state="visible")
    page.click("#embed-button")
    code = page.input_value("#embed-code")
    assert code.startswith("<iframe ") and "assets/embed.js" in code
    src = code.split('src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "view=pool" in src and "layer=max_pool_1" in src and "channel=5" in src
    page.click("#embed-close")
    framed = browser.context.new_page()
    framed.goto(src)
    wait_ready(framed, 1)
    assert "max_pool_1 · channel 5" in framed.locator("#detail-title").text_content()
    framed.close()
    page.close()


def test_the_playground_embed_loads_no_model_and_no_numpy(playwright_instance, site, tmp_path):
    browser = Browser(playwright_instance, tmp_path / "profile")
    page = browser.context.new_page()
    page.goto(site + "embed.html#view=playground")
    wait_ready(page, 1)
    assert page.locator("#playground svg").count() >= 1
    asked = " ".join(browser.requests)
    assert ".onnx" not in asked and "numpy" not in asked and "pillow" not in asked
    browser.close()
    assert browser.outside_requests() == []


def test_only_height_messages_from_an_embedded_frame_resize_it(blog):
    """assets/embed.js reads messages of our shape from its frames; embeds read none at all."""
    frame = "document.getElementById('conv-frame')"
    before = blog.evaluate(f"{frame}.style.height")
    blog.evaluate("""() => {
        window.postMessage({type: 'cnnlens:height', height: 99}, '*');  // not from a frame
        const w = document.getElementById('conv-frame').contentWindow;
        w.postMessage({type: 'cnnlens:height', height: 77}, '*');  // to the embed: ignored
        w.postMessage('alert(1)', '*');
    }""")
    blog.wait_for_timeout(300)
    assert blog.evaluate(f"{frame}.style.height") == before
    # A well-formed message really from the frame does resize it (the check can fail).
    blog.locator("#conv-frame").content_frame.locator("body").evaluate(
        "() => parent.postMessage({type: 'cnnlens:height', height: 321, href: location.href},"
        " '*')")
    blog.wait_for_function(f"{frame}.style.height === '321px'")
    conv = blog.locator("#conv-frame").content_frame
    assert "conv_1_2 · channel 3" in conv.locator("#detail-title").text_content()
