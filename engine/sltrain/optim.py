"""Optimizer builder: AdamW / 8-bit AdamW / GaLore, whole-model or per-layer, behind one bundle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from . import methods, schema
from .config import MethodConfig
from .errors import ConfigError, MissingDependency

OPTIMIZERS = schema.choices("optimizer")
IMPLS = ("auto", "foreach", "fused", "for")


def import_bitsandbytes(feature: str):
    try:
        import bitsandbytes
    except ImportError:
        raise MissingDependency(f"bitsandbytes is required for {feature}: pip install bitsandbytes") from None
    return bitsandbytes


class OptimizerBundle:
    """The optimizer(s) of one run behind one interface.

    Whole-model mode (per_layer=False): the loop runs its micro-batches' backward passes, then
    `step()` and `zero_grad()`.

    Per-layer mode (per_layer=True): every parameter has its own optimizer, stepped from its
    post-accumulate-grad hook during backward, after which its gradient is dropped, so only the
    gradients in flight are alive. Call `begin_update(n)` before the first micro-batch of every
    update that accumulates n micro-batches: each parameter then steps once, on its n-th gradient
    (the last micro-batch). `step()` is a no-op; `zero_grad()` only clears stray gradients.
    Gradient clipping is impossible in this mode (no moment holds all gradients).

    `param_groups` lists every group of every optimizer (the same dicts), so an LR scheduler sets
    "lr" on all of them.
    """

    def __init__(self, optimizers: list[torch.optim.Optimizer], per_layer: bool = False):
        self.optimizers = optimizers
        self.per_layer = per_layer
        self._accum_steps = 1
        self._grads_seen: dict[int, int] = {}
        self._hooks = []
        if per_layer:
            for opt in optimizers:
                for p in (p for g in opt.param_groups for p in g["params"]):
                    self._hooks.append(p.register_post_accumulate_grad_hook(self._hook_for(opt)))

    def _hook_for(self, opt: torch.optim.Optimizer) -> Callable[[Tensor], None]:
        def hook(p: Tensor) -> None:
            seen = self._grads_seen.get(id(p), 0) + 1
            if seen < self._accum_steps:
                self._grads_seen[id(p)] = seen
                return
            self._grads_seen[id(p)] = 0
            opt.step()
            p.grad = None

        return hook

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    def begin_update(self, accum_steps: int) -> None:
        """Start an update of `accum_steps` micro-batches (per-layer mode counts gradients by it)."""
        if accum_steps < 1:
            raise ConfigError(f"gradient accumulation steps must be >= 1, got {accum_steps}")
        self._accum_steps = accum_steps
        self._grads_seen.clear()

    def step(self) -> None:
        if not self.per_layer:
            for opt in self.optimizers:
                opt.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"per_layer": self.per_layer, "optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        if sd.get("per_layer") != self.per_layer or len(sd["optimizers"]) != len(self.optimizers):
            raise ConfigError(
                "optimizer checkpoint does not match this run (per-layer mode or parameter set differs); "
                "resume with the same --method, --optimizer and --per-layer settings"
            )
        for opt, s in zip(self.optimizers, sd["optimizers"], strict=True):
            opt.load_state_dict(s)

    def remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()


def _factory(method_cfg: MethodConfig, optimizer: str, impl: str, **hp) -> Callable[[list], torch.optim.Optimizer]:
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    if impl not in IMPLS:
        raise ConfigError(f"optimizer impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    own = methods.get(method_cfg.method).optimizer_class(optimizer)
    if own is not None:
        return lambda groups: own(groups, **hp)
    if optimizer == "adam8bit":
        bnb = import_bitsandbytes("--optimizer adam8bit")
        return lambda groups: bnb.optim.AdamW8bit(groups, **hp)
    flags = {"auto": {}, "foreach": {"foreach": True}, "fused": {"fused": True}, "for": {"foreach": False}}[impl]
    return lambda groups: torch.optim.AdamW(groups, **hp, **flags)


def default_impl(device) -> str:
    """fused on CUDA (no state-sized temporaries in step(), which the planner assumes), else torch's pick."""
    return "fused" if torch.device(device).type == "cuda" else "auto"


def _distributed_world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def build_optimizer(
    model: nn.Module, method_cfg: MethodConfig, *, optimizer: str = "adamw", lr: float,
    weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999), eps: float | None = None,
    per_layer: bool = False, impl: str = "auto",
) -> OptimizerBundle:
    """Optimizer for a model built by `methods.build_model`; trainable parameters only.

    The method decides the parameter groups and may bring its own optimizer class (GaLore: projected
    Adam for the seven block linears' weights, plain Adam for the rest, in one optimizer). impl
    selects torch AdamW's kernel (ignored by 8-bit and GaLore optimizers).
    Weight decay (decoupled) applies to every trainable parameter. eps None takes the method's
    default (1e-8; GaLore's AdamW 1e-6, as galore-torch).
    """
    if per_layer and _distributed_world_size() > 1:
        raise ConfigError(
            "--per-layer cannot be combined with multi-GPU data parallelism (DDP needs all gradients "
            "for its all-reduce before any update); run on one GPU or drop --per-layer"
        )
    method = methods.get(method_cfg.method)
    eps = method.adam_eps(optimizer) if eps is None else eps
    make = _factory(method_cfg, optimizer, impl, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = method.param_groups(named, method_cfg)
    if not per_layer:
        return OptimizerBundle([make(groups)])
    per_param = [make([{**g, "params": [p]}]) for g in groups for p in g["params"]]
    return OptimizerBundle(per_param, per_layer=True)


def _tensors(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def optimizer_state_bytes(bundle: OptimizerBundle) -> int:
    """Bytes of every optimizer state tensor (moments, step tensors, projectors, 8-bit absmax).

    A tensor shared between parameters (bitsandbytes' quantisation maps) counts once.
    """
    seen: set[tuple] = set()
    total = 0
    # GaLoreAdamW8bit keeps its 8-bit moments in an inner bitsandbytes optimizer.
    opts = [o for opt in bundle.optimizers for o in (opt, *getattr(opt, "inner_optimizers", ()))]
    for opt in opts:
        for state in opt.state.values():
            for t in _tensors(state):
                key = (t.device, t.data_ptr(), t.numel(), t.dtype)
                if t.numel() and key in seen:
                    continue
                seen.add(key)
                total += t.numel() * t.element_size()
    return total
