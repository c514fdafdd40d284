"""Gemm and MatMul: the fully-connected layers of a CNN head."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, optional, required
from cnnlens.ops.spec import Grads, OpSpec, Shape, Wanted, floating, unbroadcast


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


def gemm_vjp(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray | None,
    g: np.ndarray,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    trans_a: bool = False,
    trans_b: bool = False,
    wanted: Wanted = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients of :func:`gemm` for the output gradient ``g (M, N)``: shaped like A, B, C;
    ``None`` for those not ``wanted`` (not computed) and for C when there is none.

    With ``A' (M, K)`` and ``B' (K, N)`` the transposed-as-asked inputs,
    ``dA' = alpha g B'ᵀ`` and ``dB' = alpha A'ᵀ g``; C gets ``beta g`` summed over the axes
    it was broadcast along (zeros when ``beta = 0``: the forward ignored it).
    """
    a_used = a.T if trans_a else a
    b_used = b.T if trans_b else b
    scale = g.dtype.type(alpha)
    ga = gb = gc = None
    if wanted[0]:
        ga = (b_used @ g.T if trans_a else g @ b_used.T) * scale  # (A')ᵀ = (g B'ᵀ)ᵀ = B' gᵀ
    if wanted[1]:
        gb = (g.T @ a_used if trans_b else a_used.T @ g) * scale
    if c is not None and wanted[2]:
        # beta = 0: the forward ignored C, whatever its shape
        gc = (np.zeros(c.shape, dtype=g.dtype) if beta == 0.0
              else unbroadcast(g * g.dtype.type(beta), c.shape))
    return ga, gb, gc


def vjp_gemm(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
             rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """Gradients of ONNX Gemm with respect to A, B and C (when given)."""
    a, b, c = required(inputs, 0, "Gemm"), required(inputs, 1, "Gemm"), optional(inputs, 2)
    g = grads[0]
    if g is None or not (floating(a) and floating(b)):
        return [None] * len(inputs)
    ga, gb, gc = gemm_vjp(
        a, b, c, g,
        alpha=float(attrs.get("alpha", 1.0)),
        beta=float(attrs.get("beta", 1.0)),
        trans_a=bool(attrs.get("transA", 0)),
        trans_b=bool(attrs.get("transB", 0)),
        wanted=(wanted[0], wanted[1], c is not None and wanted[2]),
    )
    return [ga, gb, gc][:len(inputs)]


def matmul_vjp(a: np.ndarray, b: np.ndarray, g: np.ndarray, wanted: Wanted = (True, True)
               ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Gradients of ``np.matmul(a, b)`` for the output gradient ``g``: shaped like a, b;
    ``None`` for one not ``wanted`` (not computed).

    As in ``matmul``, a 1-D ``a (K,)`` acts as ``(1, K)`` and a 1-D ``b (K,)`` as
    ``(K, 1)``, the added axis then dropped from the product; batch axes broadcast, so each
    gradient is summed back over the ones its input was stretched along.
    """
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    product = (*np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]), a2.shape[-2], b2.shape[-1])
    g2 = g.reshape(product)
    ga = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if wanted[0] else None
    gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape) if wanted[1] else None
    return ga, gb


def vjp_matmul(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
               rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """Gradients of ONNX MatMul with respect to A and B."""
    a, b = required(inputs, 0, "MatMul"), required(inputs, 1, "MatMul")
    g = grads[0]
    if g is None or not (floating(a) and floating(b)):
        return [None, None]
    return list(matmul_vjp(a, b, g, wanted))


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
    OpSpec("Gemm", op_gemm, gemm_shape, vjp=vjp_gemm),
    OpSpec("MatMul", op_matmul, matmul_shape, vjp=vjp_matmul),
)
