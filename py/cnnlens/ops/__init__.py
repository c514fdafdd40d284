"""The op registry: ONNX op type → its :class:`~cnnlens.ops.spec.OpSpec`.

One module per op family (``conv.py``, ``pool.py``, …) defines each op's forward
function, vector-Jacobian product and shape rule side by side and lists them in its
``SPECS``; this module only gathers them. Most ops kept their meaning across opsets (new
attributes have defaults that reproduce the old behaviour, and legacy attributes are still
honoured); the few whose meaning changed carry their older forms in ``OpSpec.earlier``.
"""

from __future__ import annotations

from cnnlens.ops import (
    activation,
    arithmetic,
    conv,
    indexing,
    layout,
    linear,
    lrn,
    normalization,
    padding,
    passthrough,
    pool,
    resize,
    shape,
    softmax,
)
from cnnlens.ops.spec import OpFunction, OpSpec

_MODULES = (conv, pool, normalization, lrn, activation, linear, arithmetic, shape, layout,
            indexing, padding, resize, softmax, passthrough)

SPECS: dict[str, OpSpec] = {spec.op_type: spec for module in _MODULES for spec in module.SPECS}


def op_spec(op_type: str, domain: str = "") -> OpSpec | None:
    """The spec of ``op_type`` in the default ONNX domain, or ``None`` when unsupported."""
    return None if domain else SPECS.get(op_type)


def op_function(op_type: str, opset: int, domain: str = "") -> OpFunction | None:
    """The forward function implementing ``op_type`` at ``opset``, or ``None``."""
    spec = op_spec(op_type, domain)
    return None if spec is None else spec.function(opset)
