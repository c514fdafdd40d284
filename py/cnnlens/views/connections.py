"""Which channels feed which: the edges the overview draws between activation tiles.

For each drawn layer we name the column its data comes from and, for every output
channel, the input channels that contribute to it: a convolution reads every channel
of its group (one kernel each), element-wise layers and pooling read the one matching
channel, and anything we cannot reason about is drawn as fully connected.
"""

from __future__ import annotations

from ..graph import Node
from ..ops import op_spec


def channel_sources(node: Node, c_in: int, c_out: int) -> list[list[int]]:
    """For each of the `c_out` output channels, the input channels (of `c_in`) feeding it."""
    if node.op_type == "Conv":
        groups = int(node.attributes.get("group", 1))
        if groups >= 1 and c_in % groups == 0 and c_out % groups == 0:
            per_in, per_out = c_in // groups, c_out // groups
            return [list(range((k // per_out) * per_in, (k // per_out + 1) * per_in))
                    for k in range(c_out)]
    spec = op_spec(node.op_type, node.domain)
    if spec is not None and spec.channelwise and c_in == c_out:
        return [[k] for k in range(c_out)]
    return [list(range(c_in)) for _ in range(c_out)]


def source_column(node: Node, drawn: set[str], aliases: dict[str, str]) -> str | None:
    """The drawn column that a node's data input comes from, looking through pass-throughs."""
    for name in node.inputs:
        name = aliases.get(name, name)
        if name in drawn:
            return name
    return None
