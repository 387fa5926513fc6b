"""Checkpoints of every --sharding mode, with checkpoint.py's guarantees (temp folder, SHA-256
manifest written last, one rename, torn-checkpoint fallback).

ddp and zero1 hold whole weights on every rank: rank 0 writes one state.pt (zero1 first gathers the
optimizer states on rank 0). The FSDP modes (zero2, zero3, fsdp) write with
torch.distributed.checkpoint: every rank writes its own shards of the weights and optimizer states
into the temp folder, rank 0 adds state.pt (step, data position, RNG, config; its "model" and
"optimizer" entries name the format) and the manifest over every file. torch.distributed.checkpoint
reshards on load, so a checkpoint of 2 processes resumes on 1 and back. All ranks must see the same
run folder (one machine, or a shared filesystem across nodes).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as tdist

from . import checkpoint, dist, sharding
from .errors import ConfigError

SHARDED = "torch.distributed.checkpoint"  # the value of state.pt's model/optimizer entries


def _model_and_optimizer(model, bundle):
    from torch.distributed.checkpoint.state_dict import get_state_dict

    (opt,) = bundle.optimizers  # per-layer (one optimizer per weight) is refused under FSDP
    return get_state_dict(model, opt)


def save(ckpt_dir: Path, step: int, state: dict, model, bundle, mode: str, d, keep: int) -> Path | None:
    """Called by every rank with the same `state` (no model or optimizer in it); returns the
    step-N folder on rank 0, None on the others."""
    if not sharding.is_fsdp(mode):
        sharding.consolidate(bundle, mode)
        if not d.main:
            return None
        return checkpoint.save(ckpt_dir, step, {**state, "model": model.state_dict(),
                                                "optimizer": bundle.state_dict()}, keep)
    import torch.distributed.checkpoint as dcp

    tmp = checkpoint.begin(ckpt_dir, step) if d.main else ckpt_dir / f".tmp-step-{step}"
    tdist.barrier()  # the temp folder exists before any rank writes into it
    model_sd, optim_sd = _model_and_optimizer(model, bundle)
    dcp.save({"model": model_sd, "optimizer": optim_sd}, checkpoint_id=str(tmp))
    tdist.barrier()  # every rank's shards are on disk before the manifest vouches for them
    # Ranks on other machines write into their own copy of the path unless it is shared: every rank
    # learns it here, so all stop together instead of waiting for rank 0 at the next collective.
    missing = [r for r in range(d.world) if not any(tmp.glob(f"__{r}_*.distcp"))] if d.main else []
    if dist.all_reduce_max(torch.tensor([float(len(missing))], device=d.device), d).item() > 0:
        raise ConfigError(f"the sharded checkpoint in {tmp} lacks the shards of rank(s) "
                          f"{', '.join(map(str, missing)) or 'of other machines'}: --sharding "
                          f"{mode} across machines needs --out on a filesystem every machine shares (NFS, "
                          "Lustre); use one, or --sharding zero1 / ddp, whose checkpoints rank 0 writes alone")
    if not d.main:
        return None
    return checkpoint.commit(ckpt_dir, step, tmp, {**state, "model": SHARDED, "optimizer": SHARDED,
                                                   "world_size": d.world}, keep)


def load(path: Path, st: dict, model, bundle, mode: str) -> None:
    """Loads a verified checkpoint's weights and optimizer states into this run (any world size);
    CheckpointError when it was written in the other format."""
    sharded = st["model"] == SHARDED
    if sharded != sharding.is_fsdp(mode):
        saved = "an FSDP (zero2, zero3, fsdp)" if sharded else "a ddp or zero1"
        raise checkpoint.CheckpointError(
            f"it was saved by {saved} run; this run is --sharding {mode}: resume with the sharding it was "
            f"saved with (--sharding {st['config'].get('sharding', 'ddp')})")
    if not sharded:
        model.load_state_dict(st["model"])
        bundle.load_state_dict(st["optimizer"])
        return
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_state_dict

    (opt,) = bundle.optimizers
    model_sd, optim_sd = _model_and_optimizer(model, bundle)  # the shapes this world size loads into
    target = {"model": model_sd, "optimizer": optim_sd}
    dcp.load(target, checkpoint_id=str(path))
    set_state_dict(model, opt, model_state_dict=target["model"], optim_state_dict=target["optimizer"])


def load_whole(path: Path, st: dict, model) -> None:
    """Loads a verified checkpoint's weights, whole, into an unsharded model in this one process
    (export): a sharded checkpoint's shards of every rank are read and joined, no process group needed."""
    if st["model"] != SHARDED:
        model.load_state_dict(st["model"])
        return
    import torch.distributed.checkpoint as dcp

    target = {"model": model.state_dict()}
    dcp.load(target, checkpoint_id=str(path), no_dist=True)
    model.load_state_dict(target["model"])
