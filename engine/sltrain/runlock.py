"""The run folder's lock: one engine per OUT at a time.

The engine (rank 0 under torchrun) holds an exclusive advisory lock (flock) on OUT/run.lock for its
whole life. The kernel drops it when the process dies, however it dies, so a lock file left by a dead
engine is simply taken over. The file's one line, `PID HOST START`, says who holds it (START is the
Unix time the engine took it); the launch wrappers read it only where flock(1) is missing.

A second engine pointed at a live run's folder (a fresh run, `--resume`, a retried launch) is refused
with EXIT_BUSY and writes nothing there: no event, no exit_code, no pid. The launch wrappers leave
their own files alone on that exit code, so the live run's records stay exactly as they were.
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
import time
from pathlib import Path

from .errors import ConfigError

LOCK_FILE = "run.lock"
EXIT_BUSY = 4


class RunBusy(Exception):
    """OUT belongs to a live engine. The message names the holder and what to do."""


class RunLock:
    """An acquired lock; keep it referenced for the engine's lifetime (closing releases it)."""

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _open(path: Path, create: bool) -> int:
    # O_NOFOLLOW: a run.lock planted as a symlink must not make us create or lock a file elsewhere.
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    try:
        return os.open(path, flags, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ConfigError(f"--out {path.parent}: {LOCK_FILE} is a symbolic link, not this product's lock file; "
                              "remove it or choose another --out") from None
        raise


def _holder(fd: int) -> str:
    try:
        words = os.pread(fd, 256, 0).decode("utf-8", "replace").split()
    except OSError:
        words = []
    if len(words) >= 3 and words[0].isdigit():
        try:
            started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(words[2])))
        except (ValueError, OverflowError):
            started = "an unknown time"
        return f"engine pid {words[0]} on {words[1]}, started {started}"
    return "another engine"


def _busy(out: Path, fd: int) -> RunBusy:
    return RunBusy(f"--out {out} is in use by a running {_holder(fd)}; wait for it to end, stop it, "
                   "or choose another --out")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


def check_free(out: Path) -> None:
    """Raises RunBusy if a live engine holds OUT; creates and writes nothing."""
    path = out / LOCK_FILE
    if not path.is_file() and not path.is_symlink():
        return
    fd = _open(path, create=False)
    try:
        if not _try_lock(fd):
            raise _busy(out, fd)
        # Only probed: released at once by closing (the holder died; acquire() will take it over).
    finally:
        os.close(fd)


def is_held(out: Path) -> bool:
    """True if a live engine holds OUT (for callers that must not write there)."""
    try:
        check_free(out)
        return False
    except RunBusy:
        return True
    except (OSError, ConfigError):
        return False


def acquire(out: Path) -> RunLock:
    """Creates OUT if needed and locks it for this process; RunBusy if a live engine has it."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    fd = _open(path, create=True)
    if not _try_lock(fd):
        err = _busy(out, fd)
        os.close(fd)
        raise err
    # Stale content of a dead holder is replaced; the lock itself was already free.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {socket.gethostname()} {time.time():.3f}\n".encode(), 0)
    return RunLock(fd, path)
