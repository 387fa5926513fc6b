"""Measured choice between SLTrainLinear's dense and factored paths, cached per machine.

Which path is faster depends on the machine and its state (the CPU's vector units, other jobs on
its cores, the GPU's sparse kernels), which no fixed cost constant captures. So once a run enables
measuring (`configure`, the engine does it at start), each distinct problem — shape, rank, support
size and layout, token count, dtype, autocast dtype, device — is timed on both paths, forward and
backward, on the layer's own input (WARMUP rounds, then REPEATS rounds alternating the order; the
median), and the faster path is kept for the rest of the run. Layers of equal shape share one
measurement. `layers.path_costs` stays the first guess: it decides while nothing is measured
(measuring off, inside torch.compile tracing) and is what the planner assumes.

Choices are cached in JSON files keyed by the machine (device name, torch version and, on the CPU,
the thread count): `<run folder>/PATH_CACHE_NAME` (a resume keeps the run's choices) and a user cache
(`$SLTRAIN_PATH_CACHE` if set, else `$XDG_CACHE_HOME/sltrain/` or `~/.cache/sltrain/`), so later runs
on the machine start with them. Entries of another torch version are dropped when the cache is
written; an unreadable cache is set aside (renamed `*.corrupt`) with a warning and measured anew.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path
from typing import Callable

import torch

# One event per distinct problem and run (docs/contracts.md); "low_rank" is r ("rank" is the process's).
EVENT = "layer_path"
EVENT_FIELDS = ("in_features", "out_features", "low_rank", "nnz", "tokens", "dtype", "device", "path", "source",
                "dense_ms", "factored_ms")
PATH_CACHE_NAME = "layer_paths.json"
PATH_CACHE_ENV = "SLTRAIN_PATH_CACHE"  # a file, overriding the user cache location
CACHE_FORMAT = 1
WARMUP, REPEATS = 1, 3

# Test hook: called with the path name after each timed run; the seconds it returns are added to that
# run's time (a test makes one path slow with it, independent of how loaded the machine is).
DELAY_HOOK: Callable[[str], float] | None = None


def user_cache_file() -> Path:
    env = os.environ.get(PATH_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sltrain" / PATH_CACHE_NAME


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: torch.device) -> dict:
    """What a measurement is valid for."""
    if device.type == "cuda":
        return {"device": torch.cuda.get_device_name(device), "torch": torch.__version__}
    return {"device": f"{device.type}:{_cpu_name()}", "torch": torch.__version__, "threads": torch.get_num_threads()}


def machine_id(m: dict) -> str:
    return "|".join(f"{k}={m[k]}" for k in sorted(m))


def problem_key(layer, x: torch.Tensor, cast: torch.dtype | None) -> str:
    tokens = x.numel() // layer.in_features
    return (f"{layer.in_features}x{layer.out_features} r{layer.rank} nnz{layer.nnz} {layer.index_layout} "
            f"T{tokens} {str(x.dtype).removeprefix('torch.')} cast={str(cast).removeprefix('torch.')}")


class _State:
    def __init__(self):
        self.enabled = False
        self.run_file: Path | None = None
        self.emit: Callable[..., None] | None = None
        self.warn: Callable[[str], None] | None = None
        self.choices: dict[tuple[str, str], dict] = {}  # (machine id, problem) -> cache entry
        self.in_run_file: set[tuple[str, str]] = set()
        self.loaded: set[str] = set()  # machine ids whose caches were read
        self.reported: set[tuple[str, str]] = set()  # one event per problem, not per layer


_state = _State()


def configure(run_dir: str | Path | None = None, emit: Callable[..., None] | None = None,
              warn: Callable[[str], None] | None = None, enabled: bool = True) -> None:
    """Turn measuring on (or off) for this process. emit(**fields) reports each choice (the engine's
    layer_path event); warn(message) reports an unreadable cache."""
    global _state
    _state = _State()
    _state.enabled = enabled
    _state.run_file = Path(run_dir) / PATH_CACHE_NAME if run_dir is not None else None
    _state.emit, _state.warn = emit, warn


def apply_option(model, option: str) -> bool:
    """The run's --layer-path: dense / factored fixes every SLTrain layer's path; measured and model
    leave them on auto. Returns whether auto measures."""
    from .layers import SLTrainLinear

    if option in ("dense", "factored"):
        for m in model.modules():
            if isinstance(m, SLTrainLinear):
                m.path = option
    return option == "measured"


def enabled() -> bool:
    return _state.enabled


def _warn(message: str) -> None:
    if _state.warn is not None:
        _state.warn(message)
    else:
        warnings.warn(message, stacklevel=3)


def _read(path: Path) -> dict:
    """A cache file's machines table; {} when absent; an unreadable file is set aside, with a warning."""
    try:
        raw = json.loads(path.read_text())
        if raw.get("format") != CACHE_FORMAT or not isinstance(raw.get("machines"), dict):
            raise ValueError(f"not a format-{CACHE_FORMAT} layer path cache")
        return raw["machines"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError) as e:
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
            kept = f"; kept as {aside}"
        except OSError:
            kept = ""
        _warn(f"layer path cache {path} is unreadable ({e}); ignored{kept}, the paths are measured again")
        return {}


