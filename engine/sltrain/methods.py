"""Training methods as model converters: swap the seven block linears for factored layers.

full and galore train the plain model (GaLore lives in the optimizer), so their converter is the
identity. lowrank = SLTrain with delta 0; relora = frozen weight + LoRA adaptor.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import LlamaConfig, MethodConfig, linear_shapes
from .layers import ReLoRALinear, SLTrainLinear, support_seed_for
from .model import LlamaForCausalLM

BLOCK_LINEARS = tuple(name for name, _, _ in linear_shapes(LlamaConfig(8, 8, 1, 1, 1, 8)))
FACTORED_METHODS = ("lowrank", "relora", "sltrain")


def _factored_linear(name: str, lin: nn.Linear, method_cfg: MethodConfig, seed: int, device, dtype) -> nn.Module:
    c = method_cfg
    if c.method == "relora":
        return ReLoRALinear(lin.in_features, lin.out_features, c.rank, c.alpha, device=device, dtype=dtype)
    return SLTrainLinear(
        lin.in_features, lin.out_features, c.rank, c.delta if c.method == "sltrain" else 0.0, c.alpha,
        support_seed=support_seed_for(seed, name), index_dtype=c.index_dtype, device=device, dtype=dtype,
    )


def convert(
    model: LlamaForCausalLM, method_cfg: MethodConfig, seed: int, *, device=None, dtype=None
) -> LlamaForCausalLM:
    """Replace q,k,v,o,gate,up,down of every block in place (identity for full and galore).

    Each new layer's support seed derives from (seed, its module name), never from construction
    order. device/dtype default to those of the linear being replaced.
    """
    if method_cfg.method not in FACTORED_METHODS:
        return model
    for i, layer in enumerate(model.model.layers):
        for rel in BLOCK_LINEARS:
            parent_name, attr = rel.split(".")
            parent = getattr(layer, parent_name)
            lin = getattr(parent, attr)
            name = f"model.layers.{i}.{rel}"
            new = _factored_linear(
                name, lin, method_cfg, seed,
                device if device is not None else lin.weight.device,
                dtype if dtype is not None else lin.weight.dtype,
            )
            setattr(parent, attr, new)
    return model


def _materialize(model: LlamaForCausalLM, device) -> None:
    """Give every meta parameter real (uninitialised) storage on `device`, module by module."""
    for m in model.modules():
        own = list(m.parameters(recurse=False)) + list(m.buffers(recurse=False))
        if any(t.device.type == "meta" for t in own):
            m.to_empty(device=device, recurse=False)
    if model.config.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight


def build_model(
    model_cfg: LlamaConfig, method_cfg: MethodConfig, *, seed: int, device=None, dtype=None
) -> LlamaForCausalLM:
    """The model of a method, built in its final form without materialising replaced dense linears.

    Seeds torch's global RNG with `seed` for the dense parts. device="meta" builds an
    uninitialised skeleton instantly (parameter counting for any size).
    """
    method_cfg.validate(model_cfg)
    device = torch.device(device if device is not None else "cpu")
    dtype = dtype or torch.float32
    torch.manual_seed(seed)
    with torch.device("meta"):
        model = LlamaForCausalLM(model_cfg)
    convert(model, method_cfg, seed, device=device, dtype=dtype)
    if device.type == "meta":
        return model.to(dtype)
    _materialize(model, device)
    model.to(dtype)
    model.init_weights()
    return model
