"""ReLoRA schedule helpers: merge cadence, optimizer pruning, jagged cosine LR."""

import math

import pytest
import torch

from sltrain.config import LlamaConfig, MethodConfig
from sltrain.layers import ReLoRALinear
from sltrain.methods import build_model
from sltrain.optim import build_optimizer
from sltrain.relora import magnitude_prune_, relora_lr_multiplier, relora_reset

TINY = LlamaConfig(hidden_size=16, intermediate_size=24, num_attention_heads=2, num_key_value_heads=2,
                   num_hidden_layers=1, vocab_size=19)


def test_magnitude_prune_keeps_largest():
    t = torch.tensor([0.5, -3.0, 0.1, 2.0, -0.2, 1.0, 0.0, 4.0, -0.05, 0.3])
    magnitude_prune_(t, 0.7)
    assert t.tolist() == [0.0, -3.0, 0.0, 2.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0]
    u = torch.randn(100)
    magnitude_prune_(u, 1.0)
    assert not u.any()


@pytest.mark.parametrize("per_layer", [False, True])
def test_reset_merges_on_schedule_and_prunes_adaptor_states(per_layer):
    mc = MethodConfig(method="relora", rank=4, alpha=8.0)
    model = build_model(TINY, mc, seed=0, dtype=torch.float64)
    bundle = build_optimizer(model, mc, lr=1e-2, per_layer=per_layer)
    ids = torch.randint(TINY.vocab_size, (2, 6), generator=torch.Generator().manual_seed(0))
    merged = []
    for step in range(1, 7):
        model(ids, ids)[1].backward()
        bundle.step()
        bundle.zero_grad()
        with torch.no_grad():
            before = model(ids)[0]
        if relora_reset(model, bundle, step, reset_every=3, prune_ratio=0.9):
            merged.append(step)
            with torch.no_grad():
                torch.testing.assert_close(model(ids)[0], before)  # merge keeps the function
            layers = [m for m in model.modules() if isinstance(m, ReLoRALinear)]
            assert all(torch.all(m.B == 0) for m in layers)
            for opt in bundle.optimizers:
                for p in (p for m in layers for p in (m.A, m.B)):
                    if p in opt.state:
                        nonzero = (opt.state[p]["exp_avg"] != 0).float().mean().item()
                        assert nonzero <= 0.11
    assert merged == [3, 6]


def test_jagged_cosine_schedule():
    kw = dict(total_steps=1000, warmup=100, reset_every=300, restart_warmup=20, min_ratio=0.1)
    f = lambda s: relora_lr_multiplier(s, **kw)
    assert f(0) == 0 and f(50) == 0.5 and f(100) == pytest.approx(1.0)
    assert f(1000) == pytest.approx(0.1)
    assert f(300) == 0.0 and f(310) == pytest.approx(0.5 * f(320)) and f(320) > f(330)
    cos = lambda s: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - 100) / 900))
    assert f(320) == pytest.approx(cos(320)) and f(299) == pytest.approx(cos(299))
    assert f(20) == 0.2  # no re-warmup inside the first warmup
