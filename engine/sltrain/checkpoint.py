"""Atomic, pruned checkpoints under OUT/checkpoints/step-N.

A checkpoint is written to .tmp-step-N (state.pt, then meta.json with the byte size of state.pt)
and renamed to step-N in one os.rename, so a crash leaves either a complete step-N or a .tmp-* that
resume reports and removes. Only the newest `keep` step-N directories are kept. The state is one
dict the trainer builds (model, optimizer, scheduler step, RNG states, data position, config).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch

_STEP_DIR = re.compile(r"^step-(\d+)$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the complete-looking step-N directories, oldest first."""
    if not ckpt_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return sorted(found)


def save(ckpt_dir: Path, step: int, state: dict, keep: int) -> Path:
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tmp, final = ckpt_dir / f".tmp-step-{step}", ckpt_dir / f"step-{step}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    with open(tmp / "state.pt", "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    meta = {"step": step, "state_bytes": (tmp / "state.pt").stat().st_size}
    (tmp / "meta.json").write_text(json.dumps(meta) + "\n")
    if final.exists():  # the same step saved again after a resume
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(ckpt_dir)
    for _, old in list_checkpoints(ckpt_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _read(path: Path) -> dict:
    meta = json.loads((path / "meta.json").read_text())
    size = (path / "state.pt").stat().st_size
    if size != meta["state_bytes"]:
        raise ValueError(f"state.pt has {size} bytes, meta.json says {meta['state_bytes']}")
    return torch.load(path / "state.pt", map_location="cpu", weights_only=False)


def load_latest(ckpt_dir: Path, warn) -> tuple[Path, dict] | None:
    """The newest readable checkpoint; partial or corrupt newer ones are reported through warn(msg)."""
    if ckpt_dir.is_dir():
        for tmp in sorted(ckpt_dir.glob(".tmp-step-*")):
            warn(f"removing the partial checkpoint {tmp} (the run stopped while writing it)")
            shutil.rmtree(tmp, ignore_errors=True)
    for _, path in reversed(list_checkpoints(ckpt_dir)):
        try:
            return path, _read(path)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint falls back to the previous one
            warn(f"checkpoint {path} is unreadable ({type(e).__name__}: {e}); trying the previous one")
    return None
