"""Factored linear layers: SLTrain (W = s·B·A + S), low-rank (delta = 0) and ReLoRA adaptors.

The SLTrain weight is never stored dense and no dense (out × in) tensor is saved for backward:
autograd keeps only x and the factors (A, B, values, indices). Two numerically equivalent paths:

- "dense": the reference algorithm. Forward and backward rebuild W transiently and use dense
  matmuls; G_values is the dense G_W gathered at the support.
- "factored": x·(sA)ᵀ·Bᵀ plus a CSR sparse product for S, and G_values as a sampled dense-dense
  product on the support only. About 7× fewer FLOPs at 2048², r 128, delta 0.03; measured
  1.4-2.7× faster fwd+bwd on a 2-core CPU (bench/results/layer_bench_cpu.json), and still
  faster than the dense path at delta 0.1 (1 thread, 1024 tokens: 553 vs 797 ms).

"auto" takes the path measured faster on this machine (pathchoice.py: both timed fwd+bwd once per
distinct problem, cached per machine) when the run measures, else the lower estimated cost
(`path_costs`, also the planner's): a first guess from constants fitted on one CPU. Sparse kernels
lack bf16/fp16 on the CPU (and not all exist on CUDA), so for half types the sparse products run in
fp32 and are cast back.
"""

from __future__ import annotations

import hashlib
import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import kernels, pathchoice
from .config import INDEX_DTYPES
from .errors import ConfigError

PATHS = ("auto", "dense", "factored")

