"""Model and method configuration: typed defaults, presets, and validation of user input."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import schema
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
    """Architecture hyperparameters; field names are Hugging Face `LlamaConfig` names."""

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
    bos_token_id: int = 0
    eos_token_id: int = 1
    pad_token_id: int = -1

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_hf_dict(self) -> dict[str, Any]:
        """A dict that `transformers.LlamaConfig(**d)` accepts and that describes this model."""
        d = asdict(self)
        d.update(
            model_type="llama",
            architectures=["LlamaForCausalLM"],
            hidden_act="silu",
            head_dim=self.head_dim,
            attention_bias=False,
            mlp_bias=False,
            rope_scaling=None,
            pretraining_tp=1,
        )
        return d


def _preset_name(spec: str) -> str:
    """'60m', 'llama-60m', 'LLaMA_60M' all mean 'llama_60m'."""
    name = spec.strip().lower().replace("-", "_")
    return name if name.startswith("llama_") else f"llama_{name}"


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


def llama_config_from_dict(raw: dict[str, Any], source: str = "model config") -> LlamaConfig:
    """Validate Hugging Face config fields; every failure names the field."""
    model_type = raw.get("model_type", "llama")
    if model_type != "llama":
        raise ConfigError(f"{source}: model_type is {model_type!r}; only 'llama' models are supported")
    ints = {k: _int_field(raw, k, source) for k in _REQUIRED_INT_FIELDS}
    for k, v in ints.items():
        if v < 1:
            raise ConfigError(f"{source}: field {k!r} must be a positive integer, got {v}")
        _check_size(source, k, v)
    heads = ints["num_attention_heads"]
    kv_heads = _int_field(raw, "num_key_value_heads", source, default=heads)
    if ints["hidden_size"] % heads:
        raise ConfigError(
            f"{source}: num_attention_heads ({heads}) must divide hidden_size ({ints['hidden_size']})"
        )
    _check_size(source, "num_key_value_heads", kv_heads)
    if kv_heads < 1 or heads % kv_heads:
        raise ConfigError(f"{source}: num_key_value_heads ({kv_heads}) must divide num_attention_heads ({heads})")
    head_dim = raw.get("head_dim")
    if head_dim is not None and head_dim != ints["hidden_size"] // heads:
        raise ConfigError(f"{source}: head_dim {head_dim} != hidden_size / num_attention_heads; not supported")
    if raw.get("hidden_act", "silu") != "silu":
        raise ConfigError(f"{source}: hidden_act {raw['hidden_act']!r} is not supported (use 'silu')")
    if raw.get("rope_scaling") is not None:
        raise ConfigError(f"{source}: rope_scaling is not supported; remove it or set it to null")
    if raw.get("attention_bias") or raw.get("mlp_bias"):
        raise ConfigError(f"{source}: attention_bias/mlp_bias are not supported; set them to false")
    tie = raw.get("tie_word_embeddings", False)
    if not isinstance(tie, bool):
        raise ConfigError(f"{source}: field 'tie_word_embeddings' must be true or false, got {tie!r}")
    max_pos = _int_field(raw, "max_position_embeddings", source, default=2048)
    if max_pos < 1:
        raise ConfigError(f"{source}: field 'max_position_embeddings' must be a positive integer, got {max_pos}")
    _check_size(source, "max_position_embeddings", max_pos)
    token_ids = {k: _int_field(raw, k, source, default=d)
                 for k, d in (("bos_token_id", 0), ("eos_token_id", 1), ("pad_token_id", -1))}
    for k, v in token_ids.items():  # -1 is the papers' "no such token"
        if not -1 <= v < ints["vocab_size"]:
            raise ConfigError(f"{source}: field {k!r} is {v}; use -1 (none) or an id below vocab_size "
                              f"({ints['vocab_size']})")
    return LlamaConfig(
        **ints,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_pos,
        rms_norm_eps=_float_field(raw, "rms_norm_eps", source, 1e-6),
        tie_word_embeddings=tie,
        initializer_range=_float_field(raw, "initializer_range", source, 0.02),
        rope_theta=_float_field(raw, "rope_theta", source, 10000.0),
        **token_ids,
    )


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
        ("self_attn.q_proj", h, h),
        ("self_attn.k_proj", kv * d, h),
        ("self_attn.v_proj", kv * d, h),
        ("self_attn.o_proj", h, h),
        ("mlp.gate_proj", i, h),
        ("mlp.up_proj", i, h),
        ("mlp.down_proj", h, i),
    ]


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
