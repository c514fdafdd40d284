"""The results as a Markdown table (for the terminal and bench/README.md) and as a small
self-contained HTML report with inline SVG plots: no scripts, no external files.

    .venv/bin/python -m bench.report [RESULTS.json]   # default: the newest results file
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

from bench.browser import ROOT

RESULTS = ROOT / "bench" / "results"
REPORT = ROOT / "bench" / "report.html"
COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac", "#17becf", "#8c564b")
# The medians whose history is plotted, one small chart each.
HISTORY = ("cold_boot_ms", "warm_boot_ms", "forward_ms", "backward_ms", "image_switch_ms",
           "attribution_click_ms", "maximize_steps_per_s", "cpython_forward_vgg224_ms",
           "detail_transition_longest_frame_ms", "open_resnet18_overview_ms",
           "forward_resnet18_224_ms", "overview_dom_nodes_resnet50")
# The gallery nets bench/models.py opens, in the order of the report's bars.
GALLERY_NETS = ("resnet18", "mobilenetv2", "resnet50")


def _number(value: float, key: str) -> str:
    if key.endswith("_bytes"):
        return f"{value / 2**20:,.2f} MiB"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def table(results: dict) -> str:
    rows = ["| figure | n | min | median | max |", "|---|---:|---:|---:|---:|"]
    named = dict(results["figures"])
    for kind in ("cold", "warm"):
        for stage, s in results.get(f"{kind}_boot_stages_ms", {}).items():
            named[f"{kind}_boot_stage {stage} (ms)"] = s
    for layer in results.get("forward_layers_ms", []):
        named[f"forward_layer {layer['node']} ({layer['op']}, ms)"] = layer
    for key, s in named.items():
        rows.append(f"| {key} | {s['n']} | " + " | ".join(
            _number(s[k], key) for k in ("min", "median", "max")) + " |")
    sizes = results.get("first_visit_bytes")
    if sizes:
        rows.append(f"| first_visit_bytes ({sizes['files']} files) | 1 | raw "
                    f"{sizes['raw'] / 2**20:,.2f} MiB | gzip {sizes['gzip'] / 2**20:,.2f} MiB | |")
    return "\n".join(rows)


def _side_value(value: float, key: str) -> str:
    if "_bytes" in key:
        return f"{value / 1e6:,.2f} MB"
    return f"{value:,.0f}" + (" ms" if key.endswith("_ms") else "")


def side_by_side_rows(results: dict) -> list[list[str]]:
    """[figure, CNN Explainer, cnnlens, ratio] per figure of bench/side_by_side.py (medians),
    then the cross ratio of the issue's warm target."""
    from bench.side_by_side import BLOG, CROSS, FIGURES

    sbs = results["side_by_side"]
    ours, theirs = sbs["sides"]["cnnlens"], sbs["sides"].get("cnn-explainer")
    ratios = sbs.get("ratios", {})
    rows = []
    for key, label in FIGURES.items():
        ratio = ratios.get(key)
        rows.append([label, _side_value(theirs[key]["median"], key) if theirs else "skipped",
                     _side_value(ours[key]["median"], key),
                     "" if ratio is None else f"{ratio:.2f}×"])
    if CROSS[0] in ratios:
        rows.append([CROSS[1], "", "", f"{ratios[CROSS[0]]:.2f}×"])
    if "blog_post" in sbs:
        drawn = sbs["blog_post"]["embed_blog_post_all_drawn_ms"]["median"]
        rows.append([BLOG[1], "", _side_value(drawn, "_ms"),
                     f"{ratios[BLOG[0]]:.2f}×" if BLOG[0] in ratios else ""])
    for visit, live in sbs.get("live_overview_ms", {}).items():
        rows.append([f"{visit}: → our first live overview (Python's own answer)", "",
                     _side_value(live["median"], "_ms"), ""])
    return rows


