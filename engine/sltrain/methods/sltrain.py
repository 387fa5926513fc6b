"""SLTrain: every block linear becomes (alpha/r)·B·A + S with a fixed random support for S."""
from __future__ import annotations

from ..layers import SLTrainLinear, support_seed_for
from .base import TrainingMethod


class SLTrain(TrainingMethod):
    name = "sltrain"

    def sparsity(self, mcfg) -> float:
        return mcfg.delta

    def linear(self, name, lin, mcfg, seed, device, dtype):
        # The support seed derives from (seed, module name), never from construction order.
        return SLTrainLinear(lin.in_features, lin.out_features, mcfg.rank, self.sparsity(mcfg), mcfg.alpha,
                             support_seed=support_seed_for(seed, name), index_dtype=mcfg.index_dtype,
                             device=device, dtype=dtype)


METHOD = SLTrain()
