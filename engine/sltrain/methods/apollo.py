"""APOLLO: the plain model; the seven block linears' weights get APOLLO's channel-wise scaled
gradient (Adam moments in a random rank-r projection), the rest plain Adam, in one optimizer."""
from __future__ import annotations

from ..errors import ConfigError
from ..limits import RUN as RUN_LIMITS
from .base import TrainingMethod
from .galore import TARGET


class Apollo(TrainingMethod):
    name = "apollo"
    scale_type = "channel"
    #: The update scale when --apollo-scale is not given (APOLLO's scripts: 1; APOLLO-Mini: 128).
    default_scale = 1.0

    def validate(self, mcfg, model_cfg):
        super().validate(mcfg, model_cfg)
        if isinstance(mcfg.apollo_update_gap, bool) or not isinstance(mcfg.apollo_update_gap, int) \
                or not 1 <= mcfg.apollo_update_gap <= RUN_LIMITS["steps"]:
            raise ConfigError(f"apollo_update_gap must be an integer in [1, {RUN_LIMITS['steps']}] (steps between "
                              f"projection refreshes), got {mcfg.apollo_update_gap!r}")
        if mcfg.apollo_scale is not None and not 0 < mcfg.apollo_scale <= RUN_LIMITS["apollo_scale"]:
            raise ConfigError(f"apollo_scale must be positive and at most {RUN_LIMITS['apollo_scale']:g}, "
                              f"got {mcfg.apollo_scale}")

    def validate_run(self, cfg):
        super().validate_run(cfg)
        self._check_optimizer(cfg.optimizer)  # before the run starts, not when the optimizer is built

    def _check_optimizer(self, optimizer: str) -> None:
        if optimizer != "adamw":
            raise ConfigError(f"--optimizer {optimizer} is not offered for --method {self.name}: its Adam moments "
                              "already live in a low-rank projection; use --optimizer adamw")

    def scale(self, mcfg) -> float:
        return self.default_scale if mcfg.apollo_scale is None else float(mcfg.apollo_scale)

    def preset_defaults(self, preset_name, preset, defaults):
        # APOLLO's scripts use GaLore's ranks (a quarter of the hidden size at 60M-1B).
        return {**defaults, "rank": preset.get("galore_rank", defaults["rank"])}

    def default_lr(self, preset_lr):
        return 0.01  # APOLLO's scripts, as GaLore's

    def param_groups(self, named, mcfg):
        rest = [p for n, p in named if not TARGET.search(n)]
        extras = dict(rank=mcfg.rank, update_proj_gap=mcfg.apollo_update_gap, scale=self.scale(mcfg),
                      scale_type=self.scale_type)
        # One group per projected weight, carrying the number a whole-model optimizer gives it (from 1,
        # in group order), so per-layer optimizers draw the same random projections.
        projected = [{"params": [p], "seed": len(rest) + j + 1, **extras}
                     for j, p in enumerate(p for n, p in named if TARGET.search(n))]
        return ([{"params": rest}] if rest else []) + projected

    def adam_eps(self, optimizer):
        from ..apollo import DEFAULT_EPS

        return DEFAULT_EPS

    def optimizer_class(self, optimizer):
        self._check_optimizer(optimizer)
        from ..apollo import APOLLOAdamW  # imported on use: only APOLLO runs need it

        return APOLLOAdamW


METHOD = Apollo()
