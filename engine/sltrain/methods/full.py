"""Full-rank training: the plain model and AdamW (or 8-bit Adam) on every parameter."""
from .base import TrainingMethod


class Full(TrainingMethod):
    name = "full"
    uses_rank = False


METHOD = Full()
