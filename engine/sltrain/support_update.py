"""SLTrain with a support that learns (RigL-style drop and regrow on the sparse part S).

Every K updates, per layer: drop the fraction f of support entries with the smallest |value| and
regrow as many at the off-support positions where |∂L/∂W| is largest, so the count stays exactly
nnz. ∂L/∂W = G_yᵀ·x is never held whole: the layer's backward on the update step hands G_y and x to a
`SupportScorer`, which forms it one block of output rows at a time and keeps only a running top-k,
so the largest transient is one block (SCORE_BLOCK_ELEMENTS values) and no out × in tensor persists.
The scores come from the update step's last micro-batch (RigL's single-batch score).

Regrown entries start at zero with zeroed Adam moments, and their first updates are damped: for the
W = max(1, K // 4) updates after a regrowth, the change the optimizer makes to a regrown value is
scaled by j / (W + 1) at the j-th of them, so an entry with empty moments does not take a full-size
step (the loss spikes dynamic sparse training sees otherwise). Kept entries carry their value and
moments to their new (sorted) position. The regrown entries' positions are a layer buffer
(`regrown_indices`), so a checkpoint resumes the warm-up exactly.

Under DDP every rank holds the same values (so drops the same entries); rank 0's scores pick the
regrown positions and are broadcast, so every rank stores the same support.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import ConfigError
from .layers import support_size

# The largest |∂L/∂W| block formed at once: 2^20 fp32 values (4 MiB); at least one output row.
SCORE_BLOCK_ELEMENTS = 1 << 20


def regrow_count(nnz: int, fraction: float) -> int:
    """Entries one layer drops and regrows at an update: floor(fraction · nnz)."""
    return int(fraction * nnz)


def warmup_updates(every: int) -> int:
    """W: updates over which a regrown entry's steps ramp up (kept below the update interval)."""
    return max(1, every // 4)


def rows_per_block(in_features: int) -> int:
    return max(1, SCORE_BLOCK_ELEMENTS // in_features)


def check_counts(shapes, delta: float, fraction: float) -> None:
    """Every layer must have enough off-support positions to regrow into."""
    for _, out_f, in_f in shapes:
        nnz = support_size(out_f, in_f, delta)
        k = regrow_count(nnz, fraction)
        if k > out_f * in_f - nnz:
            raise ConfigError(f"support_update_fraction {fraction} regrows {k} entries of a {out_f}x{in_f} layer "
                              f"but only {out_f * in_f - nnz} positions are off its support at delta {delta}; "
                              "lower --support-update-fraction or --delta")


@torch.no_grad()
def top_off_support(gy: Tensor, x: Tensor, flat: Tensor, out_f: int, in_f: int, k: int) -> Tensor:
    """The k flat positions off the sorted support `flat` with the largest |G_yᵀ·x|, in blocks of rows.

    gy (T, out), x (T, in). Returns int64 positions (k,), largest score first."""
    xf = x.float()
    best_s = torch.empty(0, device=x.device)
    best_i = torch.empty(0, dtype=torch.int64, device=x.device)
    rows = rows_per_block(in_f)
    for r0 in range(0, out_f, rows):
        r1 = min(out_f, r0 + rows)
        block = (gy[:, r0:r1].T.float() @ xf).abs_().view(-1)  # (rows · in,), the only dense piece
        lo, hi = torch.searchsorted(flat, torch.tensor([r0 * in_f, r1 * in_f], device=flat.device)).tolist()
        block[flat[lo:hi] - r0 * in_f] = -1.0  # on the support: never a candidate (real scores are >= 0)
        s, i = block.topk(min(k, block.numel()))
        best_s, order = torch.cat([best_s, s]).topk(min(k, best_s.numel() + s.numel()))
        best_i = torch.cat([best_i, i + r0 * in_f])[order]
    return best_i


class SupportScorer:
    """Collects one layer's regrow candidates during the backward of an update step."""

    def __init__(self, layer):
        self.layer, self.candidates = layer, None

    def __call__(self, gy2: Tensor, x2: Tensor) -> None:
        layer = self.layer
        self.candidates = top_off_support(gy2, x2, layer.flat_indices(), layer.out_features, layer.in_features,
                                          layer.regrown_indices.numel())


def _values_states(layer, optimizer) -> list[Tensor]:
    """The optimizer state tensors shaped like the layer's values (Adam's moments), every optimizer."""
    out = []
    for opt in optimizer.optimizers:
        st = opt.state.get(layer.values)
        if st:
            out += [t for k, t in st.items() if isinstance(t, Tensor) and t.shape == layer.values.shape]
    return out


@torch.no_grad()
def replace_support(layer, optimizer, grown: Tensor) -> None:
    """Drops the k smallest-|value| entries, inserts `grown` (k off-support positions) at zero with
    zero moments, keeps the support sorted and records where the regrown entries now sit."""
    k = grown.numel()
    old = layer.flat_indices()
    drop = layer.values.detach().abs().float().argsort(stable=True)[:k]
    keep = torch.ones(old.numel(), dtype=torch.bool, device=old.device)
    keep[drop] = False
    merged = torch.cat([old[keep], grown.to(old.device)])
    new, perm = merged.sort(stable=True)
    for t in [layer.values.data, *_values_states(layer, optimizer)]:
        src = torch.cat([t[keep], torch.zeros(k, dtype=t.dtype, device=t.device)])
        t.copy_(src[perm])
    kept = int(keep.sum())
    layer.regrown_indices.copy_((perm >= kept).nonzero().view(-1))
    layer.set_support(new)


def _broadcast(t: Tensor) -> Tensor:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.broadcast(t, src=0)
    return t


class SupportUpdater:
    """The trainer-side schedule: arm scorers before an update step, damp regrown entries around
    every optimizer step, and replace supports after the update step."""

    def __init__(self, every: int):
        self.every, self.warm = every, warmup_updates(every)
        self._saved: list[tuple[object, Tensor]] = []

    @staticmethod
    def layers(model):
        return [m for m in model.modules() if getattr(m, "regrown_indices", None) is not None]

    def _ramp(self, update: int) -> float | None:
        """The damping factor of update `update` (1-based) for the last regrowth before it, or None."""
        last = (update - 1) // self.every * self.every
        j = update - last
        return j / (self.warm + 1) if last > 0 and j <= self.warm else None

    def before(self, model, step: int) -> None:
        """`step` updates done; the next is update step + 1."""
        arm = (step + 1) % self.every == 0
        ramp = self._ramp(step + 1)
        self._saved = []
        for layer in self.layers(model):
            layer.support_scorer = SupportScorer(layer) if arm else None
            if ramp is not None:
                self._saved.append((layer, layer.values.detach()[layer.regrown_indices.long()].clone()))

    def after(self, model, optimizer, step: int) -> None:
        """`step` updates done, the last one just applied."""
        ramp = self._ramp(step)
        for layer, before in self._saved:
            idx = layer.regrown_indices.long()
            now = layer.values.data[idx]
            layer.values.data[idx] = before + ramp * (now - before)
        self._saved = []
        if step % self.every:
            return
        for layer in self.layers(model):
            scorer, layer.support_scorer = layer.support_scorer, None
            if scorer is None or scorer.candidates is None:
                raise RuntimeError(f"support update at step {step}: a layer saw no backward on this update step")
            replace_support(layer, optimizer, _broadcast(scorer.candidates.contiguous()))
