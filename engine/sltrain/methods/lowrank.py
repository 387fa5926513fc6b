"""The low-rank baseline: SLTrain's layer with no sparse part (delta 0)."""
from .sltrain import SLTrain


class LowRank(SLTrain):
    name = "lowrank"
    dynamic_support = False  # no sparse part to move

    def sparsity(self, mcfg) -> float:
        return 0.0

    def validate(self, mcfg, model_cfg) -> None:
        super(SLTrain, self).validate(mcfg, model_cfg)  # rank and alpha; no sparse part to check


METHOD = LowRank()
