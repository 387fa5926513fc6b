"""What the engine needs to know about one training method.

Each method is one module in this package, registered by name in `methods/__init__.py`. The model
builder, the optimizer builder and the trainer call these hooks; none of them branches on a method
name. Adding a method: one module here, its name in the registry, the planner's module of the same
name (src/core/planner/methods), and their tests.
"""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..config import linear_shapes
from ..errors import ConfigError
from ..limits import RUN as RUN_LIMITS
from ..schedule import lr_at


class TrainingMethod:
    name: str = ""
    #: The method has factors of rank r (every method but full; GaLore's rank is its projection's).
    uses_rank: bool = True
    #: The method scales a low-rank product by alpha / r.
    uses_alpha: bool = False

    def validate(self, mcfg, model_cfg) -> None:
        """Refuses settings this method cannot train, naming the option (ConfigError)."""
        if self.uses_rank:
            max_rank = min(min(o, i) for _, o, i in linear_shapes(model_cfg))
            if isinstance(mcfg.rank, bool) or not isinstance(mcfg.rank, int) or not 1 <= mcfg.rank <= max_rank:
                raise ConfigError(
                    f"rank must be an integer in [1, {max_rank}] (the smallest dimension of the model's "
                    f"linear layers), got {mcfg.rank!r}")
        if self.uses_alpha and not 0 < mcfg.alpha <= RUN_LIMITS["alpha"]:
            raise ConfigError(f"alpha must be positive and at most {RUN_LIMITS['alpha']:g} (scale = alpha / rank), "
                              f"got {mcfg.alpha}")

    def linear_elements(self, out_f: int, in_f: int, mcfg) -> int:
        """Parameter elements one block linear becomes (counted from the config, nothing built)."""
        return out_f * in_f

    def preset_defaults(self, preset_name: str, preset: dict, defaults: dict) -> dict:
        """The method's own defaults for a preset, over the SLTrain scripts' rank/delta/alpha."""
        return defaults

    def default_lr(self, preset_lr: float) -> float:
        """The peak learning rate when --lr is not given."""
        return preset_lr

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

    #: The method's layers have a sparse support that --support-update-every can move (SLTrain).
    dynamic_support: bool = False

    def validate_run(self, cfg) -> None:
        """Refuses run settings (optimizer, sharding, ...) this method cannot train with, naming them."""
        if cfg.support_update_every and not self.dynamic_support:
            raise ConfigError(f"--support-update-every moves SLTrain's sparse support; --method {self.name} has "
                              "none: use --method sltrain or drop --support-update-every")

    def before_update(self, model: nn.Module, optimizer, step: int, cfg, mcfg) -> None:
        """Called before every optimizer update with `step` = updates done so far."""

    def after_update(self, model: nn.Module, optimizer, step: int, cfg, mcfg) -> None:
        """Called after every optimizer update with `step` = updates done so far (ReLoRA merges here)."""
