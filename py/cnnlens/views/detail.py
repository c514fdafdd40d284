"""Which detail view explains a tile or a class, chosen by its op's spec (`OpSpec.detail`).

Each name in :data:`DETAIL_VIEWS` is also a key of ``VIEWS`` in ``assets/js/detail.js``,
which draws the answer; a node whose op names no view gets its plain numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from ..ops import op_spec
from .conv import conv_view
from .flatten import flatten_view
from .neuron import neuron
from .pool import pool_view
from .relu import relu_view
from .softmax import softmax_view

DetailView = tuple[dict[str, Any], np.ndarray, np.ndarray]
"""(JSON-ready view, float32 numbers, RGBA rasters), see `views.bundle`."""

DETAIL_VIEWS: dict[str, Callable[[Model, ForwardResult, str, int], DetailView]] = {
    "conv": conv_view,
    "relu": relu_view,
    "pool": pool_view,
}


def detail_view(model: Model, result: ForwardResult, classes: list[str], layer: str,
                channel: int) -> DetailView:
    """The detail view of a tile or a class.

    A class gets the flatten view plus the softmax (or its plain numbers when the head is
    not one we can draw); a tile gets the view its op's spec names, else its numbers.
    """
    empty = np.zeros(0, np.float32), np.zeros(0, np.uint8)
    if layer == result.logits_name:
        try:
            view, numbers, rasters = flatten_view(model, result, classes, channel)
        except CnnlensError:
            return {**neuron(model, result, classes, layer, channel), "softmax": None}, *empty
        view["softmax"] = softmax_view(result, classes)
        return view, numbers, rasters
    node = model.graph.producers.get(layer)
    spec = op_spec(node.op_type, node.domain) if node is not None else None
    if spec is not None and spec.detail is not None:
        return DETAIL_VIEWS[spec.detail](model, result, layer, channel)
    return neuron(model, result, classes, layer, channel), *empty