def side_by_side_table(results: dict) -> str:
    sbs = results["side_by_side"]
    lines = [f"Side by side with CNN Explainer: medians of {sbs['runs']} interleaved runs"
             + (f" — {sbs['skipped']}" if sbs.get("skipped") else ""),
             "| figure | CNN Explainer | cnnlens | ratio |", "|---|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in side_by_side_rows(results)]
    return "\n".join(lines)


def _bars(title: str, labels: list[str], values: list[float], unit: str) -> str:
    """Horizontal bars, one per label."""
    width, row, left = 640, 18, 170
    top = max(values, default=1) or 1
    parts = [f'<svg width="{width}" height="{row * len(labels) + 30}" role="img">'
             f'<title>{html.escape(title)}</title>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 20 + i * row
        w = (width - left - 80) * value / top
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">'
                     f'{html.escape(label)}</text><rect x="{left}" y="{y}" width="{w:.1f}" '
                     f'height="{row - 4}" fill="{COLOURS[0]}"/><text x="{left + w + 4:.1f}" '
                     f'y="{y + 12}">{value:,.{2 if value < 100 else 0}f} {unit}</text>')
    return "".join(parts) + "</svg>"


def _stacked(runs: dict[str, dict[str, dict]]) -> str:
    """One stacked bar per boot kind (cold, warm), a segment per stage (medians)."""
    width, left, row = 640, 60, 34  # 70 px on the right for the total
    total = max((sum(s["median"] for s in stages.values()) for stages in runs.values()),
                default=1) or 1
    scale = (width - left - 70) / total
    rows = (len(next(iter(runs.values()), {})) + 4) // 5
    parts = [f'<svg width="{width}" height="{row * len(runs) + 24 + 16 * rows}" role="img">']
    for i, (kind, stages) in enumerate(runs.items()):
        y, x = 10 + i * row, float(left)
        parts.append(f'<text x="0" y="{y + 17}">{kind}</text>')
        for j, (stage, s) in enumerate(stages.items()):
            w = s["median"] * scale
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="24" '
                         f'fill="{COLOURS[j % len(COLOURS)]}"><title>{stage}: '
                         f'{s["median"]:.0f} ms</title></rect>')
            x += w
        total_ms = sum(s["median"] for s in stages.values())
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 17}">{total_ms:,.0f} ms</text>')
    legend_y = 10 + len(runs) * row + 14
    stages = next(iter(runs.values()), {})
    for j, stage in enumerate(stages):  # five to a legend row
        x, y = left + (j % 5) * 115, legend_y + (j // 5) * 16
        parts.append(f'<rect x="{x}" y="{y - 10}" width="10" height="10" '
                     f'fill="{COLOURS[j % len(COLOURS)]}"/><text x="{x + 14}" '
                     f'y="{y}">{stage}</text>')
    return "".join(parts) + "</svg>"


def _history_chart(key: str, points: list[tuple[str, float]]) -> str:
    width, height, pad = 300, 120, 24
    top = max((v for _, v in points), default=1) or 1
    step = (width - 2 * pad) / max(len(points) - 1, 1)
    xy = [(pad + i * step, height - pad - (height - 2 * pad) * v / top)
          for i, (_, v) in enumerate(points)]
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS[0]}"><title>'
                   f'{html.escape(label)}: {v:.1f}</title></circle>'
                   for (x, y), (label, v) in zip(xy, points, strict=True))
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    return (f'<figure><figcaption>{key} (median)</figcaption><svg width="{width}" '
            f'height="{height}" role="img"><polyline points="{line}" fill="none" '
            f'stroke="{COLOURS[0]}"/>{dots}<text x="{pad}" y="12">max {top:.0f}</text>'
            f'</svg></figure>')


def history(current: dict) -> dict[str, list[tuple[str, float]]]:
    """Medians from every committed results file, oldest first, then the current run."""
    listed = subprocess.run(["git", "ls-files", "bench/results/*.json"], cwd=ROOT,
                            capture_output=True, text=True).stdout.split()
    runs = [json.loads((ROOT / name).read_text()) for name in listed]
    runs = [r for r in runs if r.get("git") != current["git"]] + [current]
    runs.sort(key=lambda r: r.get("date", ""))
    return {key: [(f"{r['git']} {r['date'][:10]}", r["figures"][key]["median"])
                  for r in runs if key in r.get("figures", {})] for key in HISTORY}


