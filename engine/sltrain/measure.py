"""`python -m sltrain.measure --json`: measured memory of one training setup, in exact tensor bytes.

Builds the model and optimizer exactly as `sltrain.train` does (same --model --method --rank --delta
--alpha --index-dtype --optimizer --per-layer --batch-size --seq-len --precision --grad-ckpt --device
...), runs two real training steps on random tokens and prints one JSON object. The planner
(TypeScript) is checked against these numbers byte for byte, so the field names are a contract:

  v                      1 (schema version)
  device                 "cpu" | "cuda:0" ...
  config                 the resolved settings that matter for memory
  params.total           parameter elements (frozen ones included, tied weights once)
  params.trainable       elements with requires_grad
  params.sparse_nonzeros SLTrain support size (sum of `values` elements)
  bytes.weights          sum of parameter bytes (numel * element size)
  bytes.gradients        sum of param.grad bytes after backward, before the optimizer step; with
                         --per-layer the largest single gradient (each one is consumed and freed by
                         its own optimizer step inside backward) and gradients_mode says so
  gradients_mode         "all" | "per_layer_max"
  bytes.optimizer_states every tensor in the optimizer state after the first step (moments, step
                         tensors, GaLore projectors, 8-bit absmax/quantisation maps once)
  bytes.projectors       GaLore projector tensors alone (also inside optimizer_states)
  bytes.optimizer_states_excluding_projectors   optimizer_states - projectors
  bytes.indices          SLTrain support index buffers
  bytes.buffers          all other buffers
  bytes.saved_activations            unique storages saved for backward during one forward
                         (torch.autograd.graph.saved_tensors_hooks), de-duplicated by storage
                         address, parameters and buffers excluded
  bytes.saved_activations_by_layer   {"embed", "layers.0" .. "layers.L-1", "head"}: the same bytes by
                         the module that first saved each storage ("head" = final norm, lm_head, loss)
  bytes.saved_activations_logits_loss  the "head" part (logits and cross-entropy)
  world_size, ranks      under torchrun (more than one process): every rank's own `bytes`, rank 0's
                         first; with --sharding each counts the shards it holds (DTensor storages,
                         FSDP's padding included) and saved_activations leave out FSDP's gathered weights
  max_memory_allocated   CUDA only (null elsewhere): torch.cuda.max_memory_allocated over the second
                         step, after reset_peak_memory_stats (the first step creates optimizer states
                         and runs GaLore's first SVD)
"""
from __future__ import annotations

import json
from pathlib import Path
import sys
from collections.abc import Callable

import torch

from . import dist, runconfig, sharding
from .config import LlamaConfig, MethodConfig, linear_shapes
from .errors import EXIT_BAD_INPUT, ConfigError, MissingDependency
from . import memtimeline, methods
from .methods import build_model
from .optim import build_optimizer, default_impl, optimizer_state_bytes

DTYPES = {"bf16": torch.bfloat16, "mixed": torch.float32, "fp32": torch.float32}


def param_counts(model: torch.nn.Module) -> dict:
    """total / trainable parameter elements; sparse_nonzeros = SLTrain values (their support size)."""
    params = list(model.parameters())
    sparse = sum(m.values.numel() for m in model.modules()
                 if getattr(m, "index_layout", None) and isinstance(getattr(m, "values", None), torch.Tensor))
    return {"total": sum(p.numel() for p in params),
            "trainable": sum(p.numel() for p in params if p.requires_grad), "sparse_nonzeros": sparse}


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def projector_bytes(bundle) -> int:
    return sum(_nbytes(s["projector"]) for opt in bundle.optimizers for s in getattr(opt, "optim", opt).state.values()
               if isinstance(s.get("projector"), torch.Tensor))


class SavedActivations:
    """Counts the storages autograd saves for backward, attributed to the module saving them first.

    Sizes are read once forward is over (`by_layer`), so storages released after use and
    recomputed in backward (sltrain.remat) count zero, as they occupy nothing in between.
    """

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.exclude = {getattr(t, "_local_tensor", t).untyped_storage().data_ptr()
                        for t in list(model.parameters()) + list(model.buffers())}
        # Keyed by the storage object, not its address: a released storage's address can be reused.
        self.storages: dict[int, tuple[torch.UntypedStorage, str]] = {}
        self.names: list[str] = ["embed"]
        self.current = "embed"
        self.handles = []
        for i, layer in enumerate(model.model.layers):
            self.names.append(f"layers.{i}")
            self.handles.append(layer.register_forward_pre_hook(self._enter(f"layers.{i}")))
        self.names.append("head")
        self.handles.append(model.model.norm.register_forward_pre_hook(self._enter("head")))

    def _enter(self, name: str):
        def hook(*_):
            self.current = name
        return hook

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in self.exclude and storage._cdata not in self.storages \
                and storage._cdata not in self._gathered():
            self.storages[storage._cdata] = (storage, self.current)
        return t

    def _gathered(self) -> set[int]:
        """Under FSDP a block's parameters are swapped for gathered full copies during its forward:
        weights, not activations, whoever saves them."""
        return {p.untyped_storage()._cdata for p in self.model.parameters() if not hasattr(p, "to_local")}

    @property
    def by_layer(self) -> dict[str, int]:
        out = dict.fromkeys(self.names, 0)
        for storage, name in self.storages.values():
            out[name] += storage.nbytes()
        return out

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