def _write(path: Path, mid: str, m: dict, key: str, entry: dict) -> None:
    machines = _read(path)
    # Another torch version of this device measured different kernels: its entries are stale.
    machines = {k: v for k, v in machines.items()
                if not (isinstance(v, dict) and v.get("device") == m["device"] and v.get("torch") != m["torch"])}
    mine = machines.setdefault(mid, {**m, "choices": {}})
    mine.setdefault("choices", {})[key] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": CACHE_FORMAT, "machines": machines}, indent=1) + "\n")
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except OSError as e:
        _warn(f"could not write the layer path cache {path} ({e}); the choice holds for this run only")


def _files() -> list[Path]:
    return [p for p in (_state.run_file, user_cache_file()) if p is not None]


def _load(mid: str) -> None:
    if mid in _state.loaded:
        return
    _state.loaded.add(mid)
    for path in reversed(_files()):  # the run folder's choices win over the user cache's
        entry = _read(path).get(mid)
        choices = entry.get("choices") if isinstance(entry, dict) else None
        for key, c in (choices or {}).items():
            if isinstance(c, dict) and c.get("path") in ("dense", "factored"):
                _state.choices[(mid, key)] = c
                if path == _state.run_file:
                    _state.in_run_file.add((mid, key))


def _time_paths(layer, x: torch.Tensor) -> dict[str, float]:
    """Median fwd+bwd milliseconds of each path on detached copies of x and the layer's tensors."""
    from .layers import SLTrainMatmul

    dev = x.device
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    crow, idx = layer._support()
    # Identity hooks innermost: tensors the timing runs save stay out of any outer hooks (gradient
    # checkpointing's, which would otherwise find them in the forward and not in its recompute).
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        xi = x.detach().requires_grad_()
        params = [t.detach().requires_grad_() for t in (layer.A, layer.B, layer.values) if t is not None]
        A, B = params[0], params[1]
        values = params[2] if len(params) > 2 else None
        gen = torch.Generator(device=dev).manual_seed(0)  # the run's random streams stay untouched
        gy = None
        times: dict[str, list[float]] = {"dense": [], "factored": []}
        for i in range(WARMUP + REPEATS):
            order = ("dense", "factored") if i % 2 == 0 else ("factored", "dense")
            for path in order:
                sync()
                t0 = time.perf_counter()
                y = SLTrainMatmul.apply(xi, A, B, values, crow, idx, layer.scale, path == "factored")
                if gy is None:
                    gy = torch.randn(y.shape, generator=gen, device=dev, dtype=y.dtype)
                torch.autograd.grad(y, [xi, *params], gy)
                sync()
                elapsed = time.perf_counter() - t0 + (DELAY_HOOK(path) if DELAY_HOOK is not None else 0.0)
                if i >= WARMUP:
                    times[path].append(elapsed)
                del y
    return {p: 1e3 * statistics.median(t) for p, t in times.items()}


def choose(layer, x: torch.Tensor, cast: torch.dtype | None, guess: str) -> str:
    """The path for this layer and input: measured (or cached) when measuring is on, else `guess`."""
    if not _state.enabled or torch.compiler.is_compiling():
        return guess
    m = machine(x.device)
    mid, key = machine_id(m), problem_key(layer, x, cast)
    _load(mid)
    if (mid, key) in _state.choices:
        entry = _state.choices[(mid, key)]
        if _state.run_file is not None and (mid, key) not in _state.in_run_file:
            _write(_state.run_file, mid, m, key, entry)  # a resume keeps it even if the user cache goes
            _state.in_run_file.add((mid, key))
        _report(layer, x, cast, entry["path"], "cache", None)
        return entry["path"]
    ms = _time_paths(layer, x)
    path = min(ms, key=ms.get)
    entry = {"path": path, "dense_ms": round(ms["dense"], 4), "factored_ms": round(ms["factored"], 4),
             "repeats": REPEATS, "time": time.time()}
    _state.choices[(mid, key)] = entry
    for f in _files():
        _write(f, mid, m, key, entry)
    _state.in_run_file.add((mid, key))
    _report(layer, x, cast, path, "measured", ms)
    return path


def _report(layer, x, cast, path: str, source: str, ms: dict | None) -> None:
    if _state.emit is None:
        return
    mid, key = machine_id(machine(x.device)), problem_key(layer, x, cast)
    if (mid, key) in _state.reported:
        return
    _state.reported.add((mid, key))
    values = (layer.in_features, layer.out_features, layer.rank, layer.nnz, x.numel() // layer.in_features,
              str(cast or x.dtype).removeprefix("torch."), str(x.device), path, source,
              None if ms is None else round(ms["dense"], 4), None if ms is None else round(ms["factored"], 4))
    _state.emit(**dict(zip(EVENT_FIELDS, values, strict=True)))