def _gallery(results: dict) -> list[str]:
    """Bars of the gallery nets' medians (bench/models.py), and the steps that failed."""
    figures = results["figures"]
    sections = []
    for title, pattern, unit in (
            ("Forward pass in Pyodide at 3×224×224 (median, ms)", "forward_{}_224_ms", "ms"),
            ("Opening → complete overview (median, ms)", "open_{}_overview_ms", "ms"),
            ("DOM elements in the overview", "overview_dom_nodes_{}", "")):
        nets = [net for net in GALLERY_NETS if pattern.format(net) in figures]
        if nets:
            sections += [f"<h2>Gallery nets: {html.escape(title)}</h2>", _bars(
                title, nets, [figures[pattern.format(net)]["median"] for net in nets], unit)]
    failed = "".join(f"<li>{html.escape(net)}: {html.escape(why)}</li>"
                     for net, why in results.get("gallery_failures", {}).items())
    if failed:
        sections.append(f"<h2>Gallery steps that failed</h2><ul>{failed}</ul>")
    return sections


def render(results: dict) -> str:
    rows = "".join(
        f"<tr><td>{key}</td><td>{s['n']}</td>" + "".join(
            f"<td>{_number(s[k], key)}</td>" for k in ("min", "median", "max")) + "</tr>"
        for key, s in results["figures"].items())
    layers = results.get("forward_layers_ms", [])
    sections = [
        f"<h1>cnnlens benchmark {html.escape(results['git'])}</h1>",
        f"<p>{html.escape(results['date'])} · "
        f"{html.escape(json.dumps(results['machine']))}</p>",
        "<table><tr><th>figure</th><th>n</th><th>min</th><th>median</th><th>max</th></tr>"
        f"{rows}</table>",
    ]
    if "cold_boot_stages_ms" in results:
        sections += ["<h2>Boot by stage (medians, ms)</h2>", _stacked(
            {"cold": results["cold_boot_stages_ms"], "warm": results["warm_boot_stages_ms"]})]
    split = results.get("side_by_side", {}).get("boot_split_ms")
    if split and split.get("cold"):
        sections += ["<h2>Boot split finer (built site, the side-by-side runs; medians, "
                     "ms)</h2>", _stacked(split)]
    if "side_by_side" in results:
        sbs = results["side_by_side"]
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in side_by_side_rows(results))
        sections += [f"<h2>Side by side with CNN Explainer (medians of {sbs['runs']} "
                     "interleaved runs)</h2>",
                     f"<p>{html.escape(sbs.get('skipped') or '')}</p>" if sbs.get("skipped")
                     else "", "<table><tr><th>figure</th><th>CNN Explainer</th><th>cnnlens"
                     f"</th><th>ratio</th></tr>{rows}</table>"]
    if layers:
        sections += ["<h2>Forward pass in Pyodide, per layer (means: the worker's clock "
                     "ticks in 0.1 ms steps)</h2>", _bars(
            "per layer", [f"{layer['node']} ({layer['op']})" for layer in layers],
            [layer.get("mean", layer["median"]) for layer in layers], "ms")]
    sections += _gallery(results)
    sections += ["<h2>History</h2>", "".join(
        _history_chart(key, points) for key, points in history(results).items() if points)]
    not_measured = "".join(f"<li>{k}: {html.escape(v)}</li>"
                           for k, v in results.get("not_measured", {}).items())
    sections.append(f"<h2>Not measured yet</h2><ul>{not_measured}</ul>")
    style = ("body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}"
             "td,th{padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
             "svg text{font-size:11px}figure{display:inline-block;margin:0 1em 1em 0}")
    return (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>cnnlens "
            f"benchmark</title><style>{style}</style><body>{''.join(sections)}</body></html>\n")


def write(results: dict, path: Path = REPORT) -> Path:
    path.write_text(render(results))
    return path


def main() -> int:
    files = sys.argv[1:] or [str(max(RESULTS.glob("*.json"), key=lambda p: p.stat().st_mtime))]
    results = json.loads(Path(files[0]).read_text())
    print(table(results))
    print(f"wrote {write(results).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
