"""The decoder families the engine builds (families.json, shared with the planner) and the switches a
config.json resolves to for its family: biases, q/k norms, head_dim, sliding-window layers, RoPE scaling.

Every refusal names the field that decided it and the families or values that are supported.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .errors import ConfigError

_TABLE = json.loads(Path(__file__).with_name("families.json").read_text())
FAMILIES: dict[str, dict[str, Any]] = _TABLE["families"]
ROPE_FIELDS: dict[str, list[str]] = {k: v for k, v in _TABLE["rope_types"].items() if not k.startswith("_")}
ROPE_TYPES: tuple[str, ...] = tuple(ROPE_FIELDS)
REFUSED_FIELDS: dict[str, Any] = {k: v for k, v in _TABLE["refused_fields"].items() if not k.startswith("_")}
QWEN_MAX_WINDOW_LAYERS = _TABLE["qwen_max_window_layers_default"]


def supported() -> str:
    return ", ".join(FAMILIES)


def family_of(raw: dict[str, Any], source: str) -> str:
    model_type = raw.get("model_type", "llama")  # configs of the papers' presets predate the field
    if model_type not in FAMILIES:
        raise ConfigError(
            f"{source}: model_type {model_type!r} is not supported (field 'model_type'); the supported families "
            f"are {supported()} (dense decoders: no mixture of experts, encoders or other architectures)")
    return model_type


def _flag(raw: dict[str, Any], key: str, source: str) -> bool:
    v = raw.get(key, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise ConfigError(f"{source}: field {key!r} must be true or false, got {v!r}")
    return v


def biases(family: str, raw: dict[str, Any], source: str) -> tuple[bool, bool, bool]:
    """(q/k/v bias, o bias, gate/up/down bias) as transformers builds the family."""
    spec = FAMILIES[family]
    return tuple(  # type: ignore[return-value]
        _flag(raw, rule, source) if isinstance(rule, str) else rule
        for rule in (spec["qkv_bias"], spec["o_bias"], spec["mlp_bias"]))


def check_refused(raw: dict[str, Any], source: str) -> None:
    for key, fine in REFUSED_FIELDS.items():
        v = raw.get(key)
        if v is not None and v != fine:
            raise ConfigError(f"{source}: field {key!r} is {v!r}, which the engine does not build; it supports "
                              f"{key} = {json.dumps(fine)} only (families {supported()})")


def sliding_layers(family: str, raw: dict[str, Any], layers: int, source: str) -> tuple[int | None, tuple[int, ...]]:
    """(window, indices of the layers that use it); window counts the token itself, as transformers'
    mask does (position i sees j when i - window < j <= i)."""
    spec = FAMILIES[family]
    if spec["sliding"] == "none":
        return None, ()
    window = raw["sliding_window"] if "sliding_window" in raw else spec["sliding_window_default"]
    if spec["sliding"] == "qwen" and not _flag(raw, "use_sliding_window", source):
        return None, ()
    if window is None:
        return None, ()
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ConfigError(f"{source}: field 'sliding_window' must be a positive integer or null, got {window!r}")
    if spec["sliding"] == "all":
        return window, tuple(range(layers))
    types = raw.get("layer_types")
    if types is not None:
        allowed = ("full_attention", "sliding_attention")
        if not isinstance(types, list) or len(types) != layers or any(t not in allowed for t in types):
            raise ConfigError(f"{source}: field 'layer_types' must list {layers} entries (num_hidden_layers), each "
                              f"one of {', '.join(allowed)}")
        return window, tuple(i for i, t in enumerate(types) if t == "sliding_attention")
    first = raw.get("max_window_layers", QWEN_MAX_WINDOW_LAYERS)
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise ConfigError(f"{source}: field 'max_window_layers' must be a non-negative integer, got {first!r}")
    return window, tuple(range(first, layers))


def rope_scaling(raw: dict[str, Any], max_pos: int, source: str) -> dict[str, Any] | None:
    """The rope_scaling dict in one form ({"rope_type": ..., numbers}), or None for plain RoPE."""
    field = "rope_scaling" if raw.get("rope_scaling") is not None else "rope_parameters"  # transformers 5 writes the latter
    rs = raw.get(field)
    if rs is None:
        return None
    if not isinstance(rs, dict):
        raise ConfigError(f"{source}: field {field!r} must be an object or null, got {rs!r}")
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind not in ROPE_TYPES:
        raise ConfigError(f"{source}: field {field!r} has rope_type {kind!r}, which is not supported; use one "
                          f"of {', '.join(ROPE_TYPES)} or null")
    out: dict[str, Any] = {"rope_type": kind}
    if kind == "default":
        return None
    for key in ROPE_FIELDS[kind]:
        v = rs.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise ConfigError(f"{source}: {field} of type {kind!r} needs {key!r} as a positive number, got {v!r}")
        out[key] = float(v)
    if kind == "llama3" and out["high_freq_factor"] <= out["low_freq_factor"]:
        raise ConfigError(f"{source}: {field} needs high_freq_factor above low_freq_factor, got "
                          f"{out['high_freq_factor']} and {out['low_freq_factor']}")
    if kind in ("llama3", "yarn"):
        orig = rs.get("original_max_position_embeddings", max_pos)
        if isinstance(orig, bool) or not isinstance(orig, int) or orig < 1:
            raise ConfigError(f"{source}: {field} field 'original_max_position_embeddings' must be a positive "
                              f"integer, got {orig!r}")
        out["original_max_position_embeddings"] = orig
    if kind == "yarn":
        for key in ("attention_factor", "beta_fast", "beta_slow", "mscale", "mscale_all_dim"):
            v = rs.get(key)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
                    raise ConfigError(f"{source}: {field} field {key!r} must be a non-negative number, got {v!r}")
                out[key] = float(v)
        if rs.get("truncate") is False:
            out["truncate"] = False
    return out
