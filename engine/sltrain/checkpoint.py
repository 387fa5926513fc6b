"""Atomic, verified, pruned checkpoints under OUT/checkpoints/step-N.

A checkpoint is written to .tmp-step-N: state.pt (and, for a sharded run, the shards that
torch.distributed.checkpoint writes beside it, see dist_checkpoint.py) first, then manifest.json (the
SHA-256 and byte size of every file) last, and the folder is renamed to step-N in one os.rename. A crash leaves either a
complete step-N or a .tmp-* that resume reports and removes. Only the newest `keep` step-N
directories are kept. The state is one dict the trainer builds (model, optimizer, scheduler step,
RNG states, data position, config) of tensors and plain containers only.

Loading trusts nothing in the folder: the manifest must match every file byte for byte, state.pt
is read with torch.load(weights_only=True) (a pickle that names any other object is refused, never
run), and the caller can reject a state that does not fit its model. Each refused checkpoint is
reported with its reason and the previous one is tried; the engine then renames it refused-step-N,
so that the run it continues neither overwrites nor prunes what the user had.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import pickle
import re
import shutil
import stat
from pathlib import Path

import torch

STATE_FILE = "state.pt"
MANIFEST_FILE = "manifest.json"
REFUSED_PREFIX = "refused-"
MANIFEST_FORMAT = 1
MANIFEST_MAX_BYTES = 1 << 20  # a real manifest is a few hundred bytes; a hostile one must not fill memory
STATE_KEYS = ("step", "tokens", "model", "optimizer", "data", "rng", "config", "model_config")
_STEP_DIR = re.compile(r"^step-(\d+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class CheckpointError(Exception):
    """A checkpoint that must not be used; the message is the reason, for the warning."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the step-N directories (real ones, not symbolic links), oldest first."""
    if not ckpt_dir.is_dir() or ckpt_dir.is_symlink():
        return []
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir()
             if (m := _STEP_DIR.match(p.name)) and p.is_dir() and not p.is_symlink()]
    return sorted(found)


def _regular_size(path: Path) -> int:
    """Byte size of a regular file; a link, FIFO or device (/dev/zero) would make reading it endless."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path.name} is missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path.name} is not a regular file")
    return st.st_size


def _sha256(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while size > 0 and (chunk := f.read(min(_CHUNK, size))):
            h.update(chunk)
            size -= len(chunk)
    return h.hexdigest()


def _file_entry(path: Path) -> dict:
    size = _regular_size(path)
    return {"bytes": size, "sha256": _sha256(path, size)}


def begin(ckpt_dir: Path, step: int) -> Path:
    """The empty .tmp-step-N folder a checkpoint is written into (a stale one is removed first)."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tmp = ckpt_dir / f".tmp-step-{step}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp


