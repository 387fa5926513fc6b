"""Fused Triton kernels for SLTrain's fixed-support products (kernels/csr.py), used by the factored
path on CUDA when Triton imports (layers.SLTrainMatmul). Everything accumulates in fp32; bf16/fp16
inputs are read as they are and each output is rounded once.

forward: y = s·(x·Aᵀ)·Bᵀ + x·Sᵀ in one kernel (the rank-r product h = x·(sA)ᵀ by cuBLAS first).
backward: G_x = (G_y·B)·(sA) + G_y·S through the CSR transpose of S (a sort of the nnz entries, no
dense tensor), G_values as a sampled dense-dense product on the support, G_A and G_B as rank-r
matmuls; no out × in tensor anywhere. The CPU tests run them under Triton's interpreter
(TRITON_INTERPRET=1 set before Triton is imported).
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

_csr = None  # kernels/csr.py once imported; False when Triton is missing
# Tests set this to run the kernels on CPU tensors under TRITON_INTERPRET=1; a training run on the
# CPU keeps the torch kernels (the interpreter is orders of magnitude slower).
INTERPRET_ON_CPU = False
ENABLED = True  # bench/gpu_kernels.py turns them off to time the torch (cuSPARSE) kernels instead

BLOCK_T, BLOCK_O, BLOCK_R = 32, 32, 32  # tl.dot needs every block dimension >= 16
BLOCK_N = 128  # nonzeros per sampled-product program
DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def _loaded() -> bool:
    """Imports Triton on first use only (a CPU run never pays for it)."""
    global _csr
    if _csr is None:
        try:
            from . import csr
            _csr = csr
        except ImportError:  # no Triton (or no working one): the layer keeps its torch kernels
            _csr = False
    return _csr is not False


def usable(t: Tensor) -> bool:
    """Whether the layer uses these kernels for t: a CUDA tensor (a CPU one under the interpreter when
    INTERPRET_ON_CPU) of a dtype they take, with Triton importable."""
    if not ENABLED or t.dtype not in DTYPES:
        return False
    if t.device.type == "cuda" or (t.device.type == "cpu" and INTERPRET_ON_CPU and interpreted()):
        return _loaded()
    return False


def _rows(crow: Tensor, nnz: int) -> Tensor:
    """Row of each nonzero (nnz,), transient."""
    out_f = crow.numel() - 1
    return torch.repeat_interleave(torch.arange(out_f, device=crow.device, dtype=torch.int32), crow.diff(),
                                   output_size=nnz)


def csr_transpose(crow: Tensor, cols: Tensor, values: Tensor, in_f: int) -> tuple[Tensor, Tensor, Tensor]:
    """Sᵀ as CSR (in rows): (row offsets, column = S's row, values); a stable sort of the nnz entries."""
    rows = _rows(crow, cols.numel())
    perm = torch.argsort(cols.to(torch.int32), stable=True)  # by column; rows stay ascending within one
    counts = torch.bincount(cols.long(), minlength=in_f)
    crow_t = torch.zeros(in_f + 1, dtype=torch.int64, device=crow.device)
    torch.cumsum(counts, 0, out=crow_t[1:])
    return crow_t, rows[perm], values[perm]


def lowrank_plus_csr(H: Tensor, M: Tensor, crow: Tensor, cols: Tensor, values: Tensor, X: Tensor,
                     out_dtype: torch.dtype) -> Tensor:
    """Y (T, O) = H·Mᵀ + X·Cᵀ with C the CSR (O × X's width) matrix, fp32 accumulation, one rounding."""
    T, R = H.shape
    O = M.shape[0]
    Y = torch.empty(T, O, device=H.device, dtype=out_dtype)
    grid = (triton_cdiv(T, BLOCK_T), triton_cdiv(O, BLOCK_O))
    _csr.lowrank_plus_csr[grid](H, M, Y, crow, cols, values, X, T, O, R, H.stride(0), H.stride(1), M.stride(0),
                                M.stride(1), Y.stride(0), Y.stride(1), X.stride(0), X.stride(1),
                                BLOCK_T=BLOCK_T, BLOCK_O=BLOCK_O, BLOCK_R=BLOCK_R,
                                # the interpreter's tl.dot misreads half types: it gets fp32 operands
                                FP32_DOT=H.dtype == torch.float32 or interpreted())
    return Y


def sampled_dot(G: Tensor, X: Tensor, rows: Tensor, cols: Tensor, out_dtype: torch.dtype) -> Tensor:
    """g_j = Σ_t G[t, rows_j]·X[t, cols_j] (nnz,), fp32 accumulation."""
    n, T = rows.numel(), G.shape[0]
    out = torch.empty(n, device=G.device, dtype=out_dtype)
    _csr.sampled_dot[(triton_cdiv(n, BLOCK_N),)](G, X, rows, cols, out, n, T, G.stride(0), G.stride(1),
                                                 X.stride(0), X.stride(1), BLOCK_N=BLOCK_N, BLOCK_T=BLOCK_T)
    return out


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def forward(x2: Tensor, A: Tensor, B: Tensor, values: Tensor, crow: Tensor, cols: Tensor, s: float) -> Tensor:
    """y (T, out) = s·(x·Aᵀ)·Bᵀ + x·Sᵀ in x's dtype."""
    h = x2 @ (A * s).T  # (T, r)
    return lowrank_plus_csr(h, B, crow, cols, values, x2, x2.dtype)


def backward(gy2: Tensor, x2: Tensor, A: Tensor, B: Tensor, values: Tensor, crow: Tensor, cols: Tensor,
             s: float, needs: tuple[bool, ...]) -> tuple[Tensor | None, ...]:
    """(G_x, G_A, G_B, G_values) of y = x·(sBA + S)ᵀ, each only where `needs` says."""
    need_x, need_A, need_B, need_v = needs[:4]
    sA = A * s  # (r, in)
    gyB = gy2 @ B  # (T, r)
    gx = gA = gB = gv = None
    if need_x:
        crow_t, cols_t, vals_t = csr_transpose(crow, cols, values, A.shape[1])
        gx = lowrank_plus_csr(gyB, sA.T, crow_t, cols_t, vals_t, gy2, gy2.dtype)  # (T, in)
    if need_B:
        gB = gy2.T @ (x2 @ sA.T)  # (out, r)
    if need_A:
        gA = (gyB.T @ x2) * s  # (r, in)
    if need_v:
        gv = sampled_dot(gy2, x2, _rows(crow, cols.numel()), cols, values.dtype)
    return gx, gA, gB, gv
