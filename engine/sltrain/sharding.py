"""--sharding: how a run divides its state over the processes, on PyTorch's own distributed engine.

    ddp    every rank holds weights, gradients and optimizer states (DistributedDataParallel)
    zero1  DDP for the gradients, torch's ZeroRedundancyOptimizer for the states (each rank steps
           the parameters it owns, then broadcasts them)
    zero2  FSDP2 `fully_shard` per decoder block and the root, not resharded after forward:
           weights stay gathered from forward to backward, gradients and states are sharded
    zero3  FSDP2 `fully_shard` per decoder block and the root, resharded after forward:
    fsdp   weights, gradients and states all sharded (two names for one layout, as the planner has)

Under FSDP2 every parameter (SLTrain's factors A, B and its sparse values too) is a DTensor sharded
on dim 0; the fixed support is a buffer, which fully_shard never shards or gathers, so each rank
keeps its own identical copy. During a block's forward and backward FSDP swaps in the gathered
full tensors, so SLTrain's autograd function sees plain tensors.

Every mode but ddp needs a process group, so one process runs it too (a group of one), and a
checkpoint written by one process resumes on two and back (see dist_checkpoint.py).
"""
from __future__ import annotations

import inspect
from contextlib import nullcontext

import torch
from torch import nn

from . import methods, schema
from .errors import ConfigError

MODES = schema.choices("sharding")
FSDP_MODES = ("zero2", "zero3", "fsdp")
RESHARD_AFTER_FORWARD = {"zero2": False, "zero3": True, "fsdp": True}

# What cannot run under a mode, checked before the run starts: (the flag it refuses, or a false value when
# cfg does not use it; the modes; why; what to use instead). The message names the combination. A
# method's own limits (ReLoRA's merge, SLTrain's moving support) are in its validate_run hook.
REFUSED = (
    (lambda c: "--per-layer" if c.per_layer else None, ("zero1", *FSDP_MODES),
     "per-layer updates step each weight inside backward, before ZeRO or FSDP has reduced its gradient",
     "use --sharding ddp on one process, or drop --per-layer"),
    (lambda c: _projects(c) and f"--method {c.method}", FSDP_MODES,
     "its optimizer projects each weight's whole gradient (GaLore's SVD, APOLLO's random projection of the "
     "full matrix) and FSDP gives each rank only a shard of it",
     "use --sharding zero1 (optimizer states sharded, gradients whole) or ddp"),
    (lambda c: "--optimizer adam8bit" if c.optimizer == "adam8bit" else None, ("zero1", *FSDP_MODES),
     "bitsandbytes' 8-bit Adam quantises each whole local tensor and is not a ZeRO or FSDP optimizer",
     "use --optimizer adamw with this --sharding, or --sharding ddp"),
)


def check(cfg) -> None:
    """Refuses a combination the mode cannot train (ConfigError: exit 2 before anything is written)."""
    mode = cfg.sharding
    if mode not in MODES:
        raise ConfigError(f"--sharding {mode!r}: use one of {', '.join(MODES)}")
    for flag_of, modes, why, instead in REFUSED:
        if mode in modes and (flag := flag_of(cfg)):
            raise ConfigError(f"--sharding {mode} with {flag}: {why}; {instead}")


def _projects(cfg) -> bool:
    """The method brings its own optimizer, which works on each weight's whole gradient."""
    return methods.get(cfg.method).optimizer_class(cfg.optimizer) is not None


def needs_group(mode: str) -> bool:
    """ZeRO and FSDP are collectives even on one process: they run in a process group of one."""
    return mode != "ddp"


def is_fsdp(mode: str) -> bool:
    return mode in FSDP_MODES


def _mp_policy(precision: str):
    from torch.distributed.fsdp import MixedPrecisionPolicy

    if precision == "mixed":
        # fp32 master shards gathered as they are and reduced in fp32; bf16 autocast casts per op, as it
        # does on one process. Gathering in bf16 would also run norms, residuals and the loss in bf16:
        # another training than --precision mixed on one GPU, with other activations.
        return MixedPrecisionPolicy(param_dtype=None, reduce_dtype=torch.float32)
    if precision == "bf16":  # pure bf16 (the papers): gathered and reduced in bf16
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.bfloat16)
    return MixedPrecisionPolicy()


