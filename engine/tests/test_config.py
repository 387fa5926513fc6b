"""Config loading and validation: each bad input gets one message naming the field."""

import json

import pytest

from sltrain.config import PRESETS, LlamaConfig, MethodConfig, load_model_config, method_defaults
from sltrain.errors import ConfigError, MissingDependency

GOOD = PRESETS["llama_9m"]["config"]


def _write(tmp_path, obj, raw=None):
    p = tmp_path / "config.json"
    p.write_text(raw if raw is not None else json.dumps(obj))
    return str(p)


@pytest.mark.parametrize("spec", ["llama_60m", "60m", "llama-60m", "LLaMA_60M"])
def test_preset_aliases(spec):
    cfg = load_model_config(spec)
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.head_dim) == (512, 8, 64)


def test_hf_file_and_folder_roundtrip(tmp_path):
    cfg = load_model_config("llama_100m")
    path = _write(tmp_path, cfg.to_hf_dict())
    assert load_model_config(path) == cfg == load_model_config(str(tmp_path))
    assert cfg.to_hf_dict()["model_type"] == "llama" and cfg.to_hf_dict()["architectures"] == ["LlamaForCausalLM"]


def test_kv_heads_default_to_heads(tmp_path):
    d = {k: v for k, v in GOOD.items() if k != "num_key_value_heads"}
    assert load_model_config(_write(tmp_path, d)).num_key_value_heads == GOOD["num_attention_heads"]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"model_type": "gpt2"}, "model_type 'gpt2' is not supported .field 'model_type'.; the supported families are llama, mistral, qwen2, qwen3"),
        ({"hidden_size": None}, "required field 'hidden_size' is missing"),
        ({"vocab_size": "32000"}, "field 'vocab_size' must be an integer"),
        ({"intermediate_size": 1.5}, "field 'intermediate_size' must be an integer"),
        ({"num_hidden_layers": 0}, "'num_hidden_layers' must be a positive integer"),
        ({"num_attention_heads": 3}, r"num_attention_heads \(3\) must divide hidden_size \(128\)"),
        ({"num_key_value_heads": 3}, r"num_key_value_heads \(3\) must divide num_attention_heads \(4\)"),
        ({"hidden_act": "gelu"}, "field 'hidden_act' is 'gelu', which the engine does not build"),
        ({"rope_scaling": {"type": "longrope", "factor": 2.0}}, "field 'rope_scaling' has rope_type 'longrope', which is not supported"),
        ({"rms_norm_eps": "tiny"}, "'rms_norm_eps' must be a positive number"),
        ({"rope_theta": -1}, "'rope_theta' must be a positive number"),
        ({"tie_word_embeddings": "false"}, "'tie_word_embeddings' must be true or false"),
    ],
)
def test_bad_config_fields(tmp_path, change, message):
    d = {**GOOD, **change}
    with pytest.raises(ConfigError, match=message):
        load_model_config(_write(tmp_path, d))


def test_unknown_preset_lists_names():
    with pytest.raises(ConfigError, match="unknown model preset 'llama_61m'.*llama_60m"):
        load_model_config("llama_61m")


def test_missing_file_and_malformed_json(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_model_config(str(tmp_path / "nope.json"))
    with pytest.raises(ConfigError, match="not valid JSON: .* line 2, column"):
        load_model_config(_write(tmp_path, None, raw='{"a": 1,\n oops}'))
    with pytest.raises(ConfigError, match="JSON object"):
        load_model_config(_write(tmp_path, [1, 2]))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(method="dora"), "unknown method 'dora'"),
        (dict(method="sltrain", delta=0.0), r"delta must be in \(0, 1\)"),
        (dict(method="sltrain", delta=1.0), r"delta must be in \(0, 1\)"),
        (dict(method="lowrank", rank=0), r"rank must be an integer in \[1, 128\]"),
        (dict(method="sltrain", rank=129), r"rank must be an integer in \[1, 128\]"),
        (dict(method="sltrain", index_dtype="uint8"), "index_dtype must be one of"),
        (dict(method="galore", galore_update_gap=0), "galore_update_gap must be >= 1"),
        (dict(method="galore", galore_proj_type="full"), "galore_proj_type must be one of"),
        (dict(method="relora", relora_reset_ratio=1.5), r"relora_reset_ratio must be in \[0, 1\]"),
        (dict(method="relora", relora_reset_every=0), "relora_reset_every must be >= 1"),
    ],
)
def test_method_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        MethodConfig(**kwargs).validate(load_model_config("llama_9m"))


def test_full_ignores_rank_and_defaults_from_presets():
    MethodConfig(method="full", rank=10**6).validate(load_model_config("llama_9m"))
    assert method_defaults("60m") == {"rank": 128, "delta": 0.03, "alpha": 32.0}
    assert method_defaults("llama_1b", "galore")["rank"] == 1024
    assert method_defaults("7b", "galore")["galore_update_gap"] == 500


def test_error_types():
    assert issubclass(ConfigError, ValueError) and issubclass(MissingDependency, RuntimeError)
    assert LlamaConfig(64, 128, 4, 2, 1, 10).head_dim == 16
