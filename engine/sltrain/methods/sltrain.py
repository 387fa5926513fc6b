"""SLTrain: every block linear becomes (alpha/r)·B·A + S with a random support for S, fixed, or
moved every --support-update-every updates (support_update.py)."""
from __future__ import annotations

from ..config import linear_shapes
from ..errors import ConfigError
from ..layers import SLTrainLinear, support_seed_for, support_size
from ..limits import RUN as RUN_LIMITS
from ..support_update import SupportUpdater, check_counts, regrow_count
from .base import TrainingMethod


class SLTrain(TrainingMethod):
    name = "sltrain"
    uses_alpha = True
    dynamic_support = True

    def sparsity(self, mcfg) -> float:
        return mcfg.delta

    def validate(self, mcfg, model_cfg) -> None:
        if not 0.0 < self.sparsity(mcfg) < 1.0:
            raise ConfigError(f"delta must be in (0, 1) for sltrain, got {mcfg.delta}")
        super().validate(mcfg, model_cfg)
        every, fraction = mcfg.support_update_every, mcfg.support_update_fraction
        if isinstance(every, bool) or not isinstance(every, int) or not 0 <= every <= RUN_LIMITS["steps"]:
            raise ConfigError(f"support_update_every must be an integer in [0, {RUN_LIMITS['steps']}] (updates "
                              f"between support updates; 0 keeps the support fixed), got {every!r}")
        if every and not 0.0 < fraction < 1.0:
            raise ConfigError(f"support_update_fraction must be in (0, 1) (the share of each layer's support "
                              f"replaced), got {fraction}")
        if every:
            check_counts(linear_shapes(model_cfg), self.sparsity(mcfg), fraction)

    def validate_run(self, cfg):
        super().validate_run(cfg)
        if not cfg.support_update_every:
            return
        if cfg.optimizer != "adamw":
            raise ConfigError(f"--support-update-every resets the moments of regrown entries, which --optimizer "
                              f"{cfg.optimizer} keeps quantised in blocks; use --optimizer adamw")
        if getattr(cfg, "sharding", "ddp") != "ddp":
            raise ConfigError(f"--support-update-every needs every rank to hold whole layers; --sharding "
                              f"{cfg.sharding} splits them: use --sharding ddp")

    def _regrow(self, mcfg, out_f, in_f) -> int:
        if not mcfg.support_update_every:
            return 0
        return regrow_count(support_size(out_f, in_f, self.sparsity(mcfg)), mcfg.support_update_fraction)

    def _updater(self, model, mcfg) -> SupportUpdater | None:
        if not mcfg.support_update_every:
            return None
        if getattr(model, "support_updater", None) is None:
            model.support_updater = SupportUpdater(mcfg.support_update_every)
        return model.support_updater

    def before_update(self, model, optimizer, step, cfg, mcfg):
        if (u := self._updater(model, mcfg)) is not None:
            u.before(model, step)

    def after_update(self, model, optimizer, step, cfg, mcfg):
        if (u := self._updater(model, mcfg)) is not None:
            u.after(model, optimizer, step)

    def linear_elements(self, out_f, in_f, mcfg):
        return mcfg.rank * (out_f + in_f) + support_size(out_f, in_f, self.sparsity(mcfg))

    def linear(self, name, lin, mcfg, seed, device, dtype):
        # The support seed derives from (seed, module name), never from construction order.
        return SLTrainLinear(lin.in_features, lin.out_features, mcfg.rank, self.sparsity(mcfg), mcfg.alpha,
                             support_seed=support_seed_for(seed, name), index_dtype=mcfg.index_dtype,
                             regrow=self._regrow(mcfg, lin.out_features, lin.in_features), device=device, dtype=dtype)


METHOD = SLTrain()
