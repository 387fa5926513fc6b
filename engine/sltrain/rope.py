"""Rotary position embeddings (Su et al. 2021) and the scalings Llama 3.x and long-context configs use:
linear (position interpolation), dynamic (NTK-aware base growth past max_position_embeddings), llama3
(per-frequency interpolation) and yarn (Peng et al. 2023). Each is written from its paper's formula and
checked against transformers' logits in the tests; D = head dim, T = sequence length."""
from __future__ import annotations

import math

import torch
from torch import Tensor


def _plain(theta: float, D: int, device) -> Tensor:
    return 1.0 / (theta ** (torch.arange(0, D, 2, device=device, dtype=torch.int64).float() / D))  # (D/2,)


def _llama3(inv: Tensor, rs: dict) -> Tensor:
    """Wavelengths longer than original/low_freq_factor are slowed by factor, shorter than
    original/high_freq_factor kept, those between blended linearly in original/wavelength."""
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    ctx = rs["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    smooth = (ctx / wavelen - lo) / (hi - lo)
    blended = (1 - smooth) * inv / factor + smooth * inv
    out = torch.where(wavelen > ctx / lo, inv / factor, inv)
    between = (wavelen <= ctx / lo) & (wavelen >= ctx / hi)
    return torch.where(between, blended, out)


def _yarn(theta: float, D: int, rs: dict, device) -> tuple[Tensor, float]:
    """Frequencies that turn fewer than beta_slow times over the original context are interpolated,
    those turning more than beta_fast times kept, a linear ramp between; cos/sin scaled by mscale."""
    factor, ctx = rs["factor"], rs["original_max_position_embeddings"]

    def mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attn = rs.get("attention_factor")
    if attn is None:
        m, m_all = rs.get("mscale"), rs.get("mscale_all_dim")
        attn = mscale(factor, m) / mscale(factor, m_all) if m and m_all else mscale(factor)

    def dim_of(rotations: float) -> float:  # the dimension whose frequency turns `rotations` times in ctx
        return D * math.log(ctx / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low, high = dim_of(rs.get("beta_fast") or 32.0), dim_of(rs.get("beta_slow") or 1.0)
    if rs.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, D - 1)
    if low == high:
        high += 0.001  # a ramp of zero width would divide by zero
    ramp = ((torch.arange(D // 2, dtype=torch.float32, device=device) - low) / (high - low)).clamp(0, 1)
    pos = theta ** (torch.arange(0, D, 2, device=device).float() / D)
    keep = 1 - ramp  # 1: extrapolate (keep the frequency), 0: interpolate (divide by factor)
    return (1.0 / (factor * pos)) * (1 - keep) + (1.0 / pos) * keep, float(attn)


def inv_freq_and_scale(cfg, T: int, device) -> tuple[Tensor, float]:
    """(D/2,) inverse frequencies for a sequence of T tokens and the factor cos/sin are scaled by."""
    D, theta, rs = cfg.head_dim, cfg.rope_theta, cfg.rope_scaling
    kind = rs["rope_type"] if rs else "default"
    if kind == "linear":
        return _plain(theta, D, device) / rs["factor"], 1.0
    if kind == "dynamic":  # the base grows only once the sequence outgrows the trained context
        n, f = max(T, cfg.max_position_embeddings), rs["factor"]
        theta = theta * ((f * n / cfg.max_position_embeddings) - (f - 1)) ** (D / (D - 2))
        return _plain(theta, D, device), 1.0
    if kind == "llama3":
        return _llama3(_plain(theta, D, device), rs), 1.0
    if kind == "yarn":
        return _yarn(theta, D, rs, device)
    return _plain(theta, D, device), 1.0


def rotary_cos_sin(cfg, T: int, device, dtype) -> tuple[Tensor, Tensor]:
    """cos, sin of shape (T, D) for positions 0..T-1, computed in fp32 (no cached buffers)."""
    inv_freq, scale = inv_freq_and_scale(cfg, T, device)
    freqs = torch.outer(torch.arange(T, device=device, dtype=torch.int64).float(), inv_freq)  # (T, D/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (T, D): HF's rotate_half layout, not interleaved
    return (emb.cos() * scale).to(dtype), (emb.sin() * scale).to(dtype)


def rotate_half(x: Tensor) -> Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    return x * cos + rotate_half(x) * sin  # (B, H, T, D) with (T, D) broadcast
