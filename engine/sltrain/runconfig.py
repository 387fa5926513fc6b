"""Run configuration: typed defaults -> run file (JSON, --config) -> command-line overrides.

`resolve(argv)` is the only place a value is chosen: unset fields (None) are filled from the model
preset (rank/delta/alpha, lr, steps, warmup, seq_len), the device (precision) and the machine
(num_threads); the result is validated once, written once to OUT/config.json and logged once in the
`start` event. With --resume and no --config, OUT/config.json is the run file, so `--out DIR --resume`
alone continues a run (flags given again override it, e.g. a larger --steps).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, field, fields, make_dataclass
from pathlib import Path

from . import methods
from .config import PRESETS, LlamaConfig, MethodConfig, _preset_name, default_rank, load_model_config, method_defaults
from .dist import resolve_device
from .errors import ConfigError
from .limits import RUN as LIMITS, max_threads, read_json_file
from .schema import OPTIONS


_PY_TYPES = {"str": "str", "int": "int", "float": "float", "bool": "bool"}


def _type_of(o: dict) -> str:
    t = _PY_TYPES[o["type"]]
    return f"{t} | None" if o.get("nullable") else t


class _RunConfigMethods:
    def method_config(self) -> MethodConfig:
        return MethodConfig(
            method=self.method, rank=self.rank, delta=self.delta,
            alpha=self.alpha, index_dtype=self.index_dtype,
            relora_reset_every=self.relora_reset_every, relora_reset_ratio=self.relora_reset_ratio,
            galore_update_gap=self.galore_update_gap, galore_scale=self.galore_scale,
            apollo_update_gap=self.apollo_update_gap, apollo_scale=self.apollo_scale,
            support_update_every=self.support_update_every, support_update_fraction=self.support_update_fraction)

    def model_config(self) -> LlamaConfig:
        return load_model_config(self.model)


# One field per option of run_schema.json, in its order, with its default (None = resolved later by
# fill_defaults from the preset, the device or the machine). The schema is the only place an option
# is named; the flags (--batch-size for batch_size), the run file's keys and the checks follow it.
RunConfig = make_dataclass(
    "RunConfig", [(n, _type_of(o), field(default=o["default"])) for n, o in OPTIONS.items()],
    bases=(_RunConfigMethods,))
RunConfig.__module__ = __name__
RunConfig.__doc__ = "A training run's settings: typed defaults -> run file (--config) -> command-line flags."

FIELDS = set(OPTIONS)
CHOICES = {n: tuple(o["choices"]) for n, o in OPTIONS.items() if "choices" in o}
# The model/method/optimizer/batch subset `sltrain.measure` takes (what its tensors depend on).
MODEL_FLAGS = tuple(n for n, o in OPTIONS.items() if o.get("measure"))
HELP = {n: o["help"] + (f" [{o['unit']}]" if "unit" in o else "") for n, o in OPTIONS.items()}


def add_flags(p: argparse.ArgumentParser, names=tuple(f.name for f in fields(RunConfig))) -> None:
    """One flag per RunConfig field (--batch-size for batch_size); unset flags stay absent."""
    for f in fields(RunConfig):
        if f.name not in names:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                           help=HELP.get(f.name))
            continue
        kind = {"int | None": int, "int": int, "float | None": float, "float": float}.get(f.type, str)
        p.add_argument(flag, dest=f.name, type=kind, choices=CHOICES.get(f.name), default=argparse.SUPPRESS,
                       metavar=f.name.upper(), help=HELP.get(f.name))


TYPES = {f.name: f.type for f in fields(RunConfig)}


def _typed(key: str, v, source: str):
    """Run-file values are checked against the field's type (the command line already parsed them)."""
    kind = TYPES[key]
    if v is None and "None" in kind:
        return v
    ok = {"bool": isinstance(v, bool), "str": isinstance(v, str),
          "int": isinstance(v, int) and not isinstance(v, bool),
          "float": isinstance(v, (int, float)) and not isinstance(v, bool)}[kind.split(" |")[0]]
    if not ok:
        raise ConfigError(f"{source}: {key} must be of type {kind}, got {v!r}")
    return float(v) if kind.startswith("float") else v


