"""build_optimizer: whole-model vs per-layer updates, accumulation, state bytes, errors."""

import copy
import sys

import pytest
import torch

from sltrain.config import LlamaConfig, MethodConfig
from sltrain.errors import ConfigError, MissingDependency
from sltrain.methods import build_model
from sltrain.optim import build_optimizer, optimizer_state_bytes

TINY = LlamaConfig(hidden_size=16, intermediate_size=24, num_attention_heads=2, num_key_value_heads=1,
                   num_hidden_layers=2, vocab_size=29)


def _model(method="sltrain"):
    return build_model(TINY, MethodConfig(method=method, rank=4, delta=0.2, alpha=8.0), seed=0, dtype=torch.float64)


def _micro_batches(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(TINY.vocab_size, (2, 7), generator=g) for _ in range(n)]


def _train(model, bundle, updates, accum):
    for u in range(updates):
        bundle.begin_update(accum)
        for ids in _micro_batches(accum, seed=u):
            (model(ids, ids)[1] / accum).backward()
        bundle.step()
        bundle.zero_grad()


@pytest.mark.parametrize("method,accum", [("sltrain", 1), ("sltrain", 2), ("sltrain", 4), ("galore", 3), ("relora", 3)])
def test_per_layer_matches_whole_model_step(method, accum):
    mc = MethodConfig(method=method, rank=4, delta=0.2, alpha=8.0, galore_update_gap=2)
    ref, per = _model(method), _model(method)
    ref_opt = build_optimizer(ref, mc, lr=1e-2, weight_decay=0.1)
    per_opt = build_optimizer(per, mc, lr=1e-2, weight_decay=0.1, per_layer=True)
    assert len(per_opt.optimizers) == sum(p.requires_grad for p in per.parameters())
    _train(ref, ref_opt, 3, accum)
    _train(per, per_opt, 3, accum)
    for (n, a), (_, b) in zip(ref.named_parameters(), per.named_parameters()):
        torch.testing.assert_close(a, b, msg=n)
    steps = {int(opt.state[p]["step"]) for opt in per_opt.optimizers for g in opt.param_groups for p in g["params"]}
    assert steps == {3}  # exactly one step per update, not per micro-batch
    assert all(p.grad is None for p in per.parameters())


def test_impls_agree_and_param_groups_drive_lr():
    results = []
    for impl in ("for", "foreach", "fused"):
        model = _model()
        bundle = build_optimizer(model, MethodConfig(method="sltrain", rank=4), lr=1.0, impl=impl)
        for g in bundle.param_groups:
            g["lr"] = 1e-2  # as the LR scheduler does
        _train(model, bundle, 2, 1)
        results.append([p.detach().clone() for p in model.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            torch.testing.assert_close(a, b)


def test_state_dict_roundtrip_resumes_identically():
    mc = MethodConfig(method="sltrain", rank=4)
    a = _model()
    opt_a = build_optimizer(a, mc, lr=1e-2)
    _train(a, opt_a, 2, 1)
    b = _model()
    b.load_state_dict(a.state_dict())
    opt_b = build_optimizer(b, mc, lr=1e-2)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))  # a checkpoint holds copies
    _train(a, opt_a, 2, 1)
    _train(b, opt_b, 2, 1)
    for x, y in zip(a.parameters(), b.parameters()):
        assert torch.equal(x, y)
    with pytest.raises(ConfigError, match="does not match"):
        build_optimizer(b, mc, lr=1e-2, per_layer=True).load_state_dict(opt_a.state_dict())


def test_state_bytes_adamw_counts_moments_and_steps():
    model = build_model(TINY, MethodConfig(method="sltrain", rank=4), seed=0)
    bundle = build_optimizer(model, MethodConfig(method="sltrain", rank=4), lr=1e-3)
    _train(model, bundle, 1, 1)
    params = [p for p in model.parameters() if p.requires_grad]
    assert optimizer_state_bytes(bundle) == sum(2 * p.numel() * 4 + 4 for p in params)


def test_adam8bit_builds_and_counts_shared_maps_once():
    bnb = pytest.importorskip("bitsandbytes")
    model = build_model(TINY, MethodConfig(method="full"), seed=0)
    bundle = build_optimizer(model, MethodConfig(method="full"), optimizer="adam8bit", lr=1e-3)
    assert isinstance(bundle.optimizers[0], bnb.optim.AdamW8bit)
    _train(model, bundle, 1, 1)
    assert optimizer_state_bytes(bundle) > 0


def test_missing_bitsandbytes_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    model = _model()
    with pytest.raises(MissingDependency, match="pip install bitsandbytes"):
        build_optimizer(model, MethodConfig(method="sltrain"), optimizer="adam8bit", lr=1e-3)
    with pytest.raises(MissingDependency, match="pip install bitsandbytes"):
        build_optimizer(model, MethodConfig(method="galore"), optimizer="adam8bit", lr=1e-3).step()


def test_bad_options(monkeypatch):
    model = _model()
    with pytest.raises(ConfigError, match="unknown optimizer 'sgd'"):
        build_optimizer(model, MethodConfig(), optimizer="sgd", lr=1e-3)
    with pytest.raises(ConfigError, match="impl must be one of"):
        build_optimizer(model, MethodConfig(), impl="cuda", lr=1e-3)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    with pytest.raises(ConfigError, match="--per-layer cannot be combined with multi-GPU"):
        build_optimizer(model, MethodConfig(), lr=1e-3, per_layer=True)


def test_per_layer_adam8bit_matches_whole_model_adam8bit():
    pytest.importorskip("bitsandbytes")
    mc = MethodConfig(method="full")
    ref = build_model(TINY, mc, seed=0)
    per = build_model(TINY, mc, seed=0)
    ref_opt = build_optimizer(ref, mc, optimizer="adam8bit", lr=1e-2)
    per_opt = build_optimizer(per, mc, optimizer="adam8bit", lr=1e-2, per_layer=True)
    _train(ref, ref_opt, 2, 2)
    _train(per, per_opt, 2, 2)
    for (n, a), (_, b) in zip(ref.named_parameters(), per.named_parameters()):
        torch.testing.assert_close(a, b, msg=n)
