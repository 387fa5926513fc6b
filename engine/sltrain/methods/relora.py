"""ReLoRA: frozen dense weights plus LoRA adaptors, merged and re-initialised every
`relora_reset_every` updates with a partial optimizer reset and a jagged cosine schedule."""
from __future__ import annotations

from ..errors import ConfigError
from ..layers import ReLoRALinear
from ..relora import relora_lr_multiplier, relora_reset
from .base import TrainingMethod


class ReLoRA(TrainingMethod):
    name = "relora"
    uses_alpha = True

    def validate(self, mcfg, model_cfg):
        super().validate(mcfg, model_cfg)
        if mcfg.relora_reset_every < 1:
            raise ConfigError(f"relora_reset_every must be >= 1, got {mcfg.relora_reset_every}")
        if not 0.0 <= mcfg.relora_reset_ratio <= 1.0:
            raise ConfigError(f"relora_reset_ratio must be in [0, 1], got {mcfg.relora_reset_ratio}")

    def validate_run(self, cfg):
        super().validate_run(cfg)
        if cfg.sharding != "ddp":
            raise ConfigError(f"--sharding {cfg.sharding} with --method relora: the merge adds B·A into each whole "
                              "frozen weight and prunes the adaptors' Adam moments, which ZeRO and FSDP keep only "
                              "on the rank that owns them; use --sharding ddp")

    def linear_elements(self, out_f, in_f, mcfg):
        return out_f * in_f + mcfg.rank * (out_f + in_f)  # the frozen weight and the adaptor

    def linear(self, name, lin, mcfg, seed, device, dtype):
        return ReLoRALinear(lin.in_features, lin.out_features, mcfg.rank, mcfg.alpha, device=device, dtype=dtype)

    def lr(self, step, cfg):
        # A short re-warmup after every merge, so fresh adaptors do not take full steps from empty moments.
        return cfg.lr * relora_lr_multiplier(step, total_steps=cfg.steps, warmup=cfg.warmup,
                                             reset_every=cfg.relora_reset_every,
                                             restart_warmup=min(50, max(1, cfg.relora_reset_every // 4)),
                                             min_ratio=cfg.min_lr_ratio)

    def after_update(self, model, optimizer, step, cfg, mcfg):
        if step < cfg.steps:  # no merge after the last update: the saved model keeps its adaptors
            relora_reset(model, optimizer, step, reset_every=mcfg.relora_reset_every,
                         prune_ratio=mcfg.relora_reset_ratio)


METHOD = ReLoRA()