GIB = 2**30


def weight_elements(model_cfg: LlamaConfig, mcfg: MethodConfig) -> int:
    """Parameter elements the method's model holds, from the config alone (nothing is built)."""
    h, layers = model_cfg.hidden_size, model_cfg.num_hidden_layers
    n = model_cfg.vocab_size * h * (1 if model_cfg.tie_word_embeddings else 2) + (2 * layers + 1) * h
    n += layers * model_cfg.block_extra_elements()
    method = methods.get(mcfg.method)
    for _, o, i in linear_shapes(model_cfg):
        n += layers * method.linear_elements(o, i, mcfg)
    return n


def available_bytes(device: torch.device) -> int | None:
    """Free memory a new allocation can use: the GPU's free bytes; on the CPU the smaller of the
    kernel's MemAvailable and what the cgroup (container) limit leaves. None when unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    found = []
    try:
        with open("/proc/meminfo") as f:
            found += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            if limit != "max":
                found.append(int(limit) - int(f.read()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_fits(cfg) -> None:
    """Refuses a setup whose weights, logits and token batches alone exceed the free memory: a
    lower bound (gradients, optimizer states and activations come on top), so nothing that fits is
    refused, and an impossible model fails in milliseconds instead of swapping the machine to death."""
    device = torch.device(cfg.device)
    model_cfg, mcfg = cfg.model_config(), cfg.method_config()
    weights = weight_elements(model_cfg, mcfg) * (2 if cfg.precision == "bf16" else 4)
    if sharding.is_fsdp(getattr(cfg, "sharding", "ddp")):  # each process holds its shard of the weights
        weights = -(-weights // dist.world_size())
    logits = cfg.batch_size * cfg.seq_len * model_cfg.vocab_size * (4 if cfg.precision == "fp32" else 2)
    tokens = (cfg.grad_accum + getattr(cfg, "eval_batches", 0)) * cfg.batch_size * cfg.seq_len * 16  # x, y int64
    need = weights + logits + (tokens if device.type == "cpu" else 0)
    free = available_bytes(device)
    if free is not None and need > free:
        raise ConfigError(
            f"--model {cfg.model} with --method {cfg.method}, --batch-size {cfg.batch_size} and --seq-len "
            f"{cfg.seq_len} needs at least {need / GIB:.1f} GiB on {device} (weights {weights / GIB:.1f}, logits "
            f"{logits / GIB:.1f}, token batches {tokens / GIB:.1f}) but {free / GIB:.1f} GiB is free; choose a "
            "smaller model, batch or sequence, or a device with more memory")


def measure(cfg, on_peak_step: Callable[[], None] | None = None, d=None, timeline: bool = False) -> dict:
    """on_peak_step: called once the peak statistics are reset, right before the measured step.
    d: this process's place in a torchrun group (dist.Dist); bytes are then this rank's own.
    timeline: also record a third step's memory at each of its events (memtimeline.py) as `timeline`."""
    device = torch.device(cfg.device) if d is None else d.device
    mcfg, model_cfg = cfg.method_config(), cfg.model_config()
    model = build_model(model_cfg, mcfg, seed=cfg.seed, device=device, dtype=DTYPES[cfg.precision])
    model.gradient_checkpointing = cfg.grad_ckpt
    fwd = model if d is None else sharding.wrap(model, cfg.sharding, cfg.precision, d)
    opt = sharding.shard_optimizer(
        build_optimizer(model, mcfg, optimizer=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                        betas=(0.9, 0.999), per_layer=cfg.per_layer, impl=default_impl(device)),
        cfg.sharding if d is not None else "ddp")
    g = torch.Generator().manual_seed(cfg.seed)
    x = torch.randint(0, model_cfg.vocab_size, (cfg.batch_size, cfg.seq_len), generator=g).to(device)
    labels = x.clone()  # a tensor of its own, as the data loader gives (the loss saves it)
    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16) if cfg.precision == "mixed"
                else torch.autocast(device_type=device.type, enabled=False))
    buffers = dict(model.named_buffers())
    out = {"v": 1, "device": str(device),
           "config": {k: getattr(cfg, k) for k in runconfig.MODEL_FLAGS if k not in ("lr", "num_threads")},
           "params": param_counts(model)}
    b = {"weights": sharding.local_bytes(model.parameters()),
         "indices": sum(_nbytes(t) for n, t in buffers.items() if n.endswith("indices")),
         "buffers": sum(_nbytes(t) for n, t in buffers.items() if not n.endswith("indices"))}

    acts = SavedActivations(model)
    opt.zero_grad(set_to_none=True)
    opt.begin_update(1)
    with acts.hooks(), autocast:
        _, loss = fwd(x, labels)
    acts.remove()
    by_layer = acts.by_layer  # read before backward, which refills released storages
    acts.storages.clear()  # it held references; the saved tensors must be freed as backward runs
    loss.backward()
    if cfg.per_layer:
        b["gradients"] = max(_nbytes(p) for p in model.parameters() if p.requires_grad)
    else:
        b["gradients"] = sharding.local_bytes(p.grad for p in model.parameters())
    opt.step()
    sharded = d is not None and cfg.sharding != "ddp"
    b["optimizer_states"] = sharding.local_state_bytes(opt) if sharded else optimizer_state_bytes(opt)
    b["projectors"] = projector_bytes(opt)
    b["optimizer_states_excluding_projectors"] = b["optimizer_states"] - b["projectors"]
    b["saved_activations"] = sum(by_layer.values())
    b["saved_activations_by_layer"] = by_layer
    b["saved_activations_logits_loss"] = by_layer["head"]

    peak = None
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    if on_peak_step is not None:
        on_peak_step()
    opt.zero_grad(set_to_none=True)
    opt.begin_update(1)
    with autocast:
        _, loss = fwd(x, labels)
    loss.backward()
    opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
    out.update(bytes=b, gradients_mode="per_layer_max" if cfg.per_layer else "all", max_memory_allocated=peak)
    if timeline:
        out["timeline"] = memtimeline.record_step(model, opt, x, labels, autocast, device, cfg.per_layer)
    return out


