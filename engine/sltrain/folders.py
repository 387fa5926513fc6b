"""Checks of an output folder before anything is written: the train command's --out and export's
OUT_DIR both use them, so both refuse the same places with the same words."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ConfigError


def check_writable(out: Path, label: str) -> None:
    """`out` (existing or not) can be created and written: its nearest existing ancestor is a directory
    this process can write into. `label` names the option in the message (--out, OUT_DIR)."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{label} {out}: {probe} is not a directory")
    try:  # a real write: os.access says yes to root even on read-only file systems
        os.rmdir(tempfile.mkdtemp(prefix=".sltrain-probe-", dir=probe))
    except OSError as e:
        raise ConfigError(f"{label} {out}: cannot write there ({e.strerror}); choose another folder") from None
