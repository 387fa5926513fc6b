"""Learning-rate schedule: linear warmup from 0, then cosine decay to min_ratio * peak.

Step s counts optimizer updates from 0; a run of N steps performs updates s = 0 .. N-1 and no more
(the reference code runs one extra). The warmup ramps lr(s) = peak * s / warmup (so the first update
has lr 0, as the papers' LambdaLR), lr(warmup) = peak, and the cosine reaches exactly
min_ratio * peak at the last update s = N-1.
"""
from __future__ import annotations

import math


def lr_at(step: int, *, peak: float, warmup: int, total: int, min_ratio: float) -> float:
    if step < warmup:
        return peak * step / warmup
    span = total - 1 - warmup
    if span <= 0:
        return peak
    progress = min(1.0, (step - warmup) / span)
    return peak * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))
