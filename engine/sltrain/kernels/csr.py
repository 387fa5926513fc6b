"""Triton kernels for SLTrain's fixed-support products (imported only where Triton is).

`lowrank_plus_csr`: Y[t, o] = Σ_k H[t, k]·M[o, k] + Σ_{j in row o of C} v_j·X[t, c_j], accumulated in
fp32 and rounded once to Y's dtype. One kernel serves the forward (H = x·(sA)ᵀ, M = B, C = S, X = x)
and G_x (H = G_y·B, M = (sA)ᵀ, C = Sᵀ as CSR, X = G_y). Each program owns a (BLOCK_T, BLOCK_O) tile:
the low-rank part is a tl.dot over r, then each of the tile's rows adds its nonzeros' columns.

`sampled_dot`: g_j = Σ_t G[t, r_j]·X[t, c_j] for each nonzero j (the sampled dense-dense product
G_values), fp32 accumulation over token blocks; nothing of size out × in exists.
"""

import triton
import triton.language as tl


@triton.jit
def lowrank_plus_csr(H, M, Y, crow, cols, vals, X, T, O, R,
                     s_ht, s_hk, s_mo, s_mk, s_yt, s_yo, s_xt, s_xc,
                     BLOCK_T: tl.constexpr, BLOCK_O: tl.constexpr, BLOCK_R: tl.constexpr, FP32_DOT: tl.constexpr):
    pid_t, pid_o = tl.program_id(0), tl.program_id(1)
    offs_t = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    offs_o = pid_o * BLOCK_O + tl.arange(0, BLOCK_O)
    mask_t, mask_o = offs_t < T, offs_o < O
    acc = tl.zeros((BLOCK_T, BLOCK_O), dtype=tl.float32)
    for k0 in range(0, R, BLOCK_R):
        offs_k = k0 + tl.arange(0, BLOCK_R)
        mask_k = offs_k < R
        h = tl.load(H + offs_t[:, None] * s_ht + offs_k[None, :] * s_hk, mask=mask_t[:, None] & mask_k[None, :],
                    other=0.0)
        m = tl.load(M + offs_o[None, :] * s_mo + offs_k[:, None] * s_mk, mask=mask_o[None, :] & mask_k[:, None],
                    other=0.0)
        if FP32_DOT:  # fp32 operands without TF32 rounding (bf16 products are exact in fp32 either way)
            acc += tl.dot(h.to(tl.float32), m.to(tl.float32), input_precision="ieee")
        else:  # half operands on the tensor cores, fp32 accumulation
            acc += tl.dot(h, m)
    for i in range(0, BLOCK_O):
        o = pid_o * BLOCK_O + i
        if o < O:
            start = tl.load(crow + o).to(tl.int64)
            end = tl.load(crow + o + 1).to(tl.int64)
            col_acc = tl.zeros((BLOCK_T,), dtype=tl.float32)
            for j in range(start, end):
                c = tl.load(cols + j).to(tl.int64)
                v = tl.load(vals + j).to(tl.float32)
                xv = tl.load(X + offs_t * s_xt + c * s_xc, mask=mask_t, other=0.0).to(tl.float32)
                col_acc += v * xv
            acc += tl.where(offs_o[None, :] == o, col_acc[:, None], 0.0)
    tl.store(Y + offs_t[:, None] * s_yt + offs_o[None, :] * s_yo, acc.to(Y.dtype.element_ty),
             mask=mask_t[:, None] & mask_o[None, :])


@triton.jit
def sampled_dot(G, X, rows, cols, out, N, T, s_gt, s_go, s_xt, s_xc,
                BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr):
    pid = tl.program_id(0)
    offs_n = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    r = tl.load(rows + offs_n, mask=mask_n, other=0).to(tl.int64)
    c = tl.load(cols + offs_n, mask=mask_n, other=0).to(tl.int64)
    acc = tl.zeros((BLOCK_N,), dtype=tl.float32)
    for t0 in range(0, T, BLOCK_T):
        offs_t = t0 + tl.arange(0, BLOCK_T)
        mask = (offs_t[:, None] < T) & mask_n[None, :]
        g = tl.load(G + offs_t[:, None] * s_gt + r[None, :] * s_go, mask=mask, other=0.0).to(tl.float32)
        x = tl.load(X + offs_t[:, None] * s_xt + c[None, :] * s_xc, mask=mask, other=0.0).to(tl.float32)
        acc += tl.sum(g * x, axis=0)
    tl.store(out + offs_n, acc.to(out.dtype.element_ty), mask=mask_n)
