"""The machine-readable event stream (docs/contracts.md, "Events"): one JSON object per line with "v": 1, "event",
"time" (unix seconds) and "rank", appended to OUT/events.jsonl and printed on stdout; flushed per
event so that a client tailing either sees each event at once. Only rank 0 writes.

Events and their fields:
  start       config (resolved), params {total, trainable, sparse_nonzeros}, device, world_size
  step        step, loss, lr, grad_norm, tokens, tokens_per_s, step_time_s, mem_allocated_bytes, mem_peak_bytes,
              and with several processes mem_peak_max_rank_bytes (the largest peak of any rank)
              (loss: token-weighted mean over the global batch; lr: the rate this update used;
               grad_norm: global L2 norm before clipping, null with per-layer updates; tokens:
               target tokens trained on so far, all ranks, padding excluded; mem_*: allocator
               bytes on CUDA, resident set size now / peak on the CPU)
  eval        step, loss, ppl  (token-weighted mean over the fixed held-out set)
  checkpoint  step, path
  layer_path  in_features, out_features, low_rank, nnz, tokens, dtype, device, path, source, dense_ms,
              factored_ms  (pathchoice.py: one per distinct SLTrain layer problem)
  warning     message, code
  error       message, code
  end         status (completed | failed | stopped), step
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

VERSION = 1


def _clean(value):
    """JSON has no NaN/inf: write them as null (a diverged loss still gets its step event)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventLog:
    def __init__(self, path: str | Path | None, rank: int = 0, stdout=None):
        self.rank = rank
        self.stdout = stdout if stdout is not None else sys.stdout
        self.file = None
        self.sink = None  # rank 0's trackers (trackers.Reporter): called with every record
        self.pending = None  # while the sink runs: the events it emits, written after its record
        if path is not None and rank == 0:
            self.file = open(path, "a", buffering=1, encoding="utf-8")  # line-buffered

    def emit(self, event: str, **fields) -> dict:
        record = {"v": VERSION, "event": event, "time": time.time(), "rank": self.rank, **_clean(fields)}
        if self.rank != 0:
            return record
        if self.pending is not None:  # emitted by the sink (a tracker's warning): written after its record
            self.pending.append(record)
            return record
        queued = []
        if self.sink is not None:  # first: a kill between the two must not leave a step the trackers lack
            self.pending = queued
            try:
                self.sink(record)
            finally:
                self.pending = None
        for r in (record, *queued):
            self._write(r)
        return record

    def _write(self, record: dict) -> None:
        line = json.dumps(record, allow_nan=False) + "\n"
        if self.file is not None:
            self.file.write(line)
            self.file.flush()
        if self.stdout is not None:
            try:
                self.stdout.write(line)
                self.stdout.flush()
            except (OSError, ValueError):  # a closed pipe (dropped SSH session): keep the file going
                self.stdout = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class Progress:
    """Human progress on stderr: a bar with ETA on a terminal, plain lines every ~10 s otherwise."""

    def __init__(self, total: int, start: int = 0, enabled: bool = True, stream=None):
        self.total, self.start, self.enabled = total, start, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0

    def update(self, step: int, loss: float, lr: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        done = step - self.start
        eta = (now - self.t0) / done * (self.total - step) if done > 0 else float("nan")
        eta_s = "?" if not math.isfinite(eta) else f"{int(eta) // 60}:{int(eta) % 60:02d}"
        text = f"step {step}/{self.total} loss {loss:.4f} lr {lr:.2e} eta {eta_s}"
        if self.tty:
            width = 30
            fill = int(width * step / max(1, self.total))
            self._write(f"\r[{'#' * fill}{'.' * (width - fill)}] {text}" + ("\n" if step >= self.total else ""))
        elif now - self.last >= 10.0 or step >= self.total or done == 1:
            self.last = now
            self._write(text + "\n")

    def note(self, text: str) -> None:
        if self.enabled:
            self._write(("\n" if self.tty else "") + text + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # nobody is reading any more; training goes on
            self.enabled = False


def read_events(path: Path) -> list[dict]:
    """The events of an events.jsonl, skipping a line torn by a kill or a running run's unfinished
    last line. Raises OSError when the file cannot be read."""
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict) and "event" in e:
                events.append(e)
    return events
