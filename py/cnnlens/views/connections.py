"""Which channels feed which: the edges the overview draws between activation tiles.

A column's sources are a few *parts*, never a list of edges (a ResNet-50 has millions).
A part names a range ``[start, stop)`` of the column's channels, the column they read and
``groups``: both the part's channels and the source column's are cut into that many equal
groups, and every channel of group ``g`` reads every channel of the source's group ``g``.
So ``groups`` 1 is "reads every channel" (a convolution, a dense layer, anything we cannot
reason about) and ``groups`` = channels is "reads its own channel" (an op whose spec is
``channelwise``: activations, pooling, batch norm, element-wise arithmetic); a grouped or
depthwise convolution lies between. A residual Add has one part per input it adds; a
Concat over channels one part per input, each over its own range. The page derives every
tile's edges from the parts (`feeders` in assets/js/edges.js).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..graph import Node
from ..ops import op_spec

Part = dict[str, Any]  # {"column": str, "start": int, "stop": int, "groups": int}


def part(column: str, start: int, stop: int, groups: int) -> Part:
    return {"column": column, "start": start, "stop": stop, "groups": groups}


def _grouped(column: str, c_in: int, c_out: int, groups: int) -> Part:
    """All of `c_out` reading `column` in `groups` groups; groups that do not divide both
    channel counts cannot be drawn as such, so every channel reads every channel."""
    fits = groups >= 1 and c_in % groups == 0 and c_out % groups == 0
    return part(column, 0, c_out, groups if fits else 1)


def _concat(node: Node, inputs: list[str | None], drawn: Mapping[str, int],
            c_out: int) -> list[Part] | None:
    """One part per input of a Concat over channels; None when it is not one (another
    axis) or an input is not drawn (its channels, and so the offsets, are unknown here)."""
    names = [name for name in inputs if name is not None]
    if int(node.attributes.get("axis", 1)) not in (1, -3) or len(names) < len(inputs):
        return None
    parts, start = [], 0
    for name in names:
        parts.append(part(name, start, start + drawn[name], drawn[name]))
        start += drawn[name]
    return parts if start == c_out else None


def channel_parts(node: Node, drawn: Mapping[str, int], aliases: Mapping[str, str],
                  c_out: int) -> list[Part]:
    """The parts of a node's `c_out` output channels, from the drawn columns its data
    inputs are (`drawn`: column name → channels; `aliases`: pass-through outputs → the
    tensor they pass on). Empty when no input is drawn."""
    inputs = [aliases.get(name, name) for name in node.inputs if name]
    inputs = [name if name in drawn else None for name in inputs]
    present = [name for name in inputs if name is not None]
    if not present:
        return []
    first = present[0]
    if node.op_type == "Conv":
        return [_grouped(first, drawn[first], c_out, int(node.attributes.get("group", 1)))]
    if node.op_type == "Concat":
        parts = _concat(node, inputs, drawn, c_out)
        if parts is not None:
            return parts
    spec = op_spec(node.op_type, node.domain)
    if spec is not None and spec.channelwise:
        # Every input it combines channel by channel (a residual Add's two); one of a
        # single channel is broadcast to all.
        return [_grouped(name, drawn[name], c_out, c_out if drawn[name] == c_out else 1)
                for name in dict.fromkeys(present)]
    return [part(first, 0, c_out, 1)]


def sources(node: Node, drawn: Mapping[str, int], aliases: Mapping[str, str],
            c_out: int) -> dict[str, Any] | None:
    """A column's `sources`: `column`, the column its data comes from (its first drawn
    input), and the `parts` of its channels; None when it reads no drawn column."""
    parts = channel_parts(node, drawn, aliases, c_out)
    return {"column": parts[0]["column"], "parts": parts} if parts else None
