"""Dense Hugging Face state dicts from any method's model (used by export and tests)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import ReLoRALinear, SLTrainLinear


@torch.no_grad()
def dense_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """HF-named tensors: factored layers become `<name>.weight` = s·B·A + S (or W + s·B·A).

    Tied embeddings appear under both names, as HF's own state dict has them.
    """
    out: dict[str, Tensor] = {}
    factored = {name for name, m in model.named_modules() if isinstance(m, (SLTrainLinear, ReLoRALinear))}
    for name, m in model.named_modules():
        if name in factored:
            out[f"{name}.weight"] = m.weight_dense().detach().clone()
    for name, t in model.state_dict(keep_vars=False).items():
        owner = name.rsplit(".", 1)[0]
        if owner not in factored or name.endswith(".bias"):  # a factored layer's bias stays as it is
            out[name] = t.detach().clone()
    return out