def main(argv: list[str] | None = None) -> int:
    p = runconfig._Parser(prog="python -m sltrain.measure", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the JSON object only (default: also a table)")
    p.add_argument("--timeline", action="store_true",
                   help="also record one step's memory at each of its events (forward and backward of each block, "
                        "the loss, the optimizer step) as \"timeline\"")
    p.add_argument("--config", type=Path, default=None, metavar="RUN.json",
                   help="run file (e.g. a plan's \"run\" from sltrain plan --json); flags given as well override it")
    runconfig.add_flags(p, runconfig.MODEL_FLAGS)
    try:
        args = vars(p.parse_args(argv))
        as_json, run_file, timeline = args.pop("json"), args.pop("config"), args.pop("timeline")
        cfg = runconfig.RunConfig()
        if run_file is not None:
            runconfig._apply(cfg, runconfig._read_run_file(run_file), f"--config {run_file}")
        runconfig._apply(cfg, args, "command line")
        cfg.out = "-"  # measure writes nothing
        cfg = runconfig.fill_defaults(cfg)  # bounds --num-threads before torch sees it
        torch.set_num_threads(cfg.num_threads)
        check_fits(cfg)
        sharding.check(cfg)
        d = dist.setup(cfg.device, group_of_one=sharding.needs_group(cfg.sharding))
        result = measure(cfg, d=d, timeline=timeline)
        if d.world > 1:  # one JSON object, from rank 0, with every rank's own bytes
            ranks = [None] * d.world
            torch.distributed.all_gather_object(ranks, result["bytes"])
            result.update(world_size=d.world, ranks=ranks)
        dist.shutdown()
        if not d.main:
            return 0
    except (ConfigError, MissingDependency) as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_BAD_INPUT
    except (MemoryError, torch.OutOfMemoryError) as e:  # past the lower bound check_fits knows
        sys.stderr.write(f"error: out of memory measuring this setup ({type(e).__name__}); use a smaller "
                         "--batch-size or --seq-len, --grad-ckpt, or a device with more memory\n")
        return EXIT_BAD_INPUT
    print(json.dumps(result, indent=None if as_json else 2))
    if not as_json:
        for k, v in result["bytes"].items():
            if isinstance(v, int):
                sys.stderr.write(f"{k:40s} {v:>16,d}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
