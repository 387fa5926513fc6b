"""GaLore: the plain model; the seven block linears' weights get GaLore's projected Adam, the rest
plain Adam, in one optimizer."""
from __future__ import annotations

import re

from ..config import GALORE_PROJ_TYPES
from ..errors import ConfigError
from ..limits import RUN as RUN_LIMITS
from .base import TrainingMethod

TARGET = re.compile(r"model\.layers\.\d+\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.weight$")


class GaLore(TrainingMethod):
    name = "galore"

    def validate(self, mcfg, model_cfg):
        super().validate(mcfg, model_cfg)
        if mcfg.galore_update_gap < 1:
            raise ConfigError(f"galore_update_gap must be >= 1, got {mcfg.galore_update_gap}")
        if mcfg.galore_proj_type not in GALORE_PROJ_TYPES:
            raise ConfigError(f"galore_proj_type must be one of {', '.join(GALORE_PROJ_TYPES)}, got {mcfg.galore_proj_type!r}")
        if not 0 < mcfg.galore_scale <= RUN_LIMITS["galore_scale"]:
            raise ConfigError(f"galore_scale must be positive and at most {RUN_LIMITS['galore_scale']:g}, "
                              f"got {mcfg.galore_scale}")

    def preset_defaults(self, preset_name, preset, defaults):
        # GaLore's scripts: their own rank where published, and a longer refresh gap at 7B (500, not 200).
        return {**defaults, "rank": preset.get("galore_rank", defaults["rank"]),
                "galore_update_gap": 500 if preset_name == "llama_7b" else 200}

    def default_lr(self, preset_lr):
        return 0.01  # GaLore's scripts


    def param_groups(self, named, mcfg):
        projected = [p for n, p in named if TARGET.search(n)]
        rest = [p for n, p in named if not TARGET.search(n)]
        extras = dict(rank=mcfg.rank, update_proj_gap=mcfg.galore_update_gap,
                      scale=mcfg.galore_scale, proj_type=mcfg.galore_proj_type)
        return [g for g in ({"params": rest}, {"params": projected, **extras}) if g["params"]]

    def adam_eps(self, optimizer):
        # galore-torch's defaults: 1e-6 for its AdamW, 1e-8 for its 8-bit AdamW.
        from ..galore import DEFAULT_EPS

        return DEFAULT_EPS if optimizer == "adamw" else 1e-8

    def optimizer_class(self, optimizer):
        from ..galore import GaLoreAdamW, GaLoreAdamW8bit  # imported on use: only GaLore runs need it

        return GaLoreAdamW if optimizer == "adamw" else GaLoreAdamW8bit


METHOD = GaLore()
