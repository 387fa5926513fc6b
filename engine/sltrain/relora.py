"""ReLoRA (Lialin et al. 2023) schedule: periodic merges, partial optimizer reset, jagged cosine LR.

Every `reset_every` updates the adaptors are folded into the frozen weights and re-initialised,
and the adaptors' Adam moments are magnitude-pruned (by default 99.9 % of entries set to zero, the
largest 0.1 % kept). The LR follows one cosine decay with a short linear re-warmup after every
merge, so the fresh adaptors do not take full-size steps from near-empty moments.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .layers import ReLoRALinear

_MOMENT_KEYS = ("exp_avg", "exp_avg_sq")


def relora_lr_multiplier(
    step: int, *, total_steps: int, warmup: int, reset_every: int, restart_warmup: int = 50,
    min_ratio: float = 0.1,
) -> float:
    """Multiplier of the peak LR at `step` (0-based update index).

    Linear warmup over `warmup` steps, cosine decay to `min_ratio` at `total_steps`; in the first
    `restart_warmup` steps after each merge (step = k·reset_every, k >= 1) the LR ramps linearly
    from 0 to the cosine value at the end of that re-warmup.
    """
    if step < warmup:
        return step / max(1, warmup)

    def cosine(s: int) -> float:
        progress = min(1.0, (s - warmup) / max(1, total_steps - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    since_merge = step % reset_every
    if step >= reset_every and since_merge < restart_warmup:
        return since_merge / max(1, restart_warmup) * cosine(step - since_merge + restart_warmup)
    return cosine(step)


@torch.no_grad()
def magnitude_prune_(t: Tensor, ratio: float) -> None:
    """Zero the `ratio` fraction of entries of smallest magnitude, in place."""
    k = int(ratio * t.numel())
    if k <= 0:
        return
    if k >= t.numel():
        t.zero_()
        return
    mag = t.abs() if t.dtype in (torch.float32, torch.float64) else t.abs().float()  # kthvalue lacks bf16
    t.masked_fill_(mag <= mag.flatten().kthvalue(k).values, 0)


def _optimizers(optimizer) -> list[torch.optim.Optimizer]:
    return list(getattr(optimizer, "optimizers", [optimizer]))  # an OptimizerBundle or one optimizer


@torch.no_grad()
def relora_reset(
    model: nn.Module, optimizer, step: int, *, reset_every: int = 1000, prune_ratio: float = 0.999
) -> bool:
    """Call after every optimizer update with `step` = updates done so far (1-based).

    On multiples of `reset_every`: merge and re-initialise every adaptor, prune its Adam moments
    (torch AdamW / GaLore states; other optimizers, e.g. 8-bit, get the adaptor state dropped, a
    full reset). Returns True when a merge happened.
    """
    if step <= 0 or step % reset_every:
        return False
    adaptors = [m for m in model.modules() if isinstance(m, ReLoRALinear)]
    for m in adaptors:
        m.merge_and_reinit()
    params = [p for m in adaptors for p in (m.A, m.B)]
    for opt in _optimizers(optimizer):
        for p in params:
            state = opt.state.get(p)
            if not state:
                continue
            if all(k in state for k in _MOMENT_KEYS):
                for k in _MOMENT_KEYS:
                    magnitude_prune_(state[k], prune_ratio)
            else:
                del opt.state[p]
    return bool(adaptors)
