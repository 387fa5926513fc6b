"""Training methods, one module each, registered here by name; and the model builder that asks the
method what each of the seven block linears becomes.

full, galore, apollo and apollo_mini train the plain model (GaLore and APOLLO live in the optimizer), so
their layers stay dense.
lowrank = SLTrain with delta 0; relora = frozen weight + LoRA adaptor. See `base.TrainingMethod`
for the hooks a method provides.
"""

from __future__ import annotations

import torch

from ..config import METHODS, LlamaConfig, MethodConfig, linear_shapes
from ..errors import ConfigError
from ..model import LlamaForCausalLM
from . import apollo, apollo_mini, full, galore, lowrank, relora, sltrain
from .base import TrainingMethod

BLOCK_LINEARS = tuple(name for name, _, _ in linear_shapes(LlamaConfig(8, 8, 1, 1, 1, 8)))
REGISTRY: dict[str, TrainingMethod] = {m.METHOD.name: m.METHOD for m in (full, lowrank, relora, galore, sltrain, apollo, apollo_mini)}
# config.METHODS is the list users see in messages; both must name the same methods.
assert tuple(REGISTRY) == METHODS, (tuple(REGISTRY), METHODS)


def get(name: str) -> TrainingMethod:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}: use one of {', '.join(REGISTRY)}") from None


def convert(
    model: LlamaForCausalLM, method_cfg: MethodConfig, seed: int, *, device=None, dtype=None
) -> LlamaForCausalLM:
    """Replace q,k,v,o,gate,up,down of every block in place by the method's layers (full, galore
    and apollo keep them dense).

    Each new layer's support seed derives from (seed, its module name), never from construction
    order. device/dtype default to those of the linear being replaced.
    """
    method = get(method_cfg.method)
    for i, layer in enumerate(model.model.layers):
        for rel in BLOCK_LINEARS:
            parent_name, attr = rel.split(".")
            parent = getattr(layer, parent_name)
            lin = getattr(parent, attr)
            name = f"model.layers.{i}.{rel}"
            new = method.linear(
                name, lin, method_cfg, seed,
                device if device is not None else lin.weight.device,
                dtype if dtype is not None else lin.weight.dtype,
            )
            if new is not None:
                if lin.bias is not None:  # biases stay dense and trainable (model.project adds them)
                    new.bias = torch.nn.Parameter(torch.zeros(lin.out_features, device=new.A.device, dtype=new.A.dtype))
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
