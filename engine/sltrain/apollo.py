"""APOLLO and APOLLO-Mini (Zhu et al. 2024): SGD-like memory, AdamW-level updates.

For a block weight's gradient G (m, n), Adam's moments live in a *random* rank-r projection of G
(m >= n: G·Pᵀ with P (r, n); otherwise Pᵀ·G with P (m, r)); P ~ N(0, 1/r) is drawn from a seed that
advances at every refresh (steps 0, gap, 2·gap, ...), so no SVD is ever run. The ratio of the
normalised low-rank update to the low-rank gradient gives a scaling factor (per channel for APOLLO,
one per tensor for APOLLO-Mini at rank 1) that multiplies the raw gradient G; a norm-growth limiter
caps the scaled gradient's norm at 1.01x the previous step's; the result times sqrt(scale) is the
update. Parameter groups without a `rank` (None) get plain Adam.

The arithmetic, the seed sequence and the parameter numbering that seeds each projection are
apollo-torch's (`APOLLOAdamW`, proj "random"), so a run here follows its trajectory; unlike it, every
piece of state (projector, seed, limiter norm) is a tensor or an int in `state_dict()`, so a resume is
exact. Each projected parameter's group may carry "seed", the number apollo-torch would give it in a
whole-model optimizer, so per-layer optimizers (one parameter each) draw the same projections.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

SCALE_TYPES = ("channel", "tensor")
# apollo-torch's defaults: Adam's eps, the limiter's growth bound and the division guard.
DEFAULT_EPS = 1e-6
NORM_GROWTH = 1.01
GUARD = 1e-8
_DEFAULTS = dict(rank=None, update_proj_gap=200, scale=1.0, scale_type="channel")
# next_seed draws this many int64s and keeps the last (apollo-torch's ADV_DEFAULT).
_SEED_ADVANCE = 0xF


def next_seed(seed: int) -> int:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, torch.iinfo(torch.int64).max, (_SEED_ADVANCE,), generator=g).tolist()[-1]


def random_projector(grad: Tensor, rank: int, seed: int) -> Tensor:
    """P ~ N(0, 1/r): (r, n) when m >= n (right), else (m, r), in the gradient's dtype and device."""
    m, n = grad.shape
    shape = (rank, n) if m >= n else (m, rank)
    work = grad.dtype if grad.dtype == torch.float32 else torch.float32
    g = torch.Generator(device=grad.device).manual_seed(seed)
    return (torch.randn(shape, generator=g, device=grad.device, dtype=work) / math.sqrt(rank)).to(grad.dtype)


class APOLLOAdamW(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = DEFAULT_EPS,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, **_DEFAULTS))
        number = 0  # apollo-torch numbers every parameter from 1 in group order
        for group in self.param_groups:
            for j, p in enumerate(group["params"]):
                number += 1
                if p.requires_grad and group["rank"] is not None:
                    self.state[p]["seed"] = group["seed"] + j if "seed" in group else number

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _low_rank(self, state: dict, grad: Tensor, group: dict) -> Tensor:
        if int(state["step"]) % group["update_proj_gap"] == 0:  # steps 0, gap, 2·gap, ...
            state["projector"] = random_projector(grad, group["rank"], state["seed"])
            state["seed"] = next_seed(state["seed"])
        P = state["projector"]
        return grad @ P.T if grad.shape[0] >= grad.shape[1] else P.T @ grad

    def _update(self, p: Tensor, group: dict) -> None:
        state = self.state[p]
        if "step" not in state:
            state["step"] = torch.tensor(0.0)
        projected = group["rank"] is not None and p.dim() == 2
        grad = self._low_rank(state, p.grad, group) if projected else p.grad
        if "exp_avg" not in state:
            state["exp_avg"] = torch.zeros_like(grad)
            state["exp_avg_sq"] = torch.zeros_like(grad)
        state["step"] += 1
        step = state["step"].item()
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        denom = exp_avg_sq.sqrt().add_(eps)
        step_size = lr * math.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)
        update = exp_avg / denom
        if projected:
            update = self._scaled_gradient(state, p.grad, grad, update, group)
        p.add_(update, alpha=-step_size)
        if wd > 0.0:
            p.add_(p, alpha=-lr * wd)

    @staticmethod
    def _scaled_gradient(state: dict, raw: Tensor, low: Tensor, low_update: Tensor, group: dict) -> Tensor:
        """The raw gradient times the low-rank update/gradient norm ratio, norm-limited, times sqrt(scale)."""
        if group["scale_type"] == "channel":
            dim = 0 if raw.shape[0] < raw.shape[1] else 1  # the low-rank dimension
            factor = torch.norm(low_update, dim=dim) / (torch.norm(low, dim=dim) + GUARD)
            if dim == 1:
                factor = factor.unsqueeze(1)
        else:
            factor = torch.norm(low_update) / (torch.norm(low) + GUARD)
        scaled = raw * factor  # the step's one full-size temporary; the rest is in place on it
        norm = torch.norm(scaled)
        if "scaled_grad_norm" in state:
            limiter = max(norm / (state["scaled_grad_norm"] + GUARD), NORM_GROWTH) / NORM_GROWTH
            scaled.div_(limiter)
            state["scaled_grad_norm"] = norm / limiter
        else:
            state["scaled_grad_norm"] = norm
        return scaled.mul_(math.sqrt(group["scale"]))
