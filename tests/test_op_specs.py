"""The op registry is the one place per op: every other table reads it, so check it is whole.

Each supported op needs a forward function, a shape rule and a vector-Jacobian product; a
detail view it names must exist on both sides of the page (Python builds the view, the JS
module draws it), and the overview kinds must be ones the page styles.
"""

from __future__ import annotations

import re
import typing

import pytest

from cnnlens.ops import SPECS, op_function, op_spec
from cnnlens.ops.spec import Kind
from cnnlens.views.detail import DETAIL_VIEWS
from tests.paths import ROOT

DETAIL_JS = ROOT / "assets" / "js" / "detail.js"


def js_views() -> set[str]:
    """The keys of the `VIEWS` table in assets/js/detail.js."""
    source = DETAIL_JS.read_text()
    table = re.search(r"const VIEWS = \{(.*?)\n\};", source, re.S)
    assert table, "assets/js/detail.js no longer has a `const VIEWS = {...};` table"
    return set(re.findall(r"^\s+(\w+):", table.group(1), re.M))


@pytest.mark.parametrize("op_type", sorted(SPECS))
def test_every_op_has_forward_shape_and_gradient(op_type: str) -> None:
    spec = SPECS[op_type]
    assert spec.op_type == op_type
    assert callable(spec.forward) and callable(spec.shape)
    assert spec.vjp is not None, f"{op_type} has no vector-Jacobian product"
    assert spec.kind in typing.get_args(Kind)


def test_detail_views_named_by_ops_exist_in_python_and_javascript() -> None:
    named = {spec.detail for spec in SPECS.values() if spec.detail is not None}
    assert named == {"conv", "relu", "pool"}
    assert named <= set(DETAIL_VIEWS)
    assert named | {"flatten"} <= js_views()


def test_only_the_default_domain_is_supported() -> None:
    assert op_spec("Relu") is SPECS["Relu"]
    assert op_spec("Relu", "com.microsoft") is None
    assert op_function("Relu", 13, "com.microsoft") is None
    assert op_function("NoSuchOp", 13) is None


def test_channelwise_ops_keep_their_channel_count() -> None:
    # An op marked channel-wise draws one edge per channel: it must not change channel counts.
    channelwise = {name for name, spec in SPECS.items() if spec.channelwise}
    assert {"Relu", "MaxPool", "BatchNormalization"} <= channelwise
    assert not channelwise & {"Conv", "Gemm", "MatMul", "Flatten", "Reshape", "Concat"}
