"""`python -m sltrain.measure --timeline`: the memory of one training step over time, measured.

The planner's timeline (src/core/planner/timeline.ts) names the moments of a step — each block's
forward, the loss, the head's and each block's backward, the optimizer step — and predicts the bytes
alive at each, by category. This module runs the same step on the engine's own model and records,
at each of those moments, what is really alive:

  weights, indices, buffers   the parameters and buffers (fixed for the run)
  optimizer_states            every tensor in the optimizer state
  gradients                   the parameters' .grad tensors alive at that moment
  activations                 the storages autograd saved for backward that are still alive (found
                              with saved_tensors_hooks, followed by weak references, so a storage
                              backward has freed, or the engine released to recompute, counts 0)
  allocated                   CUDA only: torch.cuda.memory_allocated(), everything the allocator holds
                              (the transients the tensor categories above do not see)

The first step creates the optimizer states (and GaLore's first projection); the second is recorded.
Torch's own MemTracker would do the storage tracking, but it cannot read the storage of the sparse
CSR tensors SLTrain's products build.
"""
from __future__ import annotations

import torch
from torch.multiprocessing.reductions import StorageWeakRef

from .optim import optimizer_state_bytes

CATEGORIES = ("weights", "optimizer_states", "indices", "buffers", "gradients", "activations")


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class SavedStorages:
    """Weak references to every storage autograd saves (parameters and buffers excluded)."""

    def __init__(self, model: torch.nn.Module):
        self.exclude = {t.untyped_storage().data_ptr() for t in list(model.parameters()) + list(model.buffers())}
        self.refs: dict[int, StorageWeakRef] = {}

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        if t.layout == torch.strided:
            storage = t.untyped_storage()
            if storage.data_ptr() not in self.exclude:
                ref = StorageWeakRef(storage)
                self.refs.setdefault(ref.cdata, ref)
        return t

    def live_bytes(self) -> int:
        total = 0
        for cdata, ref in list(self.refs.items()):
            if ref.expired():
                del self.refs[cdata]
                continue
            total += torch.UntypedStorage._new_with_weak_ptr(cdata).nbytes()
        return total

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)


class Recorder:
    """Takes one reading per event; the hooks that call it are registered by `record_step`."""

    def __init__(self, model, opt, device: torch.device):
        self.model, self.opt, self.device = model, opt, device
        buffers = dict(model.named_buffers())
        self.fixed = {"weights": sum(_nbytes(p) for p in model.parameters()),
                      "indices": sum(_nbytes(t) for n, t in buffers.items() if n.endswith("indices")),
                      "buffers": sum(_nbytes(t) for n, t in buffers.items() if not n.endswith("indices"))}
        self.saved = SavedStorages(model)
        self.events: list[dict] = []

    def __call__(self, name: str, phase: str, module: str) -> None:
        grads = {p.grad.untyped_storage().data_ptr(): _nbytes(p.grad)
                 for p in self.model.parameters() if p.grad is not None}
        values = {**self.fixed, "optimizer_states": optimizer_state_bytes(self.opt),
                  "gradients": sum(grads.values()), "activations": self.saved.live_bytes()}
        allocated = torch.cuda.memory_allocated(self.device) if self.device.type == "cuda" else None
        self.events.append({"name": name, "phase": phase, "module": module,
                            "bytes": {k: values[k] for k in CATEGORIES}, "allocated": allocated})


def _hooks(model, record: Recorder) -> list:
    inner = model.model
    handles = [inner.embed_tokens.register_forward_hook(
        lambda *_: record("forward.embed_tokens", "forward", "model.embed_tokens"))]
    for i, layer in enumerate(inner.layers):
        name = f"model.layers.{i}"
        handles.append(layer.register_forward_hook(lambda *_, i=i, name=name: record(f"forward.layers.{i}", "forward", name)))
        handles.append(layer.register_full_backward_hook(
            lambda *_, i=i, name=name: record(f"backward.layers.{i}", "backward", name)))
    handles.append(model.lm_head.register_full_backward_pre_hook(lambda *_: record("backward.loss", "backward", "lm_head")))
    handles.append(model.lm_head.register_full_backward_hook(lambda *_: record("backward.lm_head", "backward", "lm_head")))
    return handles


def record_step(model, opt, x, labels, autocast, device: torch.device, per_layer: bool) -> list[dict]:
    """Runs one training step (the caller ran one before it) and returns its events in order."""
    record = Recorder(model, opt, device)
    opt.zero_grad(set_to_none=True)
    opt.begin_update(1)
    record("step.start", "start", "")
    handles = _hooks(model, record)
    try:
        with record.saved.hooks(), autocast:
            loss = model(x, labels)[1]  # the logits are not kept: the training loop drops them too
        record("forward.loss", "forward", "lm_head")
        # The embedding's gradient arrives last; its input needs none, so no module hook fires after it.
        # Tied to the head, autograd sums both parts before storing it: .grad shows it only here.
        handles.append(model.model.embed_tokens.weight.register_post_accumulate_grad_hook(
            lambda _: record("backward.embed_tokens", "backward", "model.embed_tokens")))
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    opt.step()
    record("optimizer.per_layer" if per_layer else "optimizer.step", "optimizer", "")
    return record.events
