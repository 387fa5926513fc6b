"""Cheap activations that are not kept between forward and backward.

The inputs of the block linears are a norm's output (q/k/v, gate/up, the head) or silu(gate)·up
(down). Each linear saves its input for its weight gradient, yet both are a few elementwise ops
away from tensors autograd keeps anyway (the norm saves its input and rstd; the SwiGLU function
saves gate and up). `release` frees such a tensor's storage once its consumers have run in forward
and recomputes it, in place and bitwise equal, when the first consumer's gradient arrives in
backward, the moment before the consumers' own backward reads it. That is 2·h + F elements per
token per layer, about a third of what a decoder layer keeps (7B, one 256-token sequence: 0.31 GB).

Storage is freed and restored the way FSDP frees parameters (resize of the untyped storage), and
the refill writes through `.data`, so autograd's version check on the saved tensor still holds.
Not used under gradient checkpointing (the recompute of a checkpointed layer would release tensors
that no hook refills) nor while torch.compile traces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def applicable(t: Tensor) -> bool:
    return torch.is_grad_enabled() and t.requires_grad and not torch.compiler.is_compiling()


class _Released:
    """One freed activation: the first consumer hook to fire restores it, then drops every reference."""

    def __init__(self, t: Tensor, recompute: Callable[[], Tensor]):
        self.t: Tensor | None = t
        self.recompute: Callable[[], Tensor] | None = recompute
        self.nbytes = t.untyped_storage().nbytes()

    def hook(self, grad: Tensor) -> None:
        if self.t is not None:
            t, recompute = self.t, self.recompute
            self.t = self.recompute = None
            with torch.no_grad():
                value = recompute()
                t.untyped_storage().resize_(self.nbytes)
                t.data.copy_(value)  # .data: a new version counter, so the saved tensor's check passes
        return None


def release(t: Tensor, recompute: Callable[[], Tensor], consumers: Sequence[Tensor]) -> None:
    """Frees t's storage now; restores it from `recompute()` when any of `consumers` gets its gradient.

    `consumers` must be every tensor computed from t in forward whose backward reads t, and t must
    not be read again in forward. `recompute` must give t's values from tensors autograd keeps.
    """
    if not applicable(t) or not all(c.requires_grad for c in consumers):
        return
    if t.storage_offset() != 0 or t.untyped_storage().nbytes() != t.numel() * t.element_size():
        return  # a view into a larger storage: freeing it would free more than t
    box = _Released(t, recompute)
    for c in consumers:
        c.register_hook(box.hook)
    t.untyped_storage().resize_(0)
