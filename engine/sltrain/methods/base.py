"""What the engine needs to know about one training method.

Each method is one module in this package, registered by name in `methods/__init__.py`. The model
builder, the optimizer builder and the trainer call these hooks; none of them branches on a method
name. Adding a method: one module here, its name in the registry, the planner's module of the same
name (src/core/planner/methods), and their tests.
"""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..schedule import lr_at


class TrainingMethod:
    name: str = ""

    def linear(self, name: str, lin: nn.Linear, mcfg, seed: int, device, dtype) -> nn.Module | None:
        """The layer replacing block linear `name`, or None to keep the dense nn.Linear."""
        return None

    def param_groups(self, named: list[tuple[str, nn.Parameter]], mcfg) -> list[dict[str, Any]]:
        """Optimizer parameter groups over the trainable (name, parameter) pairs."""
        return [{"params": [p for _, p in named]}]

    def optimizer_class(self, optimizer: str) -> Callable[..., Any] | None:
        """An optimizer class of the method's own (GaLore), or None for the plain AdamW / 8-bit Adam."""
        return None

    def adam_eps(self, optimizer: str) -> float:
        """Adam's epsilon when the caller names none: torch's default."""
        return 1e-8

    def lr(self, step: int, cfg) -> float:
        """Learning rate of update `step` (0-based) for run config `cfg`: warmup, then cosine."""
        return lr_at(step, peak=cfg.lr, warmup=cfg.warmup, total=cfg.steps, min_ratio=cfg.min_lr_ratio)

    def after_update(self, model: nn.Module, optimizer, step: int, cfg, mcfg) -> None:
        """Called after every optimizer update with `step` = updates done so far (ReLoRA merges here)."""
