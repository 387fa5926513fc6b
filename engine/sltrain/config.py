"""Model and method configuration: typed defaults, presets, and validation of user input."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import families, schema
from .errors import ConfigError
from .limits import MODEL as MODEL_LIMITS, read_json_file

PRESETS_PATH = Path(__file__).with_name("presets.json")
PRESETS: dict[str, dict[str, Any]] = json.loads(PRESETS_PATH.read_text())["presets"]

METHODS = schema.choices("method")
INDEX_DTYPES = schema.choices("index_dtype")
GALORE_PROJ_TYPES = ("std", "reverse_std", "left", "right")

_REQUIRED_INT_FIELDS = (
    "hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers", "vocab_size",
)


@dataclass
class LlamaConfig:
    """Architecture hyperparameters of a supported decoder family (families.json); field names are
    Hugging Face names, resolved for the family (head_dim, biases, sliding-window layers, RoPE scaling).
    `source_fields` is the config as it was given, so an export writes every field back."""

    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    num_hidden_layers: int
    vocab_size: int
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    initializer_range: float = 0.02
    rope_theta: float = 10000.0
    bos_token_id: int | list[int] | None = 0
    eos_token_id: int | list[int] | None = 1
    pad_token_id: int | None = -1
    model_type: str = "llama"
    head_dim: int = 0  # 0: hidden_size / num_attention_heads
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False  # RMSNorm over head_dim on q and k (qwen3)
    rope_scaling: dict[str, Any] | None = None
    sliding_window: int | None = None
    sliding_layers: tuple[int, ...] = ()
    source_fields: dict[str, Any] = field(default_factory=dict, compare=False)  # equal models may be written differently

    def __post_init__(self) -> None:
        if not self.head_dim:
            self.head_dim = self.hidden_size // self.num_attention_heads
        self.sliding_layers = tuple(self.sliding_layers)

    def block_extra_elements(self) -> int:
        """Parameter elements of one block beyond its seven linear weights and two norms: biases, q/k norms."""
        kv = self.num_key_value_heads * self.head_dim
        n = (self.num_attention_heads * self.head_dim + 2 * kv) * self.qkv_bias + self.hidden_size * self.o_bias
        n += (2 * self.intermediate_size + self.hidden_size) * self.mlp_bias
        return n + 2 * self.head_dim * self.qk_norm

    def to_hf_dict(self) -> dict[str, Any]:
        """A dict transformers' config class of this family accepts: every field given, plus the
        resolved value of each field that decides the architecture and was not given."""
        resolved = {k: getattr(self, k) for k in (*_REQUIRED_INT_FIELDS, "num_key_value_heads", "head_dim",
                                                  "max_position_embeddings", "rms_norm_eps", "tie_word_embeddings",
                                                  "initializer_range", "rope_theta", "bos_token_id", "eos_token_id",
                                                  "pad_token_id", "model_type")}
        resolved.update(architectures=[families.FAMILIES[self.model_type]["architecture"]], hidden_act="silu",
                        rope_scaling=self.rope_scaling)
        spec = families.FAMILIES[self.model_type]
        for rule, value in ((spec["qkv_bias"], self.qkv_bias), (spec["o_bias"], self.o_bias), (spec["mlp_bias"], self.mlp_bias)):
            if isinstance(rule, str):  # the config field that decides this bias
                resolved[rule] = value
        if spec["sliding"] != "none":
            resolved["sliding_window"] = self.sliding_window
        if "rope_parameters" in self.source_fields:  # transformers 5's own form, kept as given
            del resolved["rope_scaling"]
        return {**resolved, **self.source_fields}


def _preset_name(spec: str) -> str:
    """'60m', 'llama-60m', 'LLaMA_60M' all mean 'llama_60m'; 'qwen3-0.6b' means 'qwen3_0.6b'."""
    name = spec.strip().lower().replace("-", "_")
    return name if name in PRESETS or name.startswith("llama_") else f"llama_{name}"


def load_model_config(spec: str) -> LlamaConfig:
    """Resolve a preset name (or alias) or a path to a Hugging Face config.json (or its folder)."""
    name = _preset_name(spec)
    if name in PRESETS:
        return llama_config_from_dict(PRESETS[name]["config"], source=f"preset {name}")
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "config.json"
    looks_like_path = "/" in spec or "\\" in spec or spec.endswith(".json") or path.exists()
    if not looks_like_path:
        raise ConfigError(
            f"unknown model preset {spec!r}: use one of {', '.join(PRESETS)} "
            "or a path to a Hugging Face config.json"
        )
    if not path.exists():
        raise ConfigError(f"model config file not found: {path} (give a preset name or an existing config.json)")
    raw = read_json_file(path, "--model")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a JSON object with LlamaConfig fields")
    return llama_config_from_dict(raw, source=str(path))


def _int_field(raw: dict[str, Any], key: str, source: str, default: int | None = None) -> int:
    if key not in raw or raw[key] is None:
        if default is None:
            raise ConfigError(f"{source}: required field {key!r} is missing (a positive integer)")
        return default
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{source}: field {key!r} must be an integer, got {v!r}")
    return v


def _check_size(source: str, key: str, v: int) -> None:
    limit = MODEL_LIMITS[key]
    if v > limit:
        raise ConfigError(f"{source}: field {key!r} is {v}, above the limit of {limit}; "
                          "use a real model size (the largest Llama models are far below it)")


def _float_field(raw: dict[str, Any], key: str, source: str, default: float) -> float:
    v = raw.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
        raise ConfigError(f"{source}: field {key!r} must be a positive number (and finite), got {v!r}")
    return float(v)


def _token_id(raw: dict[str, Any], key: str, default: int, vocab: int, source: str):
    """An id below vocab_size, -1 (the papers' "no such token"), null, or (eos) a list of ids."""
    v = raw.get(key, default)
    ids = v if isinstance(v, list) and key == "eos_token_id" else [v]
    for t in ids:
        if t is None and len(ids) == 1:
            continue
        if isinstance(t, bool) or not isinstance(t, int) or not -1 <= t < vocab:
            raise ConfigError(f"{source}: field {key!r} is {v!r}; use -1 (none) or an id below vocab_size ({vocab})")
    return v


def llama_config_from_dict(raw: dict[str, Any], source: str = "model config") -> LlamaConfig:
    """Validate Hugging Face config fields of a supported family; every failure names the field."""
    if isinstance(raw.get("source_fields"), dict):  # a checkpoint's own record: the config as given
        raw = raw["source_fields"]
    family = families.family_of(raw, source)
    families.check_refused(raw, source)
    ints = {k: _int_field(raw, k, source) for k in _REQUIRED_INT_FIELDS}
    for k, v in ints.items():
        if v < 1:
            raise ConfigError(f"{source}: field {k!r} must be a positive integer, got {v}")
        _check_size(source, k, v)
    heads = ints["num_attention_heads"]
    head_dim = _head_dim(raw, family, ints["hidden_size"], heads, source)
    kv_heads = _int_field(raw, "num_key_value_heads", source, default=heads)
    _check_size(source, "num_key_value_heads", kv_heads)
    if kv_heads < 1 or heads % kv_heads:
        raise ConfigError(f"{source}: num_key_value_heads ({kv_heads}) must divide num_attention_heads ({heads})")
    tie = raw.get("tie_word_embeddings", False)
    if not isinstance(tie, bool):
        raise ConfigError(f"{source}: field 'tie_word_embeddings' must be true or false, got {tie!r}")
    max_pos = _int_field(raw, "max_position_embeddings", source, default=2048)
    if max_pos < 1:
        raise ConfigError(f"{source}: field 'max_position_embeddings' must be a positive integer, got {max_pos}")
    _check_size(source, "max_position_embeddings", max_pos)
    vocab = ints["vocab_size"]
    token_ids = {k: _token_id(raw, k, d, vocab, source)
                 for k, d in (("bos_token_id", 0), ("eos_token_id", 1), ("pad_token_id", -1))}
    if token_ids["pad_token_id"] is None:
        token_ids["pad_token_id"] = -1
    qkv_bias, o_bias, mlp_bias = families.biases(family, raw, source)
    window, sliding = families.sliding_layers(family, raw, ints["num_hidden_layers"], source)
    rope_params = raw.get("rope_parameters") if isinstance(raw.get("rope_parameters"), dict) else {}
    theta_src = raw if raw.get("rope_theta") is not None else rope_params
    return LlamaConfig(
        **ints,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_pos,
        rms_norm_eps=_float_field(raw, "rms_norm_eps", source, 1e-6),
        tie_word_embeddings=tie,
        initializer_range=_float_field(raw, "initializer_range", source, 0.02),
        rope_theta=_float_field(theta_src, "rope_theta", source, 10000.0),
        **token_ids,
        model_type=family,
        head_dim=head_dim,
        qkv_bias=qkv_bias, o_bias=o_bias, mlp_bias=mlp_bias,
        qk_norm=families.FAMILIES[family]["qk_norm"],
        rope_scaling=families.rope_scaling(raw, max_pos, source),
        sliding_window=window,
        sliding_layers=sliding,
        source_fields=dict(raw),
    )


def _head_dim(raw: dict[str, Any], family: str, hidden: int, heads: int, source: str) -> int:
    """The config's head_dim, else the family's default, else hidden_size / num_attention_heads."""
    d = raw.get("head_dim")
    if d is None:
        d = families.FAMILIES[family]["head_dim_default"]
        if d is None:
            if hidden % heads:
                raise ConfigError(f"{source}: num_attention_heads ({heads}) must divide hidden_size ({hidden}), "
                                  "or give head_dim")
            return hidden // heads
    if isinstance(d, bool) or not isinstance(d, int) or d < 2 or d % 2 or d > MODEL_LIMITS["hidden_size"]:
        raise ConfigError(f"{source}: field 'head_dim' must be an even integer from 2 to {MODEL_LIMITS['hidden_size']} "
                          f"(rotary embeddings pair its halves), got {d!r}")
    return d


@dataclass
class MethodConfig:
    """How the seven block linears are trained. Unused fields of other methods are ignored."""

    method: str = "sltrain"
    rank: int = 128
    delta: float = 0.03
    alpha: float = 32.0
    index_dtype: str = "auto"
    relora_reset_every: int = 1000
    relora_reset_ratio: float = 0.999  # fraction of adaptor Adam states magnitude-pruned at a merge
    galore_update_gap: int = 200
    galore_scale: float = 0.25
    apollo_update_gap: int = 200
    apollo_scale: float | None = None  # None: the method's own (apollo 1, apollo_mini 128)
    support_update_every: int = 0  # SLTrain dynamic support; 0 keeps the support fixed
    support_update_fraction: float = 0.1
    galore_proj_type: str = "std"

    def validate(self, model_cfg: LlamaConfig) -> None:
        from . import methods  # the method modules import this one

        method = methods.get(self.method)  # names the choices for an unknown method
        if self.index_dtype not in INDEX_DTYPES:
            raise ConfigError(f"index_dtype must be one of {', '.join(INDEX_DTYPES)}, got {self.index_dtype!r}")
        method.validate(self, model_cfg)


def linear_shapes(model_cfg: LlamaConfig) -> list[tuple[str, int, int]]:
    """(name, out_features, in_features) of the seven linears of one decoder block."""
    h, i, kv = model_cfg.hidden_size, model_cfg.intermediate_size, model_cfg.num_key_value_heads
    d = model_cfg.head_dim
    return [
        ("self_attn.q_proj", model_cfg.num_attention_heads * d, h),
        ("self_attn.k_proj", kv * d, h),
        ("self_attn.v_proj", kv * d, h),
        ("self_attn.o_proj", h, model_cfg.num_attention_heads * d),
        ("mlp.gate_proj", i, h),
        ("mlp.up_proj", i, h),
        ("mlp.down_proj", h, i),
    ]


def default_rank(model_cfg: LlamaConfig) -> int:
    """Rank for a config that is not a preset: hidden/4, capped at the narrowest block linear (the
    k/v width of a grouped-query model, e.g. 128 for Qwen2.5-0.5B), which no rank may exceed."""
    return max(1, min(model_cfg.hidden_size // 4, *(min(o, i) for _, o, i in linear_shapes(model_cfg))))


def method_defaults(preset_name: str, method: str = "sltrain") -> dict[str, Any]:
    """MethodConfig fields the papers use for a preset (rank, delta, alpha; GaLore's own rank/gap)."""
    name = _preset_name(preset_name)
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {preset_name!r}: use one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    d = {k: preset["sltrain"][k] for k in ("rank", "delta", "alpha")}
    d["alpha"] = float(d["alpha"])
    from . import methods  # the method modules import this one

    return methods.get(method).preset_defaults(name, preset, d)
