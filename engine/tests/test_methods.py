"""Method converters: parameter counts for every preset, and the structure of converted models."""

import math

import pytest
import torch

from sltrain.config import PRESETS, MethodConfig, load_model_config, method_defaults
from sltrain.layers import ReLoRALinear, SLTrainLinear
from sltrain.methods import build_model

METHODS = ["full", "lowrank", "relora", "galore", "apollo", "apollo_mini", "sltrain"]


def _expected_counts(cfg: dict, method: str, rank: int, delta: float) -> tuple[int, int]:
    """(total, trainable) from the paper's formulas, written out independently of the package; the
    families' extras (head_dim, Qwen2's q/k/v biases, Llama's attention/MLP biases, Qwen3's q/k norms)
    as their model cards describe them."""
    h, i, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    heads, kv_heads = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim") or h // heads
    q_dim, kv_dim = heads * d, kv_heads * d
    shapes = [(q_dim, h), (kv_dim, h), (kv_dim, h), (h, q_dim), (i, h), (i, h), (h, i)]  # (out, in)
    dense = L * sum(o * n for o, n in shapes)
    lowrank = L * sum(rank * (o + n) for o, n in shapes)
    sparse = L * sum(int(delta * (o * n)) for o, n in shapes)
    qkv_bias = cfg.get("model_type") == "qwen2" or cfg.get("attention_bias", False)
    biases = L * ((q_dim + 2 * kv_dim if qkv_bias else 0) + (h if cfg.get("attention_bias", False) else 0)
                  + (2 * i + h if cfg.get("mlp_bias", False) else 0))
    qk_norm = L * 2 * d if cfg.get("model_type") == "qwen3" else 0
    rest = V * h * (1 if cfg.get("tie_word_embeddings") else 2) + (2 * L + 1) * h + biases + qk_norm
    return {
        "full": (rest + dense, rest + dense),
        "galore": (rest + dense, rest + dense),
        "apollo": (rest + dense, rest + dense),
        "apollo_mini": (rest + dense, rest + dense),
        "lowrank": (rest + lowrank, rest + lowrank),
        "sltrain": (rest + lowrank + sparse, rest + lowrank + sparse),
        "relora": (rest + dense + lowrank, rest + lowrank),
    }[method]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_parameter_counts_every_method_every_preset(preset):
    cfg = load_model_config(preset)
    d = method_defaults(preset)
    for method in METHODS:
        rank = 1 if method == "apollo_mini" else d["rank"]  # Mini projects at rank 1 by definition
        mc = MethodConfig(method=method, rank=rank, delta=d["delta"], alpha=d["alpha"])
        model = build_model(cfg, mc, seed=0, device="meta")
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert (total, trainable) == _expected_counts(PRESETS[preset]["config"], method, d["rank"], d["delta"]), method
        if method == "sltrain":
            cols = sum(b.numel() for n, b in model.named_buffers() if n.endswith("col_indices"))
            assert cols == sum(m.nnz for m in model.modules() if isinstance(m, SLTrainLinear))


def test_converter_swaps_exactly_the_seven_linears():
    cfg = load_model_config("llama_tiny")
    model = build_model(cfg, MethodConfig(method="sltrain", rank=8), seed=1)
    swapped = [n for n, m in model.named_modules() if isinstance(m, SLTrainLinear)]
    assert len(swapped) == 7 * cfg.num_hidden_layers
    dense = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    assert dense == ["lm_head"]
    assert all(p.device.type == "cpu" for p in model.parameters())
    supports = {tuple(m.flat_indices()[:8].tolist()) for m in model.modules() if isinstance(m, SLTrainLinear)}
    assert len(supports) == len(swapped)  # every layer its own support
    again = build_model(cfg, MethodConfig(method="sltrain", rank=8), seed=1)
    for (n, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), n


def test_relora_and_lowrank_structure_and_dtype():
    cfg = load_model_config("llama_tiny")
    relora = build_model(cfg, MethodConfig(method="relora", rank=8), seed=0, dtype=torch.bfloat16)
    layers = [m for m in relora.modules() if isinstance(m, ReLoRALinear)]
    assert len(layers) == 28 and all(not m.weight.requires_grad for m in layers)
    assert all(p.dtype == torch.bfloat16 for p in relora.parameters())
    assert abs(layers[0].weight.float().std().item() - 0.02) < 0.003
    low = build_model(cfg, MethodConfig(method="lowrank", rank=8), seed=0)
    assert all(m.values is None for m in low.modules() if isinstance(m, SLTrainLinear))


def test_tied_embeddings_stay_tied_after_build():
    cfg = load_model_config("llama_tiny")
    cfg.tie_word_embeddings = True
    model = build_model(cfg, MethodConfig(method="sltrain", rank=8), seed=0)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.lm_head.weight.device.type == "cpu"
