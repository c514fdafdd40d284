"""Gemm and MatMul: the fully-connected layers of a CNN head."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, optional, required
from cnnlens.ops.spec import OpSpec, Shape


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> np.ndarray:
    """``alpha * A' @ B' + beta * C``: ``A' (M, K)``, ``B' (K, N)``, ``C`` broadcast to ``(M, N)``.

    A PyTorch ``Linear`` exports as ``trans_b=True`` with ``B`` stored as ``(N, K)``.
    """
    if a.ndim != 2 or b.ndim != 2:
        raise ModelError(f"Gemm: inputs must be matrices, got {a.shape} and {b.shape}")
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    if a.shape[1] != b.shape[0]:
        raise ModelError(f"Gemm: cannot multiply {a.shape} by {b.shape}")
    y = a @ b
    if alpha != 1.0:
        y = y * y.dtype.type(alpha)
    if c is not None and beta != 0.0:
        if np.broadcast_shapes(c.shape, y.shape) != y.shape:
            raise ModelError(f"Gemm: C {c.shape} does not broadcast to the product {y.shape}")
        y = y + (c if beta == 1.0 else c * c.dtype.type(beta))
    return y


def op_gemm(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Gemm: A, B, optional C; alpha, beta, transA, transB."""
    y = gemm(
        required(inputs, 0, "Gemm"),
        required(inputs, 1, "Gemm"),
        optional(inputs, 2),
        alpha=float(attrs.get("alpha", 1.0)),
        beta=float(attrs.get("beta", 1.0)),
        trans_a=bool(attrs.get("transA", 0)),
        trans_b=bool(attrs.get("transB", 0)),
    )
    return [y]


def op_matmul(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX MatMul: NumPy ``matmul`` semantics (batched, 1-D promotion)."""
    return [np.matmul(required(inputs, 0, "MatMul"), required(inputs, 1, "MatMul"))]


def gemm_shape(shapes: list[Shape | None], attrs: dict[str, Any],
               constants: list[np.ndarray | None]) -> Shape | None:
    a, b = shapes[0], shapes[1] if len(shapes) > 1 else None
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return None
    rows = a[1] if attrs.get("transA", 0) else a[0]
    cols = b[0] if attrs.get("transB", 0) else b[1]
    return (rows, cols)


def matmul_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                 constants: list[np.ndarray | None]) -> Shape | None:
    a, b = shapes[0], shapes[1] if len(shapes) > 1 else None
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    return (*np.broadcast_shapes(a[:-2], b[:-2]), a[-2], b[-1])


SPECS = (
    OpSpec("Gemm", op_gemm, gemm_shape),
    OpSpec("MatMul", op_matmul, matmul_shape),
)
