"""Process-group setup for torchrun (DDP, ZeRO, FSDP; sharding.py wraps the model): nccl on GPUs, gloo on CPU. Multi-node runs only need
torchrun's own rendezvous flags; the engine reads RANK / LOCAL_RANK / WORLD_SIZE from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import ConfigError


@dataclass(frozen=True)
class Dist:
    rank: int
    local_rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def resolve_device(spec: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible else 'cpu'; validates explicit choices."""
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {spec}: no CUDA GPU is visible; use --device cpu")
        return spec
    if spec in ("cpu", "mps"):
        return spec
    raise ConfigError(f"--device {spec!r}: use auto, cpu, cuda or cuda:N")


def setup(device: str, group_of_one: bool = False) -> Dist:
    """Joins the torchrun process group when WORLD_SIZE > 1 and picks this rank's device.
    group_of_one: one process still gets a group (ZeRO and FSDP are written as collectives), held in
    an in-process store, so no port is opened."""
    world = world_size()
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local if world > 1 else (dev.index or 0))
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        if world > 1:
            dist.init_process_group(backend=backend)
        elif group_of_one:
            dist.init_process_group(backend=backend, store=dist.HashStore(), rank=0, world_size=1)
    return Dist(rank, local, world, dev)


def all_reduce_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.world > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_max(t: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.world > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def gather_objects(obj, d: Dist) -> list:
    """Every rank's `obj` (picklable), in rank order, on every rank."""
    if d.world == 1:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.world > 1:
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
