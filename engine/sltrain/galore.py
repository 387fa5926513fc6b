"""GaLore (Zhao et al. 2024): Adam with moments in a low-rank projection of each weight's gradient.

For a gradient G (m, n): with m >= n the projector P is the top-r right singular vectors (r, n)
and the Adam step runs on G·Pᵀ (m, r); otherwise P is the top-r left singular vectors (m, r) and it
runs on Pᵀ·G (r, n). P is refreshed from an fp32 SVD of the current gradient on steps 0, gap,
2·gap, ...; the moments are never reset. The normalised update is projected back, times `scale`.

Unlike the reference implementation, the projector and step live in the optimizer state, so
`state_dict()` resumes exactly. Parameter groups without a `rank` (None) get plain Adam. The Adam
arithmetic is galore-torch's (eps inside the bias-corrected step, default 1e-6, weight decay after the
update), so a GaLore run here follows the same trajectory as one with galore-torch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .optim import import_bitsandbytes

_DEFAULTS = dict(rank=None, update_proj_gap=200, scale=0.25, proj_type="std")


def projects_right(shape: torch.Size, proj_type: str) -> bool:
    """True when P multiplies from the right (G·Pᵀ), i.e. P spans the row space."""
    m, n = shape
    return {"std": m >= n, "reverse_std": m < n, "right": True, "left": False}[proj_type]


def make_projector(grad: Tensor, rank: int, proj_type: str) -> Tensor:
    U, _, Vh = torch.linalg.svd(grad.float(), full_matrices=False)
    P = Vh[:rank] if projects_right(grad.shape, proj_type) else U[:, :rank]  # (r, n) or (m, r)
    return P.to(grad.dtype)


def project(grad: Tensor, P: Tensor, right: bool) -> Tensor:
    return grad @ P.T if right else P.T @ grad  # (m, r) or (r, n)


def project_back(low: Tensor, P: Tensor, right: bool) -> Tensor:
    return low @ P if right else P @ low  # (m, n)


def _galore_grad(state: dict, p: Tensor, group: dict) -> Tensor:
    """The (projected) gradient Adam sees; refreshes the projector on steps 0, gap, 2·gap, ..."""
    grad = p.grad
    if group["rank"] is None or p.dim() != 2:
        return grad
    right = projects_right(grad.shape, group["proj_type"])
    if int(state["step"]) % group["update_proj_gap"] == 0:
        state["projector"] = make_projector(grad, group["rank"], group["proj_type"])
    return project(grad, state["projector"], right)


# galore-torch's default; its AdamW also steps the parameters that are not projected.
DEFAULT_EPS = 1e-6


class GaLoreAdamW(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = DEFAULT_EPS,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, **_DEFAULTS))

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

    def _update(self, p: Tensor, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
        grad = _galore_grad(state, p, group)
        if "exp_avg" not in state:
            state["exp_avg"] = torch.zeros_like(grad)
            state["exp_avg_sq"] = torch.zeros_like(grad)
        state["step"] += 1
        step = state["step"].item()
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        # galore-torch's arithmetic, operation for operation: eps added to sqrt(v) before the bias
        # correction, which goes into the step size; decoupled weight decay after the update.
        exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        denom = exp_avg_sq.sqrt().add_(eps)
        step_size = lr * math.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)
        update = exp_avg / denom
        if "projector" in state:
            right = projects_right(p.shape, group["proj_type"])
            # In place on the fresh full-size update: one m x n temporary, as the planner counts.
            update = project_back(update, state["projector"], right).mul_(group["scale"])
        p.add_(update, alpha=-step_size)
        if wd > 0.0:
            p.add_(p, alpha=-lr * wd)


class GaLoreAdamW8bit(torch.optim.Optimizer):
    """GaLore with bitsandbytes 8-bit blockwise Adam moments.

    Each projected matrix owns a low-rank buffer that the inner 8-bit AdamW updates with lr 1 and
    no weight decay from a zero start; the buffer then holds minus the normalised low-rank update,
    which is projected back, scaled and applied here with the group's lr and decoupled decay.
    Non-projected parameters are stepped by the inner optimizer directly (lr and decay copied from
    their group each step). The buffer costs one low-rank tensor per matrix, counted as state.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        self._bnb = import_bitsandbytes("GaLore with --optimizer adam8bit")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, **_DEFAULTS))
        self.inner = None  # created at the first step, when the low-rank shapes are known
        self.inner_optimizers = []

    def _build_inner(self) -> None:
        # GaLore groups hold only the 2-D block weights (optim.GALORE_TARGET), all with gradients
        # at the first step, so every one has its buffer by now.
        groups = []
        for group in self.param_groups:
            common = dict(betas=group["betas"], eps=group["eps"])
            if group["rank"] is None:
                groups.append(dict(params=list(group["params"]), lr=group["lr"],
                                   weight_decay=group["weight_decay"], **common))
                continue
            lows = [self.state[p]["lowrank_buffer"] for p in group["params"]]
            groups.append(dict(params=lows, lr=1.0, weight_decay=0.0, **common))
        self.inner = self._bnb.optim.AdamW8bit(groups)
        self.inner_optimizers = [self.inner]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None or group["rank"] is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                low_grad = _galore_grad(state, p, group)
                buf = state.setdefault("lowrank_buffer", torch.zeros_like(low_grad))
                buf.zero_()
                buf.grad = low_grad
        if self.inner is None:
            self._build_inner()
        for group, inner_group in zip(self.param_groups, self.inner.param_groups, strict=True):
            if group["rank"] is None:
                inner_group["lr"], inner_group["weight_decay"] = group["lr"], group["weight_decay"]
        self.inner.step()
        for group in self.param_groups:
            if group["rank"] is None:
                continue
            for p in group["params"]:
                state = self.state.get(p)
                if not state or p.grad is None:
                    continue
                state["step"] += 1
                buf = state["lowrank_buffer"]
                update = project_back(buf, state["projector"], projects_right(p.shape, group["proj_type"]))
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(update, alpha=group["lr"] * group["scale"])  # buf = -normalised update
                buf.grad = None
        return loss

    def state_dict(self):
        sd = super().state_dict()
        sd["inner"] = self.inner.state_dict() if self.inner is not None else None
        return sd

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        inner = state_dict.pop("inner", None)
        super().load_state_dict(state_dict)
        if inner is not None:
            self._build_inner()
            self.inner.load_state_dict(inner)
