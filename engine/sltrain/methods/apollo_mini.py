"""APOLLO-Mini: APOLLO at rank 1 with one scaling factor per tensor and update scale 128."""
from __future__ import annotations

from ..errors import ConfigError
from .apollo import Apollo

RANK = 1


class ApolloMini(Apollo):
    name = "apollo_mini"
    scale_type = "tensor"
    default_scale = 128.0  # sqrt(128) on the rank-1 factor, as APOLLO's Mini scripts

    def validate(self, mcfg, model_cfg):
        if mcfg.rank != RANK:
            raise ConfigError(f"--method apollo_mini projects at rank {RANK} by definition, got --rank {mcfg.rank}; "
                              "drop --rank, or use --method apollo for another rank")
        super().validate(mcfg, model_cfg)

    def preset_defaults(self, preset_name, preset, defaults):
        return {**defaults, "rank": RANK}


METHOD = ApolloMini()
