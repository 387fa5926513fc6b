"""llama (Llama 3.x fields), mistral, qwen2 and qwen3 against transformers' own class for each:
logits and loss (fp32, random weights, small configs), parameter counts (theirs built on the meta
device), the seven block linears under every method with their biases dense, and refusals."""

import json

import pytest
import torch

from sltrain.config import PRESETS, MethodConfig, llama_config_from_dict, load_model_config
from sltrain.errors import ConfigError
from sltrain.families import FAMILIES
from sltrain.merge import dense_state_dict
from sltrain.methods import build_model

transformers = pytest.importorskip("transformers")

BASE = dict(hidden_size=32, intermediate_size=56, num_attention_heads=4, num_key_value_heads=2,
            num_hidden_layers=3, vocab_size=61, max_position_embeddings=64, rope_theta=500.0)
# One small config per family and per feature that changes the arithmetic; T = 11 tokens below,
# so windows of 4 and 6 cut attention.
CASES = {
    "llama3": dict(model_type="llama", head_dim=12, tie_word_embeddings=True, attention_bias=True, mlp_bias=True,
                   rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                     original_max_position_embeddings=16)),
    "llama_linear": dict(model_type="llama", rope_scaling=dict(type="linear", factor=2.0)),
    "llama_dynamic": dict(model_type="llama", max_position_embeddings=8, rope_scaling=dict(type="dynamic", factor=2.0)),
    "llama_yarn": dict(model_type="llama", rope_scaling=dict(rope_type="yarn", factor=4.0,
                                                             original_max_position_embeddings=16)),
    "mistral": dict(model_type="mistral", sliding_window=4),
    "qwen2": dict(model_type="qwen2", use_sliding_window=True, sliding_window=6, max_window_layers=1),
    "qwen3": dict(model_type="qwen3", head_dim=16, tie_word_embeddings=True, use_sliding_window=True,
                  sliding_window=4, max_window_layers=2),
}


def _raw(case: str) -> dict:
    return {**BASE, **CASES[case]}


def _hf(cfg, state=None):
    hf_dict = cfg.to_hf_dict()
    conf = transformers.AutoConfig.for_model(**hf_dict)
    conf._attn_implementation = "eager"
    if state is None:
        with torch.device("meta"):
            return transformers.AutoModelForCausalLM.from_config(conf)
    hf = transformers.AutoModelForCausalLM.from_config(conf)
    assert type(hf).__name__ == FAMILIES[cfg.model_type]["architecture"]
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)
    return hf.eval()


def _batch(vocab: int, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(vocab, (2, 11), generator=g)
    labels = ids.clone()
    labels[0, -3:] = -100
    return ids, labels


@pytest.mark.parametrize("case", CASES)
def test_logits_and_loss_equal_transformers(case):
    cfg = llama_config_from_dict(_raw(case), case)
    model = build_model(cfg, MethodConfig(method="full"), seed=0).eval()
    with torch.no_grad():  # zero biases and unit norms at init would hide a misplaced one
        for p in model.parameters():
            if p.dim() == 1:
                p.normal_(1.0 if p.shape[0] == cfg.head_dim else 0.0, 0.1)
    hf = _hf(cfg, dense_state_dict(model))
    ids, labels = _batch(cfg.vocab_size)
    with torch.no_grad():
        logits, loss = model(ids, labels)
        ref = hf(input_ids=ids, labels=labels)
    torch.testing.assert_close(logits, ref.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, ref.loss, atol=1e-5, rtol=1e-5)


def test_windows_and_norms_change_the_result():
    """The cases above would pass with the feature ignored only if it had no effect: check it has."""
    for case, field in (("mistral", "sliding_window"), ("qwen2", "use_sliding_window")):
        on = llama_config_from_dict(_raw(case), case)
        off = llama_config_from_dict({**_raw(case), field: None if field == "sliding_window" else False}, case)
        assert on.sliding_layers and not off.sliding_layers
        m_on = build_model(on, MethodConfig(method="full"), seed=0).eval()
        m_off = build_model(off, MethodConfig(method="full"), seed=0).eval()
        ids, _ = _batch(on.vocab_size)
        with torch.no_grad():
            assert not torch.allclose(m_on(ids)[0], m_off(ids)[0])


@pytest.mark.parametrize("case", CASES)
def test_parameter_count_equals_transformers(case):
    cfg = llama_config_from_dict(_raw(case), case)
    ours = build_model(cfg, MethodConfig(method="full"), seed=0, device="meta")
    theirs = _hf(cfg)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert {n for n, _ in ours.named_parameters()} == {n for n, _ in theirs.named_parameters()}


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p["config"].get("model_type", "llama") != "llama"
                                  or "." in n])
def test_preset_counts_equal_transformers(name):
    cfg = load_model_config(name)
    ours = build_model(cfg, MethodConfig(method="full"), seed=0, device="meta")
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in _hf(cfg).parameters())