def wrap(model: nn.Module, mode: str, precision: str, d) -> nn.Module:
    """The module the training loop calls. FSDP modes shard `model` in place (it stays the module
    that state_dict, evaluation and export see); ddp/zero1 wrap it in DDP with more than one process."""
    if is_fsdp(mode):
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(d.device.type, (d.world,))
        kw = dict(mesh=mesh, reshard_after_forward=RESHARD_AFTER_FORWARD[mode], mp_policy=_mp_policy(precision))
        for block in model.model.layers:
            fully_shard(block, **kw)
        fully_shard(model, **kw)  # the root: embeddings, final norm and head (tied weights stay together)
        return model
    if d.world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    # Buffers (SLTrain supports) are identical on every rank by construction: no per-step broadcast.
    return DDP(model, device_ids=[d.device.index] if d.device.type == "cuda" else None, broadcast_buffers=False)


def shard_optimizer(bundle, mode: str):
    """zero1: the bundle's optimizer becomes torch's ZeroRedundancyOptimizer over the same groups,
    class and hyperparameters, so each rank keeps the states of the parameters it owns."""
    if mode != "zero1":
        return bundle
    from torch.distributed.optim import ZeroRedundancyOptimizer

    (inner,) = bundle.optimizers  # per-layer (one optimizer per weight) is refused under zero1
    groups = [dict(g) for g in inner.param_groups]
    # defaults may hold keys the class sets itself (AdamW's decoupled_weight_decay): pass what it takes.
    takes = inspect.signature(type(inner).__init__).parameters
    hp = {k: v for k, v in inner.defaults.items() if k in takes}
    bundle.optimizers = [ZeroRedundancyOptimizer(groups, optimizer_class=type(inner), **hp)]
    return bundle


def no_sync(module: nn.Module, mode: str, world: int, last: bool):
    """Accumulating micro-batches: gradients are reduced once, on the last one."""
    if last:
        return nullcontext()
    if is_fsdp(mode):
        return _FsdpNoSync(module)
    return module.no_sync() if world > 1 else nullcontext()


class _FsdpNoSync:
    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.module.set_requires_gradient_sync(False)

    def __exit__(self, *exc):
        self.module.set_requires_gradient_sync(True)


def full_value(x) -> float:
    """A norm computed over sharded gradients is a DTensor: its value is the global one."""
    return float(x.full_tensor() if hasattr(x, "full_tensor") else x)


def consolidate(bundle, mode: str) -> None:
    """zero1: gather every rank's optimizer states on rank 0 before it saves (a collective)."""
    if mode == "zero1":
        for opt in bundle.optimizers:
            opt.consolidate_state_dict(to=0)


def local_bytes(tensors) -> int:
    """Bytes this rank holds for `tensors`: a DTensor counts its local shard's storage (FSDP pads
    every shard to the same length, and the allocator holds the padding too); a storage shared by
    several tensors counts once."""
    seen, total = set(), 0
    for t in tensors:
        if t is None:
            continue
        if hasattr(t, "to_local"):
            s = t.to_local().untyped_storage()
            if s._cdata not in seen:
                seen.add(s._cdata)
                total += s.nbytes()
        else:
            total += t.numel() * t.element_size()
    return total


def local_state_bytes(bundle) -> int:
    """Bytes of the optimizer states this rank holds (zero1's ZeroRedundancyOptimizer keeps them in
    its local optimizer, FSDP's are DTensor shards)."""
    def tensors(obj):
        if isinstance(obj, torch.Tensor):
            yield obj
        elif isinstance(obj, dict):
            for v in obj.values():
                yield from tensors(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                yield from tensors(v)

    return local_bytes(t for opt in bundle.optimizers for st in getattr(opt, "optim", opt).state.values()
                       for t in tensors(st))
