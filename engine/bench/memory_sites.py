"""Where the bytes at a CUDA peak go: replays a caching-allocator trace and groups what is alive.

    with recording(device) as rec:      # starts torch.cuda.memory._record_memory_history
        ... one training step ...
    summary = peak_sites(rec.snapshot, base_bytes=rec.base_bytes)

`peak_sites` walks the trace's alloc / free events in order from `base_bytes` (what was allocated
when recording began: weights, optimizer states, indices), finds the moment the running total is
highest, and groups the blocks alive then by the engine source line that allocated them (the first
frame under sltrain/, else bitsandbytes/ or torch/optim/, else the innermost frame). With the
planner's breakdown beside it this says where every byte above the static floor goes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

OWN = ("/sltrain/", "/bitsandbytes/", "/torch/optim/")


def site(frames: list[dict]) -> str:
    for marker in OWN:
        for f in frames:
            if marker in f.get("filename", ""):
                path = marker.strip("/") + "/" + f["filename"].split(marker)[-1]
                return f"{path}:{f.get('line')} {f.get('name', '')}".strip()
    if frames:
        f = frames[0]
        return f"{f.get('filename', '?').rsplit('/', 1)[-1]}:{f.get('line')} {f.get('name', '')}".strip()
    return "(no Python frame)"


def peak_sites(snapshot: dict, base_bytes: int = 0, device: int = 0, top: int = 25) -> dict:
    traces = snapshot.get("device_traces") or []
    events = traces[device] if device < len(traces) else []
    # The allocator frees a block for reuse at free_completed; older traces only log free_requested.
    free_action = "free_completed" if any(e.get("action") == "free_completed" for e in events) else "free_requested"
    total, peak, live = base_bytes, base_bytes, {}
    groups: dict[str, list[int]] = {}
    at_peak: dict[str, list[int]] = {}
    for e in events:
        action, addr, size = e.get("action"), e.get("addr"), int(e.get("size", 0))
        if action == "alloc":
            where = site(e.get("frames") or [])
            live[addr] = (size, where)
            g = groups.setdefault(where, [0, 0])
            g[0] += size
            g[1] += 1
            total += size
            if total > peak:
                peak, at_peak = total, {k: list(v) for k, v in groups.items() if v[0]}
        elif action == free_action and addr in live:
            size, where = live.pop(addr)
            groups[where][0] -= size
            groups[where][1] -= 1
            total -= size
    ranked = sorted(at_peak.items(), key=lambda kv: -kv[1][0])
    rows = [{"site": k, "bytes": v[0], "blocks": v[1]} for k, v in ranked[:top]]
    rest = sum(v[0] for _, v in ranked[top:])
    return {"peak_bytes": peak, "base_bytes": base_bytes, "events": len(events),
            "sites": rows, "other_sites_bytes": rest}


class _Recording:
    base_bytes = 0
    snapshot: dict = {}


@contextlib.contextmanager
def recording(device: torch.device, max_entries: int = 2_000_000) -> Iterator[_Recording]:
    """Records allocator history on a CUDA device (no-op elsewhere: snapshot stays empty)."""
    rec = _Recording()
    if device.type != "cuda":
        yield rec
        return
    rec.base_bytes = torch.cuda.memory_allocated(device)
    # Python frames only: C++ unwinding on every allocation would slow the measured step a lot.
    torch.cuda.memory._record_memory_history(max_entries=max_entries, stacks="python")
    try:
        yield rec
    finally:
        rec.snapshot = torch.cuda.memory._snapshot()
        torch.cuda.memory._record_memory_history(enabled=None)