def _apply(cfg: RunConfig, values: dict, source: str) -> None:
    for k, v in values.items():
        key = k.replace("-", "_")
        if key not in FIELDS:
            raise ConfigError(f"{source}: unknown setting {k!r}")
        setattr(cfg, key, _typed(key, v, source))


def _read_run_file(path: Path) -> dict:
    raw = read_json_file(path, "--config")
    if not isinstance(raw, dict):
        raise ConfigError(f"--config {path}: must hold one JSON object of settings")
    return raw


def fill_defaults(cfg: RunConfig, world: int = 1) -> RunConfig:
    """Replaces every None by its resolved value (preset, device, machine)."""
    model_cfg = cfg.model_config()
    preset = _preset_name(cfg.model)
    is_preset = preset in PRESETS
    if is_preset:
        cfg.model = preset
        training = PRESETS[preset]["training"]
        md = method_defaults(preset, cfg.method)
    else:
        training = {"lr": 0.003, "steps": 1000, "warmup": 100, "seq_len": 256}
        md = {"rank": default_rank(model_cfg), "delta": 0.03, "alpha": 32.0}
    defaults = {
        "rank": md["rank"], "delta": md["delta"], "alpha": md["alpha"],
        "galore_update_gap": md.get("galore_update_gap", 200),
        "lr": methods.get(cfg.method).default_lr(training["lr"]),
        "steps": training["steps"], "seq_len": training["seq_len"],
    }
    for k, v in defaults.items():
        if getattr(cfg, k) is None:
            setattr(cfg, k, v)
    if cfg.warmup is None:
        cfg.warmup = training["warmup"] if cfg.steps == training["steps"] else cfg.steps // 10
    if cfg.relora_reset_every is None:
        cfg.relora_reset_every = max(1, min(1000, cfg.steps // 4))
    cfg.device = resolve_device(cfg.device)
    if cfg.precision is None:
        cfg.precision = "fp32" if cfg.device == "cpu" else "bf16"
    if cfg.num_threads is None:
        cfg.num_threads = min(4, os.cpu_count() or 1)
    if cfg.out is None:
        cfg.out = str(Path("runs") / f"{cfg.model if is_preset else 'model'}-{cfg.method}-"
                                     f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}")
    validate(cfg, model_cfg, world)
    return cfg


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise ConfigError(msg)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# The bound of each count, from limits.json: step counts share the one of --steps.
_STEP_COUNTS = ("steps", "warmup", "eval_every", "save_every", "keep_checkpoints", "relora_reset_every",
                "galore_update_gap")


def _check_bounds(cfg: RunConfig) -> None:
    """Every count has an upper bound: past it a run would exhaust memory or crash before training."""
    limits = {**{n: LIMITS["steps"] for n in _STEP_COUNTS}, "seed": LIMITS["seed"],
              **{n: LIMITS[n] for n in ("batch_size", "grad_accum", "seq_len", "eval_batches")}}
    hints = {"batch_size": "; reach a larger global batch with --grad-accum",
             "grad_accum": "; raise --batch-size or the number of processes instead"}
    for name, limit in limits.items():
        v = getattr(cfg, name)
        _check(isinstance(v, int) and not isinstance(v, bool) and v <= limit,
               f"{_flag(name)} {v} is above the limit of {limit}; use a smaller value{hints.get(name, '')}")
    _check(cfg.seed >= 0, f"--seed must be an integer >= 0, got {cfg.seed}")
    threads = max_threads()
    _check(cfg.num_threads <= threads,
           f"--num-threads {cfg.num_threads} is above the limit of {threads} ({LIMITS['num_threads_per_cpu']} per "
           f"CPU of this machine's {os.cpu_count() or 1}); use --num-threads {min(4, threads)} or another value "
           f"up to {threads}")


def validate(cfg: RunConfig, model_cfg: LlamaConfig, world: int = 1) -> None:
    for name, choices in CHOICES.items():
        _check(getattr(cfg, name) in choices, f"--{name.replace('_', '-')} {getattr(cfg, name)!r}: use one of {', '.join(choices)}")
    for name in ("steps", "batch_size", "grad_accum", "seq_len", "eval_batches", "num_threads"):
        _check(isinstance(getattr(cfg, name), int) and getattr(cfg, name) >= 1,
               f"--{name.replace('_', '-')} must be a positive integer, got {getattr(cfg, name)!r}")
    for name in ("warmup", "eval_every", "save_every", "keep_checkpoints"):
        _check(isinstance(getattr(cfg, name), int) and getattr(cfg, name) >= 0,
               f"--{name.replace('_', '-')} must be an integer >= 0, got {getattr(cfg, name)!r}")
    _check_bounds(cfg)
    _check(cfg.warmup < cfg.steps, f"--warmup ({cfg.warmup}) must be smaller than --steps ({cfg.steps})")
    _check(0 < cfg.lr <= LIMITS["lr"],
           f"--lr {cfg.lr} is outside (0, {LIMITS['lr']:g}]; typical peak rates are 1e-4 to 1e-2")
    _check(0.0 <= cfg.min_lr_ratio <= 1.0, f"--min-lr-ratio must be in [0, 1], got {cfg.min_lr_ratio}")
    _check(0 <= cfg.grad_clip < math.inf, f"--grad-clip must be a finite number >= 0 (0 = off), got {cfg.grad_clip}")
    _check(0 <= cfg.weight_decay <= LIMITS["weight_decay"],
           f"--weight-decay {cfg.weight_decay} is outside [0, {LIMITS['weight_decay']:g}]; typical values are 0 to 0.1")
    _check(cfg.out.strip() != "", f"--out {cfg.out!r} is empty; give a run directory, or leave --out out for "
                                  "runs/<model>-<method>-<time>")
    _check(cfg.seq_len <= model_cfg.max_position_embeddings,
           f"--seq-len {cfg.seq_len} is longer than the model's max_position_embeddings "
           f"({model_cfg.max_position_embeddings}); use --seq-len {model_cfg.max_position_embeddings} or less")
    _check(not (cfg.per_layer and world > 1),
           "--per-layer updates run inside backward hooks and cannot be combined with DDP; use one process")
    _check(not (cfg.per_layer and cfg.grad_clip > 0),
           "--grad-clip needs all gradients at once; per-layer updates free each one in backward: drop one of them")
    cfg.method_config().validate(model_cfg)
    methods.get(cfg.method).validate_run(cfg)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit(2) with usage only; we want one error event too
        raise ConfigError(f"{message} (see --help)")


def resolve(argv: list[str] | None = None, world: int = 1) -> tuple[RunConfig, bool]:
    """Parses the command line; returns (resolved config, resume flag). Raises ConfigError."""
    p = _Parser(prog="python -m sltrain.train", description="Pretrain a LLaMA model with SLTrain.")
    p.add_argument("--config", type=Path, default=None, metavar="RUN.json", help="run file (JSON of settings)")
    p.add_argument("--resume", action="store_true", help="continue from OUT's newest valid checkpoint")
    add_flags(p)
    args = vars(p.parse_args(argv))
    run_file, resume = args.pop("config"), args.pop("resume")
    cfg = RunConfig()
    if run_file is None and resume and args.get("out") and (Path(args["out"]) / "config.json").is_file():
        run_file = Path(args["out"]) / "config.json"
    if run_file is not None:
        _apply(cfg, _read_run_file(run_file), f"--config {run_file}")
    _apply(cfg, args, "command line")
    return fill_defaults(cfg, world), resume


def as_dict(cfg: RunConfig) -> dict:
    return asdict(cfg)


def from_dict(d: dict) -> RunConfig:
    cfg = RunConfig()
    _apply(cfg, d, "config")
    return cfg


def to_json(cfg: RunConfig) -> str:
    return json.dumps(asdict(cfg), indent=2) + "\n"