@pytest.mark.parametrize("method", ["sltrain", "lowrank", "relora", "galore"])
def test_methods_convert_the_seven_linears_and_keep_biases_dense(method):
    cfg = llama_config_from_dict(_raw("qwen2"), "qwen2")
    model = build_model(cfg, MethodConfig(method=method, rank=4, delta=0.1, alpha=8.0), seed=1)
    named = dict(model.named_parameters())
    for proj in ("q_proj", "k_proj", "v_proj"):
        b = named[f"model.layers.0.self_attn.{proj}.bias"]
        assert b.requires_grad and b.dim() == 1
    assert "model.layers.0.self_attn.o_proj.bias" not in named
    factored = {n.rsplit(".", 1)[0] for n in named if n.endswith(".A")}
    assert len(factored) == (0 if method == "galore" else 7 * cfg.num_hidden_layers)
    with torch.no_grad():  # a nonzero bias and B make the merge meaningful
        for n, p in model.named_parameters():
            if n.endswith((".B", ".bias")):
                p.normal_(0, 0.05)
    model.eval()
    ids, labels = _batch(cfg.vocab_size, seed=2)
    hf = _hf(cfg, dense_state_dict(model))
    with torch.no_grad():
        torch.testing.assert_close(model(ids)[0], hf(input_ids=ids).logits, atol=1e-5, rtol=1e-5)
    # the bias trains
    model.train()
    _, loss = model(ids, labels)
    loss.backward()
    assert named["model.layers.0.self_attn.q_proj.bias"].grad.abs().sum() > 0


@pytest.mark.parametrize("raw,field", [
    (dict(model_type="mixtral"), "model_type"),
    (dict(model_type="qwen2_moe"), "model_type"),
    (dict(model_type="deepseek_v3"), "model_type"),
    (dict(model_type="gemma"), "model_type"),
    (dict(model_type="phi3"), "model_type"),
    (dict(model_type="bert"), "model_type"),
    (dict(hidden_act="gelu"), "hidden_act"),
    (dict(partial_rotary_factor=0.5), "partial_rotary_factor"),
    (dict(model_type="qwen2", use_mrope=True), "use_mrope"),
    (dict(rope_scaling=dict(rope_type="longrope", factor=2.0)), "rope_scaling"),
    (dict(rope_scaling=dict(rope_type="llama3", factor=8.0)), "low_freq_factor"),
    (dict(model_type="qwen3", head_dim=7), "head_dim"),
    (dict(model_type="qwen2", use_sliding_window=True, layer_types=["full_attention"]), "layer_types"),
    (dict(model_type="mistral", sliding_window=0), "sliding_window"),
])
def test_unsupported_configs_name_the_field(raw, field):
    with pytest.raises(ConfigError) as e:
        llama_config_from_dict({**BASE, **raw}, "config.json")
    msg = str(e.value)
    assert field in msg, msg
    if field == "model_type":
        assert all(f in msg for f in FAMILIES), msg


def test_published_config_defaults_follow_transformers():
    """Fields a config leaves out take transformers' default for its family."""
    q3 = llama_config_from_dict({**BASE, "model_type": "qwen3"}, "c")
    assert q3.head_dim == 128 and q3.qk_norm and not q3.sliding_layers
    mi = llama_config_from_dict({**BASE, "model_type": "mistral"}, "c")
    assert mi.sliding_window == 4096 and mi.sliding_layers == (0, 1, 2)
    assert llama_config_from_dict({**BASE, "model_type": "mistral", "sliding_window": None}, "c").sliding_layers == ()
    q2 = llama_config_from_dict({**BASE, "model_type": "qwen2", "use_sliding_window": True}, "c")
    assert q2.sliding_layers == ()  # max_window_layers defaults to 28 of 3 layers
    assert q2.qkv_bias and not q2.o_bias
    l3 = llama_config_from_dict({**BASE, "eos_token_id": [1, 2], "bos_token_id": 0, "pad_token_id": None}, "c")
    assert l3.eos_token_id == [1, 2] and l3.pad_token_id == -1


def test_a_published_config_file_gets_a_rank_its_narrowest_linear_allows(tmp_path):
    """Qwen2.5-0.5B's k/v projections are 128 wide: hidden/4 = 224 would be refused as a rank."""
    from sltrain import runconfig
    from sltrain.config import default_rank

    path = tmp_path / "config.json"
    path.write_text(json.dumps(PRESETS["qwen2.5_0.5b"]["config"]))
    cfg = runconfig.RunConfig()
    cfg.model = str(path)
    cfg = runconfig.fill_defaults(cfg)
    assert cfg.rank == default_rank(load_model_config(str(path))) == 128
    cfg.method_config().validate(load_model_config(str(path)))  # accepted as it stands


def test_training_an_unsupported_family_is_bad_input(tmp_path, capsys):
    from sltrain import train

    path = tmp_path / "config.json"
    path.write_text(json.dumps({**BASE, "model_type": "mixtral", "num_local_experts": 8}))
    assert train.main(["--model", str(path), "--out", str(tmp_path / "run"), "--steps", "1"]) == 2
    assert "model_type 'mixtral' is not supported (field 'model_type')" in capsys.readouterr().out
