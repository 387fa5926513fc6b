"""Our LLaMA against transformers' LlamaForCausalLM, merges, bf16 and gradient checkpointing."""

import pytest
import torch

from sltrain.config import LlamaConfig, MethodConfig
from sltrain.merge import dense_state_dict
from sltrain.methods import build_model

transformers = pytest.importorskip("transformers")

TINY = dict(hidden_size=32, intermediate_size=56, num_attention_heads=4, num_hidden_layers=2, vocab_size=61)


def _hf_model(cfg: LlamaConfig, state: dict) -> "transformers.LlamaForCausalLM":
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**cfg.to_hf_dict()))
    hf.config._attn_implementation = "eager"
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)
    return hf.eval()


def _batch(cfg: LlamaConfig, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(cfg.vocab_size, (2, 11), generator=g)
    labels = ids.clone()
    labels[0, -3:] = -100  # padding
    return ids, labels


@pytest.mark.parametrize("kv_heads,tie", [(4, False), (2, False), (1, True)])
def test_logits_and_loss_match_hf(kv_heads, tie):
    cfg = LlamaConfig(**TINY, num_key_value_heads=kv_heads, tie_word_embeddings=tie, rope_theta=500.0)
    model = build_model(cfg, MethodConfig(method="full"), seed=0).eval()
    hf = _hf_model(cfg, dense_state_dict(model))
    ids, labels = _batch(cfg)
    with torch.no_grad():
        logits, loss = model(ids, labels)
        ref = hf(input_ids=ids, labels=labels)
    torch.testing.assert_close(logits, ref.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, ref.loss, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("method", ["sltrain", "lowrank", "relora"])
def test_merged_model_reproduces_factored_logits(method):
    cfg = LlamaConfig(**TINY, num_key_value_heads=2)
    model = build_model(cfg, MethodConfig(method=method, rank=4, delta=0.1, alpha=8.0), seed=3).eval()
    with torch.no_grad():  # B = 0 at init would hide a wrong merge
        for name, p in model.named_parameters():
            if name.endswith(".B"):
                p.normal_(0, 0.05)
    hf = _hf_model(cfg, dense_state_dict(model))
    ids, labels = _batch(cfg, seed=1)
    with torch.no_grad():
        logits, loss = model(ids, labels)
        ref = hf(input_ids=ids, labels=labels)
    torch.testing.assert_close(logits, ref.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, ref.loss, atol=1e-5, rtol=1e-5)


def test_init_statistics_and_names():
    cfg = LlamaConfig(**TINY, num_key_value_heads=4)
    model = build_model(cfg, MethodConfig(method="full"), seed=0)
    names = set(dict(model.named_parameters()))
    assert {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
            "model.layers.1.self_attn.k_proj.weight", "model.layers.0.mlp.down_proj.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight"} <= names
    assert not any("bias" in n for n in names)
    assert torch.all(model.model.norm.weight == 1)
    assert abs(model.model.embed_tokens.weight.std().item() - 0.02) < 0.002


@pytest.mark.parametrize("method", ["full", "sltrain", "relora"])
def test_bf16_forward_backward_on_cpu(method):
    cfg = LlamaConfig(**TINY, num_key_value_heads=2)
    model = build_model(cfg, MethodConfig(method=method, rank=4, delta=0.1, alpha=8.0), seed=0, dtype=torch.bfloat16)
    ids, labels = _batch(cfg)
    logits, loss = model(ids, labels)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and g.dtype == torch.bfloat16 and torch.isfinite(g).all() for g in grads)


def test_gradient_checkpointing_gives_same_gradients():
    cfg = LlamaConfig(**TINY, num_key_value_heads=2)
    model = build_model(cfg, MethodConfig(method="sltrain", rank=4, delta=0.1, alpha=8.0), seed=0, dtype=torch.float64)
    ids, labels = _batch(cfg)
    grads = []
    for ckpt in (False, True):
        model.zero_grad()
        model.gradient_checkpointing = ckpt
        model(ids, labels)[1].backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_swiglu_function_is_bitwise_autograd_and_saves_two_tensors(dtype):
    import torch.nn.functional as F

    from sltrain.model import SwiGLUFunction

    g = torch.Generator().manual_seed(0)
    gate = torch.randn(3, 5, 64, generator=g).to(dtype).requires_grad_()
    up = torch.randn(3, 5, 64, generator=g).to(dtype).requires_grad_()
    gy = torch.randn(3, 5, 64, generator=g).to(dtype)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = SwiGLUFunction.apply(gate, up)
    assert len(saved) == 2  # gate and up; silu(gate) is recomputed
    got = torch.autograd.grad(y, (gate, up), gy)
    y_ref = F.silu(gate) * up
    want = torch.autograd.grad(y_ref, (gate, up), gy)
    assert torch.equal(y, y_ref)
    for a, b in zip(got, want):
        assert torch.equal(a, b)


@pytest.mark.parametrize("method", ["sltrain", "full", "relora"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_released_activations_give_bitwise_equal_gradients_and_save_memory(method, dtype):
    from sltrain.measure import SavedActivations

    cfg = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=88, num_attention_heads=4,
                      num_key_value_heads=2, num_hidden_layers=2, max_position_embeddings=64)
    ids, labels = _batch(cfg)
    runs = {}
    for remat in (False, True):
        model = build_model(cfg, MethodConfig(method=method, rank=8, delta=0.1), seed=0, dtype=dtype)
        model.rematerialize = remat
        acts = SavedActivations(model)
        with acts.hooks():
            _, loss = model(ids, labels)
        acts.remove()
        saved = sum(acts.by_layer.values())
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
        runs[remat] = (loss.detach(), grads, saved)
    (l0, g0, s0), (l1, g1, s1) = runs[False], runs[True]
    assert torch.equal(l0, l1)
    assert g0.keys() == g1.keys() and all(torch.equal(g0[n], g1[n]) for n in g0), method
    # Released per token: both norm outputs and the SwiGLU product in every layer, the final norm's output.
    N, a = ids.numel(), torch.finfo(dtype).bits // 8
    expected = N * a * (cfg.num_hidden_layers * (2 * cfg.hidden_size + cfg.intermediate_size) + cfg.hidden_size)
    assert s0 - s1 == expected


def test_released_activations_are_not_used_under_checkpointing_or_without_grad():
    cfg = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=88, num_attention_heads=4,
                      num_key_value_heads=4, num_hidden_layers=2, max_position_embeddings=64)
    ids, labels = _batch(cfg)
    model = build_model(cfg, MethodConfig(method="sltrain", rank=8), seed=0)
    with torch.no_grad():
        logits, _ = model(ids)
    assert logits.untyped_storage().nbytes() > 0
    model.gradient_checkpointing = True
    _, loss = model(ids, labels)
    loss.backward()  # would fail on an empty storage if a checkpointed layer had released one
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
