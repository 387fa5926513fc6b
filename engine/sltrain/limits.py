"""Bounds on user input (limits.json) and the one safe way to read a user's JSON file.

A value past its bound is refused with a ConfigError naming the option, the value and the limit,
before anything is allocated: a config with 1e9 layers must not grow the process to gigabytes.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from .errors import ConfigError

_LIMITS = json.loads(Path(__file__).with_name("limits.json").read_text())
MODEL: dict[str, int] = _LIMITS["model"]
RUN: dict[str, float] = _LIMITS["run"]
CONFIG_BYTES: int = _LIMITS["files"]["config_bytes"]
JSON_DEPTH: int = _LIMITS["files"]["json_depth"]


def max_threads() -> int:
    """More torch threads than this oversubscribes the CPUs for nothing; far more crashes torch."""
    return RUN["num_threads_per_cpu"] * (os.cpu_count() or 1)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _depth(value) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            todo.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def read_json_file(path: Path, what: str):
    """Parsed JSON of a regular UTF-8 file of at most CONFIG_BYTES; ConfigError naming `what` else.

    Opened non-blocking and checked with fstat before reading, so a FIFO, /dev/zero or
    /dev/urandom is refused at once instead of hanging or filling memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path}: no such file") from None
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot open it ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{what} {path}: is {_kind(st.st_mode)}; give a regular JSON file")
        if st.st_size > CONFIG_BYTES:
            raise ConfigError(f"{what} {path}: {st.st_size} bytes is above the limit of {CONFIG_BYTES} bytes "
                              "for a settings file; give the JSON settings file itself")
        raw = b""
        while len(raw) <= CONFIG_BYTES:  # the file may have grown since fstat
            chunk = os.read(fd, CONFIG_BYTES + 1 - len(raw))
            if not chunk:
                break
            raw += chunk
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot read it ({e.strerror})") from None
    finally:
        os.close(fd)
    if len(raw) > CONFIG_BYTES:
        raise ConfigError(f"{what} {path}: above the limit of {CONFIG_BYTES} bytes for a settings file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{what} {path}: is not UTF-8 text (byte {e.start}); save it as UTF-8 JSON") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{what} {path}: cannot read it as JSON (not valid JSON: {e.msg} at line "
                          f"{e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise ConfigError(f"{what} {path}: JSON nested deeper than {JSON_DEPTH} levels; "
                          "settings are a flat object") from None
    except ValueError as e:  # NaN/Infinity, or an integer of thousands of digits
        raise ConfigError(f"{what} {path}: cannot read it as JSON ({e})") from None
    if _depth(value) > JSON_DEPTH:
        raise ConfigError(f"{what} {path}: JSON nested deeper than {JSON_DEPTH} levels; "
                          "settings are a flat object")
    return value