def commit(ckpt_dir: Path, step: int, tmp: Path, state: dict, keep: int) -> Path:
    """Writes state.pt into tmp beside whatever files are already there (a sharded checkpoint's
    shards), then the manifest of every file, renames tmp to step-N and prunes to `keep`."""
    final = ckpt_dir / f"step-{step}"
    with open(tmp / STATE_FILE, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    # Hashed from the disk, not from memory, so the manifest vouches for what was really written.
    files = {p.name: _file_entry(p) for p in sorted(tmp.iterdir()) if p.name != MANIFEST_FILE}
    manifest = {"format": MANIFEST_FORMAT, "step": step, "files": files}
    with open(tmp / MANIFEST_FILE, "w") as f:  # last: a folder with a manifest has all its files
        f.write(json.dumps(manifest) + "\n")
        f.flush()
        os.fsync(f.fileno())
    if final.exists():  # the same step saved again after a resume
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(ckpt_dir)
    for _, old in list_checkpoints(ckpt_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save(ckpt_dir: Path, step: int, state: dict, keep: int) -> Path:
    return commit(ckpt_dir, step, begin(ckpt_dir, step), state, keep)


def _read_manifest(path: Path, step: int) -> dict:
    size = _regular_size(path / MANIFEST_FILE)
    if size > MANIFEST_MAX_BYTES:
        raise CheckpointError(f"{MANIFEST_FILE} has {size} bytes, more than the {MANIFEST_MAX_BYTES} a manifest may have")
    try:
        m = json.loads((path / MANIFEST_FILE).read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{MANIFEST_FILE} is not valid JSON ({type(e).__name__})") from None
    files = m.get("files") if isinstance(m, dict) else None
    if not isinstance(files, dict) or m.get("format") != MANIFEST_FORMAT or m.get("step") != step:
        raise CheckpointError(f"{MANIFEST_FILE} is not a format-{MANIFEST_FORMAT} manifest of step {step}")
    if STATE_FILE not in files:
        raise CheckpointError(f"{MANIFEST_FILE} does not list {STATE_FILE}")
    for name, entry in files.items():
        # Only plain names inside this folder: a manifest must not make us read anything elsewhere.
        if not isinstance(name, str) or name in (".", "..", MANIFEST_FILE) or "/" in name or "\0" in name:
            raise CheckpointError(f"{MANIFEST_FILE} lists {name!r}, which is not a file of this checkpoint")
        ok = (isinstance(entry, dict) and type(entry.get("bytes")) is int and entry["bytes"] >= 0
              and isinstance(entry.get("sha256"), str) and _SHA256.match(entry["sha256"]))
        if not ok:
            raise CheckpointError(f"{MANIFEST_FILE} entry for {name!r} lacks a byte size and a SHA-256")
    return files


def verify(path: Path, step: int) -> None:
    """Raise CheckpointError unless every file the manifest lists has its recorded size and SHA-256."""
    if not os.path.lexists(path / MANIFEST_FILE):
        raise CheckpointError(f"it has no {MANIFEST_FILE} (torn, or written by a version without checksums)")
    for name, entry in _read_manifest(path, step).items():
        size = _regular_size(path / name)
        if size != entry["bytes"]:
            raise CheckpointError(f"{name} has {size} bytes, the manifest says {entry['bytes']}")
        if _sha256(path / name, size) != entry["sha256"]:
            raise CheckpointError(f"{name} does not match its SHA-256 in the manifest (the file is damaged)")


def brief(e: BaseException, limit: int = 300) -> str:
    """One printable line of an exception's text: it may quote names from a hostile file."""
    text = " ".join(str(e).split()) or type(e).__name__
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)[:limit]


def _unpickler_reason(e: BaseException) -> str:
    """The useful clause of torch's long weights_only refusal, e.g. 'Unsupported global: GLOBAL io.open'."""
    m = re.search(r"WeightsUnpickler error: (.*?)(?: was not an allowed global|\n|$)", str(e))
    return brief(m.group(1) if m else e)


def read(path: Path, step: int) -> dict:
    """The verified state of one checkpoint; CheckpointError says why it cannot be used."""
    verify(path, step)
    try:
        state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever a hostile or damaged file raises, it is one refusal
        if isinstance(e, pickle.UnpicklingError) and "WeightsUnpickler" in str(e):
            raise CheckpointError(f"{STATE_FILE} holds objects other than tensors and plain containers; "
                                  f"refused without running them ({_unpickler_reason(e)})") from None
        raise CheckpointError(f"{STATE_FILE} cannot be read ({type(e).__name__}: {brief(e)})") from None
    if not isinstance(state, dict) or not all(k in state for k in STATE_KEYS):
        keys = sorted(map(str, state))[:len(STATE_KEYS)] if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{STATE_FILE} is not a training state (it needs {', '.join(STATE_KEYS)}; has {keys})")
    if type(state["step"]) is not int or state["step"] != step or type(state["tokens"]) is not int:
        raise CheckpointError(f"{STATE_FILE} is not the state of step {step}")
    return state


def remove_partial(ckpt_dir: Path, warn) -> None:
    """Delete the .tmp-* folders of an interrupted save. Only for the engine that holds the run
    folder: anyone else could be deleting the checkpoint a live run is writing."""
    if not ckpt_dir.is_dir() or ckpt_dir.is_symlink():
        return
    for tmp in sorted(ckpt_dir.glob(".tmp-step-*")):
        warn(f"removing the partial checkpoint {tmp} (the run stopped while writing it)")
        if tmp.is_symlink():  # the link itself, never what it points to
            tmp.unlink()
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def set_aside(path: Path) -> Path:
    """Rename a refused step-N to refused-step-N (or refused-step-N-2, ...): kept for the user, and
    never loaded, overwritten by a new step-N or pruned, since only step-N names count."""
    for k in itertools.count(1):
        dest = path.with_name(f"{REFUSED_PREFIX}{path.name}" + (f"-{k}" if k > 1 else ""))
        if not os.path.lexists(dest):
            os.rename(path, dest)
            return dest
    raise AssertionError("unreachable")


def load_latest(ckpt_dir: Path, warn, apply=None, refused: list | None = None) -> tuple[Path, dict] | None:
    """The newest checkpoint that verifies, loads and that apply(path, state) accepts (apply raises
    to refuse it); every refused one is reported through warn(msg) (and appended to `refused`) and
    the previous one is tried. Nothing in the folder is changed."""
    candidates = list(reversed(list_checkpoints(ckpt_dir)))
    for i, (step, path) in enumerate(candidates):
        try:
            state = read(path, step)
            if apply is not None:
                apply(path, state)
            return path, state
        except Exception as e:  # noqa: BLE001 - any unusable checkpoint falls back to the previous one
            reason = str(e) if isinstance(e, CheckpointError) else f"{type(e).__name__}: {brief(e)}"
            then = "trying the previous one" if i + 1 < len(candidates) else "no older checkpoint is left"
            warn(f"checkpoint {path} skipped: {reason}; {then}")
            if refused is not None:
                refused.append(path)
    return None
