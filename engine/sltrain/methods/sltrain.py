"""SLTrain: every block linear becomes (alpha/r)·B·A + S with a fixed random support for S."""
from __future__ import annotations

from ..errors import ConfigError
from ..layers import SLTrainLinear, support_seed_for, support_size
from .base import TrainingMethod


class SLTrain(TrainingMethod):
    name = "sltrain"
    uses_alpha = True

    def sparsity(self, mcfg) -> float:
        return mcfg.delta

    def validate(self, mcfg, model_cfg) -> None:
        if not 0.0 < self.sparsity(mcfg) < 1.0:
            raise ConfigError(f"delta must be in (0, 1) for sltrain, got {mcfg.delta}")
        super().validate(mcfg, model_cfg)

    def linear_elements(self, out_f, in_f, mcfg):
        return mcfg.rank * (out_f + in_f) + support_size(out_f, in_f, self.sparsity(mcfg))

    def linear(self, name, lin, mcfg, seed, device, dtype):
        # The support seed derives from (seed, module name), never from construction order.
        return SLTrainLinear(lin.in_features, lin.out_features, mcfg.rank, self.sparsity(mcfg), mcfg.alpha,
                             support_seed=support_seed_for(seed, name), index_dtype=mcfg.index_dtype,
                             device=device, dtype=dtype)


METHOD = SLTrain()
