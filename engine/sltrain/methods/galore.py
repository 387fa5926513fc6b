"""GaLore: the plain model; the seven block linears' weights get GaLore's projected Adam, the rest
plain Adam, in one optimizer."""
from __future__ import annotations

import re

from .base import TrainingMethod

TARGET = re.compile(r"model\.layers\.\d+\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.weight$")


class GaLore(TrainingMethod):
    name = "galore"

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
