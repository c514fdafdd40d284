"""The article's small figures: ReLU, one max-pooling window, softmax and the colour scales.

Each figure is the engine's own numbers for the current image (the forward pass's tensors,
logits and probabilities, picked by `figure_numbers`) put in words and drawn as a small SVG.
The same code makes the static fallbacks the article shows without JavaScript
(``build/article_figures.py``, on the first example) and the live figures the page asks for
after every overview (``App.figures``), so the two cannot disagree. SVG is written with
presentation attributes and classes only: the page's Content-Security-Policy forbids inline
``style``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..forward import ForwardResult
from ..graph import Model
from . import colormap
from .figure_numbers import colour_scales, fmt, pool_windows, relu_points, softmax_bars

FIGURES = ("relu", "pool", "softmax", "colours")
WIDTH = 340
"""Every figure's viewBox width: drawn at 1:1 in a 390-pixel-wide phone's article column."""

INK = "#1d2330"
MUTED = "#4a5263"
AXIS = "#8a93a3"
ACCENT = "#b54400"
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"


# --- the words ---


def _relu_words(data: dict[str, Any]) -> str:
    pairs = ", ".join(f"{fmt(p['x'])} → {fmt(p['y'])}" for p in data["points"])
    return (f"The ReLU curve y = max(0, x), with {len(data['points'])} values of channel "
            f"{data['channel']} of {data['input']} (x) and of {data['layer']} (y): {pairs}.")


def _pool_words(data: dict[str, Any]) -> str:
    windows = "; ".join(
        f"window {i + 1}: max {fmt(data['max'][i // 2][i % 2])}, "
        f"average {fmt(data['average'][i // 2][i % 2])}" for i in range(4))
    return (f"Four {data['kernel'][0]} × {data['kernel'][1]} max-pooling windows over channel "
            f"{data['channel']} of {data['input']} (rows {data['origin'][0]} to "
            f"{data['origin'][0] + len(data['patch']) - 1}, columns {data['origin'][1]} to "
            f"{data['origin'][1] + len(data['patch'][0]) - 1}): {windows}.")


def _softmax_words(data: dict[str, Any]) -> str:
    bars = "; ".join(f"{c['name']}: logit {fmt(c['logit'])}, probability "
                     f"{c['probability'] * 100:.1f}%" for c in data["classes"])
    top = data["classes"][data["top1"]]["name"]
    return f"Softmax turns the logits into probabilities. {bars}. Prediction: {top}."


MEANINGS = {
    "activation": ("Activations", "red: negative · white: zero · blue: positive"),
    "weight": ("Kernel weights", "brown: negative · near white: zero · green: positive"),
    "logit": ("Logits", "light orange: lowest score · dark orange: highest"),
}


def _colour_words(data: dict[str, Any]) -> str:
    parts = [f"{MEANINGS[k][0]} of {v['layer']}, from {fmt(v['min'])} to {fmt(v['max'])}: "
             f"{MEANINGS[k][1]}" for k, v in data.items()]
    return "The colour scales. " + "; ".join(parts) + "."


# --- the drawing ---

# XML's escapes, by hand: xml.sax.saxutils would bring urllib.request, http.client and most
# of email into the page, a quarter of a megabyte of stdlib it otherwise never downloads.
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                            "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' {key.replace("_", "-")}="{str(value).translate(_ATTRIBUTE)}"'
                   for key, value in attrs.items() if value is not None)


def tag(name: str, attrs: dict[str, Any] | None = None, children: Iterable[str] | str = ()
        ) -> str:
    """One SVG element as text; a ``str`` child is text (escaped), an iterable is elements.
    Attribute names write ``_`` as ``-`` (``font_size`` → ``font-size``)."""
    inner = children.translate(_TEXT) if isinstance(children, str) else "".join(children)
    return f"<{name}{_attrs(attrs or {})}>{inner}</{name}>"


def text(x: float, y: float, words: str, size: float = 11, anchor: str = "start",
         fill: str = INK, weight: str | None = None, **attrs: Any) -> str:
    return tag("text", {"x": f"{x:g}", "y": f"{y:g}", "font_size": f"{size:g}",
                        "text_anchor": anchor, "fill": fill, "font_weight": weight, **attrs},
               words)


def svg(name: str, height: float, description: str, body: Iterable[str]) -> str:
    """A whole figure: viewBox ``WIDTH`` × ``height``, its words as <title> and <desc>."""
    head = {"xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {WIDTH} {height:g}",
            "width": WIDTH, "height": f"{height:g}", "class": f"fig-svg fig-{name}",
            "font_family": FONT, "role": "img", "aria_labelledby": f"fig-{name}-desc"}
    return tag("svg", head, [tag("desc", {"id": f"fig-{name}-desc"}, description), *body])


def _luminance(rgba: np.ndarray) -> np.ndarray:
    """Relative luminance (WCAG) of RGBA bytes `(*S, 4)` → `(*S)`."""
    c = rgba[..., :3] / 255.0
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ np.array([0.2126, 0.7152, 0.0722])


def _ink_on(rgba: np.ndarray) -> list[str]:
    """Text colour (ink or white) with the better contrast on each background `(S, 4)`."""
    lum = _luminance(rgba)
    ink_lum = _luminance(np.array([int(INK[i:i + 2], 16) for i in (1, 3, 5)] + [255.0]))
    on_white = 1.05 / (lum + 0.05)
    on_ink = (lum + 0.05) / (ink_lum + 0.05)
    return np.where(on_white > on_ink, "#ffffff", INK).tolist()


def relu_svg(data: dict[str, Any], description: str) -> str:
    """Axes, the curve max(0, x) and one focusable-looking dot per value."""
    left, right, top = 30.0, 310.0, 34.0
    zero_x = (left + right) / 2
    half = (right - left) / 2
    base = top + half  # y = 0
    reach = data["reach"] if data["reach"] > 0 else 1.0
    xs = np.array([p["x"] for p in data["points"]])
    ys = np.array([p["y"] for p in data["points"]])
    colours = colormap.diverging(xs, reach)
    px = zero_x + half * xs / reach
    py = base - half * ys / reach
    body = [
        text(left, 16, "y = max(0, x)", 13, weight="700"),
        text(right, 16, f"{data['layer']}, channel {data['channel']}", 12, "end", MUTED),
        tag("line", {"x1": left, "y1": base, "x2": right, "y2": base, "stroke": AXIS}),
        tag("line", {"x1": zero_x, "y1": top - 6, "x2": zero_x, "y2": base, "stroke": AXIS}),
        tag("polyline", {"points": f"{left:g},{base:g} {zero_x:g},{base:g} {right:g},{top:g}",
                         "fill": "none", "stroke": ACCENT, "stroke_width": 2}),
        text(left, base + 16, fmt(-reach), 11, "start", MUTED),
        text(zero_x, base + 16, "0", 11, "middle", MUTED),
        text(right, base + 16, fmt(reach), 11, "end", MUTED),
        text(zero_x - 4, top, fmt(reach), 11, "end", MUTED),
        text((left + right) / 2, base + 34, f"x: {data['input']} before the ReLU", 12, "middle",
             MUTED),
    ]
    for i, point in enumerate(data["points"]):
        tip = f"x = {fmt(point['x'])} → y = {fmt(point['y'])}"
        body.append(tag("circle", {
            "class": "fig-point", "cx": f"{px[i]:.2f}", "cy": f"{py[i]:.2f}", "r": 5,
            "fill": colormap.hex_colour(colours[i]), "stroke": INK, "stroke_width": 1,
            "data_index": i, "data_x": repr(point["x"]), "data_y": repr(point["y"]),
            "data_row": point["row"], "data_col": point["col"]}, [tag("title", {}, tip)]))
    return svg("relu", base + 44, description, body)


def pool_svg(data: dict[str, Any], description: str) -> str:
    """The input patch with its values, the max-pool and average outputs, and one group per
    window (only the first visible; the page steps through them)."""
    cell, top = 34.0, 26.0
    patch = np.array(data["patch"])
    reach = data["reach"] if data["reach"] > 0 else 1.0
    grids = {"max": np.array(data["max"]), "average": np.array(data["average"])}
    lefts = {"patch": 2.0, "max": 170.0, "average": 262.0}
    body = [text(lefts["patch"], 16, f"{data['input']}, channel {data['channel']}", 12,
                 weight="700"),
            text(lefts["max"], 16, "max pool", 12, weight="700"),
            text(lefts["average"], 16, "average", 12, fill=MUTED)]

    def grid(values: np.ndarray, left: float, name: str) -> list[str]:
        fills = colormap.diverging(values, reach)
        inks = _ink_on(fills.reshape(-1, 4))
        cells = []
        for i, (r, c) in enumerate(np.ndindex(values.shape)):
            x, y = left + c * cell, top + r * cell
            cells.append(tag("rect", {"x": f"{x:g}", "y": f"{y:g}", "width": cell,
                                      "height": cell, "fill": colormap.hex_colour(fills[r, c]),
                                      "stroke": "#ffffff", "class": f"fig-cell fig-{name}",
                                      "data_value": repr(float(values[r, c]))}))
            cells.append(text(x + cell / 2, y + cell / 2 + 4, fmt(float(values[r, c])), 10,
                              "middle", inks[i]))
        return cells

    body += grid(patch, lefts["patch"], "patch")
    body += grid(grids["max"], lefts["max"], "max")
    body += grid(grids["average"], lefts["average"], "average")
    kh, kw = data["kernel"]
    sh, sw = data["stride"]
    bottom = top + cell * max(patch.shape[0], 2)
    for i, (r, c) in enumerate(np.ndindex(2, 2)):
        ar, ac = data["argmax"][r][c]
        window = [
            tag("rect", {"x": f"{lefts['patch'] + c * sw * cell:g}",
                         "y": f"{top + r * sh * cell:g}", "width": f"{kw * cell:g}",
                         "height": f"{kh * cell:g}", "fill": "none", "stroke": ACCENT,
                         "stroke_width": 3}),
            tag("circle", {"cx": f"{lefts['patch'] + (ac + 0.5) * cell:g}",
                           "cy": f"{top + (ar + 0.5) * cell:g}", "r": cell / 2 - 3,
                           "fill": "none", "stroke": INK, "stroke_width": 2}),
            *(tag("rect", {"x": f"{lefts[name] + c * cell:g}", "y": f"{top + r * cell:g}",
                           "width": cell, "height": cell, "fill": "none", "stroke": ACCENT,
                           "stroke_width": 3}) for name in ("max", "average")),
            text(2, bottom + 20, f"Window {i + 1} of 4: max {fmt(data['max'][r][c])} (circled),"
                 f" average {fmt(data['average'][r][c])}", 12),
        ]
        body.append(tag("g", {"class": "fig-step", "data_step": i,
                              "visibility": "visible" if i == 0 else "hidden"}, window))
    return svg("pool", bottom + 30, description, body)


def softmax_svg(data: dict[str, Any], description: str) -> str:
    """One row per class: name, logit bar (from zero, coloured as the overview's logits),
    logit value, probability bar and percentage; the prediction in bold."""
    row, top = 17.0, 24.0
    classes = data["classes"]
    logits = np.array([c["logit"] for c in classes])
    low, high = min(float(logits.min()), 0.0), max(float(logits.max()), 0.0)
    span = high - low if high > low else 1.0
    bar_left, bar_width = 84.0, 100.0
    zero = bar_left + bar_width * -low / span
    colours = colormap.sequential(logits, float(logits.min()), float(logits.max()), "logit")
    prob_left, prob_width = 232.0, 64.0
    body = [text(80, 14, "class", 11, "end", MUTED),
            text(bar_left + bar_width / 2, 14, "logit", 11, "middle", MUTED),
            text(prob_left, 14, "probability", 11, fill=MUTED),
            tag("line", {"x1": f"{zero:.2f}", "y1": top - 4, "x2": f"{zero:.2f}",
                         "y2": top + row * len(classes), "stroke": AXIS})]
    for i, c in enumerate(classes):
        y = top + i * row
        weight = "700" if i == data["top1"] else None
        end = bar_left + bar_width * (c["logit"] - low) / span
        body += [
            text(80, y + 12, c["name"], 12, "end", weight=weight),
            tag("rect", {"class": "fig-logit", "x": f"{min(zero, end):.2f}", "y": f"{y + 3:g}",
                         "width": f"{abs(end - zero):.2f}", "height": row - 6,
                         "fill": colormap.hex_colour(colours[i]), "stroke": ACCENT,
                         "stroke_width": 0.5, "data_logit": repr(c["logit"])}),
            text(bar_left + bar_width + 4, y + 12, fmt(c["logit"]), 11, fill=MUTED),
            tag("rect", {"x": prob_left, "y": f"{y + 3:g}", "width": prob_width,
                         "height": row - 6, "fill": "#eef0f4"}),
            tag("rect", {"class": "fig-probability", "x": prob_left, "y": f"{y + 3:g}",
                         "width": f"{prob_width * c['probability']:.2f}", "height": row - 6,
                         "fill": "#0b5cad", "data_probability": repr(c["probability"])}),
            text(WIDTH - 2, y + 12, f"{c['probability'] * 100:.1f}%", 11, "end",
                 weight=weight),
        ]
    return svg("softmax", top + row * len(classes) + 6, description, body)


def colours_svg(data: dict[str, Any], description: str) -> str:
    """Each scale as a gradient bar, its ends' values (and 0 when centred) and its meaning."""
    block, left, right = 66.0, 4.0, WIDTH - 4.0
    defs, body = [], []
    for i, (scale, legend) in enumerate(data.items()):
        y = i * block
        stops = [tag("stop", {"offset": f"{k / (len(legend['colors']) - 1):g}",
                              "stop_color": colour}) for k, colour in enumerate(legend["colors"])]
        defs.append(tag("linearGradient", {"id": f"fig-scale-{scale}"}, stops))
        title, meaning = MEANINGS[scale]
        body += [
            text(left, y + 13, title if legend["layer"].lower() == title.lower()
                 else f"{title} ({legend['layer']})", 12, weight="700"),
            tag("rect", {"x": left, "y": y + 18, "width": right - left, "height": 14,
                         "fill": f"url(#fig-scale-{scale})", "stroke": AXIS,
                         "class": f"fig-scale fig-scale-{scale}", "data_min": repr(legend["min"]),
                         "data_max": repr(legend["max"])}),
            text(left, y + 44, fmt(legend["min"]), 11, fill=MUTED),
            text(right, y + 44, fmt(legend["max"]), 11, "end", MUTED),
            text(left, y + 58, meaning, 11.5),
        ]
        if scale != "logit":
            body.append(text((left + right) / 2, y + 44, "0", 11, "middle", MUTED))
    return svg("colours", block * len(data), description, [tag("defs", {}, defs), *body])


def figures(model: Model, result: ForwardResult, classes: list[str], image: str
            ) -> dict[str, Any]:
    """Every figure for one forward pass: ``{name: {data, description, svg} | None}`` (None
    when the model has no such layer), plus the image's name."""
    made: dict[str, Any] = {"image": image}
    parts = {
        "relu": (relu_points(model, result), _relu_words, relu_svg),
        "pool": (pool_windows(model, result), _pool_words, pool_svg),
        "softmax": (softmax_bars(result, classes), _softmax_words, softmax_svg),
        "colours": (colour_scales(model, result), _colour_words, colours_svg),
    }
    for name, (data, words, draw) in parts.items():
        if data is None:
            made[name] = None
            continue
        description = words(data)
        made[name] = {"data": data, "description": description, "svg": draw(data, description)}
    return made