# The CSR kernels we use are stable; the beta notice would otherwise print once per process.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def support_seed_for(run_seed: int, module_name: str) -> int:
    """Seed of one layer's support: independent of construction order, equal on every DDP rank."""
    digest = hashlib.sha256(f"{run_seed}:{module_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


INT16_MAX_COLUMNS = 2**15  # column indices 0 .. 32767


def support_size(out_features: int, in_features: int, delta: float) -> int:
    """Nonzeros of a fixed support: int(delta * (out * in)), the integer product first, as the
    reference code computes it. (delta * in * out evaluated left to right rounds differently for
    some shapes: 29 x 100 at delta 0.01 gives 28 that way and 29 this way.) The planner's
    sparseNonzeros uses the same order."""
    return int(delta * (out_features * in_features))


def resolve_index_dtype(index_dtype: str, out_features: int, in_features: int) -> tuple[str, torch.dtype]:
    """How one layer stores its support: ("csr", column dtype) or ("flat", index dtype).

    int16 is CSR: an int16 column per nonzero plus one row offset per output row, 2 B per nonzero
    instead of the flat layout's 4 (int32) or the reference's 8 (int64). auto takes it whenever
    the input width fits int16 (every LLaMA preset, 13B's 13824 included), else the narrowest flat
    dtype that addresses out·in positions.
    """
    numel = out_features * in_features
    if index_dtype == "auto":
        if in_features <= INT16_MAX_COLUMNS:
            return "csr", torch.int16
        return "flat", torch.int32 if numel < 2**31 else torch.int64
    if index_dtype == "int16":
        if in_features > INT16_MAX_COLUMNS:
            raise ConfigError(f"index_dtype int16 cannot address {in_features} input columns (at most "
                              f"{INT16_MAX_COLUMNS}); use int32, int64 or auto")
        return "csr", torch.int16
    if index_dtype == "int32":
        if numel >= 2**31:
            raise ConfigError(f"index_dtype int32 cannot address {numel} positions; use int64 or auto")
        return "flat", torch.int32
    if index_dtype == "int64":
        return "flat", torch.int64
    raise ConfigError(f"index_dtype must be one of {', '.join(INDEX_DTYPES)}, got {index_dtype!r}")


def row_offset_dtype(nnz: int) -> torch.dtype:
    return torch.int32 if nnz < 2**31 else torch.int64


def flat_to_csr(flat: Tensor, out_features: int, in_features: int, col_dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Sorted flat row-major positions -> (row offsets (out+1,), column indices (nnz,))."""
    flat = flat.long()
    bounds = torch.arange(out_features + 1, device=flat.device, dtype=torch.int64) * in_features
    crow = torch.searchsorted(flat, bounds).to(row_offset_dtype(flat.numel()))
    return crow, (flat % in_features).to(col_dtype)


def csr_to_flat(crow: Tensor, cols: Tensor, in_features: int) -> Tensor:
    """Row offsets and column indices -> flat row-major positions, int32 while they fit, else int64."""
    out_features = crow.numel() - 1
    dt = torch.int32 if out_features * in_features < 2**31 else torch.int64
    rows = torch.repeat_interleave(torch.arange(out_features, device=crow.device, dtype=dt), crow.diff(),
                                   output_size=cols.numel())
    # One pass (cols promote to rows' dtype) instead of a cast, a multiply and an add: on a CPU shared
    # with other jobs each parallel elementwise pass waits for its threads to be scheduled.
    return torch.add(cols, rows, alpha=in_features)


def sample_support(out_features: int, in_features: int, nnz: int, seed: int, dtype: torch.dtype) -> Tensor:
    """nnz sorted flat row-major positions drawn uniformly without replacement (CPU tensor).

    Draws with replacement until enough distinct positions exist, then keeps a uniform subset of
    them: the distinct set of i.i.d. uniform draws is a uniform random set of its size, so the
    result is uniform, at O(nnz log nnz) cost instead of a randperm over all out·in positions.
    """
    g = torch.Generator().manual_seed(seed)
    n = out_features * in_features
    picked = torch.empty(0, dtype=torch.int64)
    while picked.numel() < nnz:
        need = nnz - picked.numel()
        draw = torch.randint(n, (need + need // 8 + 16,), generator=g)
        picked = torch.unique(torch.cat([picked, draw]))
    if picked.numel() > nnz:
        picked = picked[torch.randperm(picked.numel(), generator=g)[:nnz]].sort().values
    return picked.to(dtype)


def _flat(crow: Tensor | None, idx: Tensor | None, in_f: int) -> Tensor | None:
    """The support as flat positions: the stored tensor itself, or expanded from CSR (transient)."""
    return idx if crow is None or idx is None else csr_to_flat(crow, idx, in_f)


def _dense_weight(A: Tensor, B: Tensor, values: Tensor | None, flat: Tensor | None, s: float) -> Tensor:
    W = B @ (A * s)  # (out, in), transient
    if values is not None:
        W.view(-1).index_add_(0, flat, values.to(W.dtype))
    return W


def _sparse_dtype(t: Tensor) -> torch.dtype:
    # CSR matmul and SDDMM kernels are not available for half types on every backend (none on CPU).
    return t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float32


def _csr(values: Tensor, crow: Tensor | None, idx: Tensor, shape: tuple[int, int], dtype: torch.dtype) -> Tensor:
    out_f, in_f = shape
    if crow is None:
        crow, cols = flat_to_csr(idx, out_f, in_f, row_offset_dtype(idx.numel()))
    else:
        cols = idx.to(crow.dtype)  # sparse kernels take int32/int64 columns of the offsets' dtype
    return torch.sparse_csr_tensor(crow, cols, values.to(dtype), shape, check_invariants=False)


def _csr_parts(crow: Tensor | None, idx: Tensor, out_f: int, in_f: int) -> tuple[Tensor, Tensor]:
    """(row offsets, column indices) of the support, converted from flat positions when stored so."""
    return (crow, idx) if crow is not None else flat_to_csr(idx, out_f, in_f, row_offset_dtype(idx.numel()))


def _feature_major(t2: Tensor, dtype: torch.dtype) -> Tensor:
    """(T, f) -> contiguous (f, T) in `dtype`: the layout in which CSR products and SDDMM read each
    feature's T values contiguously (on the CPU 2-4x faster than passing the transposed view)."""
    return t2.T.to(dtype).contiguous()


def _autocast_dtype(x: Tensor) -> torch.dtype | None:
    dev = x.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else None


def _cast(t: Tensor | None, dtype: torch.dtype | None) -> Tensor | None:
    return t if t is None or dtype is None else t.to(dtype)


# The first guess only (and the planner's): a run measures both paths (pathchoice.py), because these
# constants hold on the machine and load they were fitted on and not elsewhere (on another 2-core CPU
# under load a stored nonzero cost about 45 multiply-adds, not 18).
# Cost of one sparse CSR product relative to a dense multiply-add, per device: CSR_MAC per stored
# value per token, CSR_ROW per output row per token (row setup and output write). CPU: fitted to
# `bench/layer_bench.py --cases 60m --threads 2` (fp32, 1024 tokens, r 128, delta 0.03; two runs):
# SLTrain factored minus low-rank factored, i.e. the three sparse products, took 6-8 ms at 512->512
# and 11-12 ms at 512->1376 and 1376->512, where a full-rank layer's fwd+bwd takes 7.7 and 19.5 ms.
# The CUDA constants are conservative (cuSPARSE runs far below cuBLAS peak; they keep the paper's
# dense path at the 1B shapes) until bench/gpu_perf.py has timed both paths on a GPU.
CSR_MAC = {"cpu": 18.0, "cuda": 40.0}
CSR_ROW = {"cpu": 60.0, "cuda": 60.0}
# Half-precision dense matmuls run ~4x faster than fp32 where the hardware has them (2048² at 2048
# tokens, 1 thread: 116 ms bf16 vs 470 ms fp32 on an AVX512-BF16 CPU) while the sparse products
# stay in fp32 (_sparse_dtype), so relative to dense work they cost this much more.
HALF_SPARSE_PENALTY = 4.0


def _fast_half(device_type: str) -> bool:
    if device_type != "cpu":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def path_costs(in_f: int, out_f: int, rank: int, nnz: int, tokens: int, device_type: str,
               dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Estimated forward+backward cost of each path, in dense multiply-adds of `dtype`.

    dense: x·Wᵀ, G_x, G_W (3·N·in·out) plus W rebuilt twice and G_B, G_A from G_W (4·out·r·in).
    factored: the low-rank chain (fwd N·r·(in+out); bwd G_y·B, G_x, x·(sA)ᵀ again, G_B, G_A:
    N·r·(3·in+2·out)) plus three sparse products (forward, G_x, sampled G_values).
    """
    N = tokens
    dense = 3.0 * N * in_f * out_f + 4.0 * out_f * rank * in_f
    factored = N * rank * (4.0 * in_f + 3.0 * out_f)
    if nnz:
        dev = device_type if device_type in CSR_MAC else "cuda"
        sparse = 3.0 * N * (CSR_MAC[dev] * nnz + CSR_ROW[dev] * out_f)
        if dtype not in (torch.float32, torch.float64) and _fast_half(dev):
            sparse *= HALF_SPARSE_PENALTY
        factored += sparse
    return {"dense": dense, "factored": factored}


def choose_path(in_f: int, out_f: int, rank: int, nnz: int, tokens: int, device_type: str,
                dtype: torch.dtype = torch.float32) -> str:
    costs = path_costs(in_f, out_f, rank, nnz, tokens, device_type, dtype)
    return "factored" if costs["factored"] < costs["dense"] else "dense"


class SLTrainMatmul(torch.autograd.Function):
    """y = x·Wᵀ with W = s·B·A + S; saves x, A, B, values and the support only.

    The support is (crow, idx): CSR row offsets and column indices, or crow None and idx the flat
    row-major positions. `scorer`, when given, is called in backward with (G_y, x) as (T, out) and
    (T, in): the dynamic support's regrow scores (support_update.SupportScorer).
    """

    @staticmethod
    def forward(ctx, x, A, B, values, crow, idx, s: float, factored: bool, scorer=None):
        # Under autocast the matmuls run in the autocast dtype, as nn.Linear's would: x is saved
        # as its cast (like nn.Linear); the fp32 parameters are saved as they are and cast again in
        # backward, so no extra copies outlive the forward.
        ctx.cast = _autocast_dtype(x)
        if ctx.cast is not None:
            x = x.to(ctx.cast)
        ctx.save_for_backward(x, A, B, values, crow, idx)
        ctx.s, ctx.factored, ctx.scorer = s, factored, scorer
        with torch.autocast(x.device.type, enabled=False):
            A, B, values = _cast(A, ctx.cast), _cast(B, ctx.cast), _cast(values, ctx.cast)
            return SLTrainMatmul._forward(x, A, B, values, crow, idx, s, factored)

    @staticmethod
    def _forward(x, A, B, values, crow, idx, s: float, factored: bool):
        out_f, in_f = B.shape[0], A.shape[1]
        x2 = x.reshape(-1, in_f)  # (T, in)
        if not factored:
            y2 = x2 @ _dense_weight(A, B, values, _flat(crow, idx, in_f), s).T  # (T, out)
        else:
            dt = _sparse_dtype(x2)
            if values is None:
                y2 = (x2 @ (A * s).T) @ B.T  # (T, r) -> (T, out)
            elif kernels.usable(x2):  # CUDA with Triton: one fused kernel, fp32 accumulation, one rounding
                y2 = kernels.forward(x2, A, B, values, *_csr_parts(crow, idx, out_f, in_f), s)
            elif dt == x2.dtype:
                # All in the feature-major layout the CSR product needs: one transpose in, the sparse
                # product accumulated into the low-rank one, one transpose out.
                xT = _feature_major(x2, dt)  # (in, T)
                yT = torch.addmm(B @ ((A * s) @ xT), _csr(values, crow, idx, (out_f, in_f), dt), xT)  # (out, T)
                y2 = yT.T.contiguous()
            else:
                # Half precision: x·(sA)ᵀ in it (a rank-r intermediate); B·h and the sparse product
                # accumulated in fp32 and rounded once, as one fp32 weight would be.
                h = x2 @ (A * s).T  # (T, r)
                xT = _feature_major(x2, dt)  # (in, T)
                yT = torch.addmm(_csr(values, crow, idx, (out_f, in_f), dt) @ xT, B.to(dt), h.T.to(dt))  # (out, T)
                y2 = yT.T.contiguous().to(x2.dtype)
        return y2.reshape(*x.shape[:-1], out_f)

    @staticmethod
    def backward(ctx, gy):
        x, A, B, values, crow, idx = ctx.saved_tensors
        with torch.autocast(x.device.type, enabled=False):
            # Gradients come back in the compute dtype; autograd casts them to each input's dtype.
            return SLTrainMatmul._backward(ctx, _cast(gy, ctx.cast), x, _cast(A, ctx.cast), _cast(B, ctx.cast),
                                           _cast(values, ctx.cast), crow, idx)

    @staticmethod
    def _backward(ctx, gy, x, A, B, values, crow, idx):
        s = ctx.s
        out_f, in_f = B.shape[0], A.shape[1]
        x2, gy2 = x.reshape(-1, in_f), gy.reshape(-1, out_f)  # (T, in), (T, out)
        if ctx.scorer is not None:
            ctx.scorer(gy2, x2)
        if ctx.factored and values is not None and kernels.usable(x2):
            gx, gA, gB, gv = kernels.backward(gy2, x2, A, B, values, *_csr_parts(crow, idx, out_f, in_f), s,
                                              ctx.needs_input_grad)
            return (None if gx is None else gx.reshape(x.shape), gA, gB, gv,
                    *[None] * (len(ctx.needs_input_grad) - 4))
        sA = A * s  # (r, in)
        need_x, need_A, need_B, need_v = ctx.needs_input_grad[:4]
        gx = gA = gB = gv = None
        if not ctx.factored:
            flat = _flat(crow, idx, in_f)  # expanded once for the rebuild and the gather
            W = _dense_weight(A, B, values, flat, s)  # (out, in), transient
            if need_x:
                gx = (gy2 @ W).reshape(x.shape)
            del W
            if need_A or need_B or need_v:
                gW = gy2.T @ x2  # (out, in), transient
                gB = gW @ sA.T if need_B else None  # (out, r)
                gA = (B.T @ gW) * s if need_A else None  # (r, in): A's gradient carries s
                gv = gW.reshape(-1)[flat].to(values.dtype) if need_v else None
            return gx, gA, gB, gv, None, None, None, None, None
        gyB = gy2 @ B  # (T, r)
        S = gyT = None
        if values is not None and (need_x or need_v):
            dt = _sparse_dtype(x2)
            S = _csr(values, crow, idx, (out_f, in_f), dt)
            gyT = _feature_major(gy2, dt)  # (out, T)
        if need_x:
            # Sᵀ as CSR (a sort of the nnz entries) runs ~3x faster than the CSC view S.t().
            St = S.t().to_sparse_csr() if S is not None else None
            if St is not None and St.dtype == gyB.dtype:
                gx = torch.addmm(sA.T @ gyB.T, St, gyT).T.contiguous()  # (in, T)ᵀ
            else:
                gx = gyB @ sA  # (T, in)
                if St is not None:
                    gx.add_((St @ gyT).T)
            gx = gx.reshape(x.shape)
        if need_B:
            gB = gy2.T @ (x2 @ sA.T)  # (out, T)·(T, r)
        if need_A:
            gA = (gyB.T @ x2) * s  # (r, in)
        if need_v:
            # Sampled dense-dense product: (gyᵀ·x) evaluated only at the nnz support positions.
            pattern = torch.sparse_csr_tensor(
                S.crow_indices(), S.col_indices(), torch.zeros_like(S.values()), S.shape, check_invariants=False
            )
            # Row-contiguous G_yᵀ and column-contiguous x: each sampled entry is one contiguous dot product.
            gv = torch.sparse.sampled_addmm(pattern, gyT, _feature_major(x2, S.dtype).T).values()
            gv = gv.to(values.dtype)
        return gx, gA, gB, gv, None, None, None, None, None


class SLTrainLinear(nn.Module):
    """Linear layer with weight s·B·A + S, s = alpha/r, with a fixed random support for S; delta = 0 gives the low-rank baseline.

    With delta = 0 there is no `values` parameter and no `indices` buffer (both are None).
    On the meta device nothing is sampled or initialised (used for instant parameter counting).
    regrow > 0 (a dynamic support, support_update.py) adds the `regrown_indices` buffer: where in
    `values` the entries regrown at the last support update sit.
    """

    def __init__(
        self, in_features: int, out_features: int, rank: int, delta: float, alpha: float, *,
        support_seed: int, index_dtype: str = "auto", path: str = "auto", regrow: int = 0, device=None, dtype=None,
    ):
        super().__init__()
        if path not in PATHS:
            raise ConfigError(f"SLTrain path must be one of {', '.join(PATHS)}, got {path!r}")
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.delta, self.alpha, self.scale = delta, alpha, alpha / rank
        self.support_seed, self.path = support_seed, path
        self._auto: dict[tuple, str] = {}  # (tokens, device, dtype, autocast dtype) -> path
        self.nnz = support_size(out_features, in_features, delta)
        kw = dict(device=device, dtype=dtype)
        self.A = nn.Parameter(torch.empty(rank, in_features, **kw))  # (r, in)
        self.B = nn.Parameter(torch.empty(out_features, rank, **kw))  # (out, r)
        self.index_layout: str | None = None
        for name in ("crow_indices", "col_indices", "indices", "regrown_indices"):  # set below when used
            self.register_buffer(name, None)
        self.support_scorer = None  # armed by the support updater for one update step
        if self.nnz > 0:
            self.index_layout, idx_dtype = resolve_index_dtype(index_dtype, out_features, in_features)
            self.values = nn.Parameter(torch.empty(self.nnz, **kw))  # (nnz,)
            if self.index_layout == "csr":
                crow = torch.empty(out_features + 1, dtype=row_offset_dtype(self.nnz), device=device)
                self.register_buffer("crow_indices", crow)  # (out+1,)
                self.register_buffer("col_indices", torch.empty(self.nnz, dtype=idx_dtype, device=device))  # (nnz,)
            else:
                self.register_buffer("indices", torch.empty(self.nnz, dtype=idx_dtype, device=device))  # (nnz,)
            if regrow > 0:
                self.register_buffer("regrown_indices",
                                     torch.zeros(regrow, dtype=row_offset_dtype(self.nnz), device=device))  # (k,)
        else:
            self.values = None
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        if self.A.device.type == "meta":
            return
        bound = 1.0 / math.sqrt(self.in_features)
        self.A.uniform_(-bound, bound)
        self.B.zero_()
        if self.values is not None:
            self.values.uniform_(-bound, bound)
            self.set_support(sample_support(self.out_features, self.in_features, self.nnz, self.support_seed,
                                            torch.int64))
            if self.regrown_indices is not None:
                self.regrown_indices.zero_()

    def _support(self) -> tuple[Tensor | None, Tensor | None]:
        """(crow, idx) as SLTrainMatmul takes them."""
        if self.index_layout == "csr":
            return self.crow_indices, self.col_indices
        return None, self.indices

    @torch.no_grad()
    def set_support(self, flat: Tensor) -> None:
        """Stores sorted flat row-major positions in this layer's index layout."""
        if self.index_layout == "csr":
            crow, cols = flat_to_csr(flat.to(self.col_indices.device), self.out_features, self.in_features,
                                     self.col_indices.dtype)
            self.crow_indices.copy_(crow)
            self.col_indices.copy_(cols)
        else:
            self.indices.copy_(flat)

    @torch.no_grad()
    def flat_indices(self) -> Tensor | None:
        """The support as sorted flat row-major positions (int64), whatever the layout."""
        if self.index_layout is None:
            return None
        crow, idx = self._support()
        return _flat(crow, idx, self.in_features).long()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written with the other index layout (flat int32/int64 vs CSR int16) load too:
        # the support is converted, never re-drawn.
        if self.index_layout == "csr" and prefix + "indices" in state_dict:
            crow, cols = flat_to_csr(state_dict.pop(prefix + "indices"), self.out_features, self.in_features,
                                     self.col_indices.dtype)
            state_dict[prefix + "crow_indices"], state_dict[prefix + "col_indices"] = crow, cols
        elif self.index_layout == "flat" and prefix + "col_indices" in state_dict and prefix + "crow_indices" in state_dict:
            crow, cols = state_dict.pop(prefix + "crow_indices"), state_dict.pop(prefix + "col_indices")
            state_dict[prefix + "indices"] = csr_to_flat(crow, cols, self.in_features).to(self.indices.dtype)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _factored(self, x: Tensor) -> bool:
        if self.path != "auto":
            return self.path == "factored"
        cast = _autocast_dtype(x)
        key = (x.numel() // self.in_features, x.device.type, x.dtype, cast)
        if key not in self._auto:  # one decision per token count, device, dtype and autocast dtype
            guess = choose_path(self.in_features, self.out_features, self.rank, self.nnz, *key[:2], cast or x.dtype)
            self._auto[key] = pathchoice.choose(self, x, cast, guess)
        return self._auto[key] == "factored"

    def forward(self, x: Tensor) -> Tensor:
        return SLTrainMatmul.apply(x, self.A, self.B, self.values, *self._support(), self.scale, self._factored(x),
                                   self.support_scorer)

    @torch.no_grad()
    def weight_dense(self) -> Tensor:
        """s·B·A + S as a dense (out, in) tensor in the parameters' dtype (for merge and export)."""
        return _dense_weight(self.A, self.B, self.values, _flat(*self._support(), self.in_features), self.scale)

    def extra_repr(self) -> str:
        return (
            f"in={self.in_features}, out={self.out_features}, rank={self.rank}, alpha={self.alpha}, "
            f"delta={self.delta}, nnz={self.nnz}, index={self.index_layout}, path={self.path}, "
            f"A={tuple(self.A.shape)}, B={tuple(self.B.shape)}"
        )


class ReLoRALinear(nn.Module):
    """Frozen full weight plus a trainable LoRA adaptor that is merged and re-initialised periodically."""

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: float, *,
                 init_std: float = 0.02, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.alpha, self.scale, self.init_std = alpha, alpha / rank, init_std
        kw = dict(device=device, dtype=dtype)
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **kw), requires_grad=False)  # (out, in)
        self.A = nn.Parameter(torch.empty(rank, in_features, **kw))  # (r, in)
        self.B = nn.Parameter(torch.empty(out_features, rank, **kw))  # (out, r)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        if self.weight.device.type == "meta":
            return
        self.weight.normal_(0.0, self.init_std)
        self.reset_adaptor()

    @torch.no_grad()
    def reset_adaptor(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        self.A.uniform_(-bound, bound)
        self.B.zero_()

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight) + F.linear(F.linear(x, self.A), self.B) * self.scale

    @torch.no_grad()
    def merge_and_reinit(self) -> None:
        """weight += s·B·A, then A ~ Kaiming-uniform and B = 0, so the function is unchanged."""
        self.weight.add_((self.B @ self.A).to(self.weight.dtype), alpha=self.scale)
        self.reset_adaptor()

    @torch.no_grad()
    def weight_dense(self) -> Tensor:
        return self.weight + (self.B @ self.A) * self.scale

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, rank={self.rank}, alpha={self.alpha}"
