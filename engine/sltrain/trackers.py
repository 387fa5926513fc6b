"""Experiment trackers (--report-to): TensorBoard, Weights & Biases, MLflow and Trackio receive the
event stream (events.py) as it is written, or later by replay (report.py).

A `Reporter` is the EventLog's sink: `start` opens the trackers (resolved config as hyperparameters,
parameter counts and the predicted peak as summary values), every `step` and `eval` is logged with its
step as x, `end` closes them. Each tracker package is imported only when asked for. A tracker that is
missing or raises is dropped after ONE warning event (code "tracker"); training never sees the
exception. Tracker calls print to stderr: stdout is the event stream.

Resume continues the same tracker run: OUT/trackers.json keeps what identifies it (W&B run id,
MLflow run id and tracking URI, the TensorBoard folder, the Trackio project/name). Steps a killed
run had already reported are not reported again when --resume re-runs them: each tracker skips
every step/eval whose step is not past the last one it holds. Each says itself what it holds (W&B,
MLflow, Trackio), and gets the steps events.jsonl has past that (lost to a kill -9 in its buffers)
before the run goes on; TensorBoard re-logs the re-run steps over its purge step. The sink runs
before an event is written, so the events never hold a step the trackers were not sent.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from .errors import ConfigError
from .events import read_events
from .schema import OPTIONS

NAMES: tuple[str, ...] = tuple(OPTIONS["report_to"]["items"])
STATE_FILE = "trackers.json"
TENSORBOARD_DIR = "tensorboard"
EVENT = "tracker"  # the event that says where a tracker keeps the run (its link())
MLFLOW_DIR = "mlruns"  # the default MLflow store (without MLFLOW_TRACKING_URI)
DEFAULT_PROJECT = "sltrain"
WARNING_CODE = "tracker"
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow-skinny", "trackio": "trackio"}


def available() -> list[str]:
    """The trackers whose package this Python can import (each imports as its own name); the editor's
    launch offers these. Looked up without importing them: W&B and MLflow take seconds to import."""
    return [n for n in NAMES if importlib.util.find_spec(n) is not None]


def parse(value: str) -> tuple[str, ...]:
    """`none` or a comma-separated list of tracker names (each once)."""
    names = [n.strip().lower() for n in str(value).split(",") if n.strip()]
    if names in ([], ["none"]):
        return ()
    bad = [n for n in names if n not in NAMES]
    if bad or len(set(names)) != len(names):
        what = f"unknown tracker {', '.join(map(repr, bad))}" if bad else "a tracker is named twice"
        raise ConfigError(f"--report-to {value!r}: {what}; use none or a comma-separated list of "
                          f"{', '.join(NAMES)}")
    return tuple(names)


def check(cfg) -> None:
    """The tracker options of a resolved config; ConfigError names the bad one."""
    parse(cfg.report_to)
    if cfg.predicted_peak_bytes is not None and cfg.predicted_peak_bytes < 0:
        raise ConfigError(f"--predicted-peak-bytes must be an integer >= 0, got {cfg.predicted_peak_bytes}")
    for name in ("run_name", "tracker_project"):
        if getattr(cfg, name) is not None and not getattr(cfg, name).strip():
            raise ConfigError(f"--{name.replace('_', '-')} is empty; give a name or leave the flag out")


# Event fields -> tracker metric names (one table, for all trackers and the replay).
STEP_METRICS = {"loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm", "tokens": "train/tokens",
                "tokens_per_s": "train/tokens_per_s", "step_time_s": "train/step_time_s",
                "mem_allocated_bytes": "memory/allocated_bytes", "mem_peak_bytes": "memory/peak_bytes"}
EVAL_METRICS = {"loss": "eval/loss", "ppl": "eval/ppl"}
METRICS = {"step": STEP_METRICS, "eval": EVAL_METRICS}


def metrics_of(record: dict) -> dict[str, float]:
    table = METRICS[record["event"]]
    return {name: float(record[k]) for k, name in table.items() if isinstance(record.get(k), (int, float))}


def read_state(out: Path) -> dict:
    try:
        state = json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(out: Path, state: dict) -> None:
    tmp = out / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, out / STATE_FILE)  # a kill mid-write leaves the previous file whole


def past_reports(events_path: Path) -> list[dict]:
    """The step and eval events events.jsonl already holds: what the trackers were sent before."""
    try:
        events = read_events(events_path)
    except OSError:
        return []
    past: list[dict] = []
    for e in events:
        if e["event"] == "start" and not e.get("resume"):  # the same run started over
            past = []
        elif e["event"] in METRICS and isinstance(e.get("step"), int):
            past.append(e)
    return past


def _last(records) -> dict[str, int]:
    last: dict[str, int] = {}
    for e in records:
        last[e["event"]] = max(last.get(e["event"], 0), e["step"])
    return last


class Reporter:
    """The EventLog sink. `warn(message)` emits the warning event of a dropped tracker; `announce(name,
    link)` tells where an opened tracker keeps the run (the live run's `tracker` event)."""

    def __init__(self, names, out: Path, warn, past: list[dict] | None = None, announce=None):
        from . import tracker_backends

        self.names, self.out, self.warn = tuple(names), Path(out), warn
        self.announce = announce or (lambda name, link: None)
        self.pending = list(self.names)
        self.past = list(past or [])  # the steps and evals reported before this reporter (live resume)
        self.seen = _last(self.past)
        self.skips: dict[str, dict[str, int]] = {}  # per tracker: the last step/eval it holds
        self.backends, self.dropped = {}, {}  # dropped: tracker name -> the exception that dropped it
        self._classes = tracker_backends.BACKENDS

    def __call__(self, record: dict) -> None:
        kind = record.get("event")
        if kind == "start":
            if not record.get("resume"):  # a fresh run (also one restarted in a folder without checkpoint)
                self._each("close", "restarted")
                self.backends, self.pending, self.past, self.seen = {}, list(self.names), [], {}
            if self.pending:
                self._open(record)
        elif kind in METRICS and isinstance(record.get("step"), int):
            step, values = record["step"], metrics_of(record)
            for name in list(self.backends):
                if step > self.skips[name].get(kind, 0):  # a resumed run re-runs steps it already reported
                    self.skips[name][kind] = step
                    if values:
                        self._each("log", kind, step, values, only=name)
        elif kind == "end":
            self._each("close", record.get("status"))
            self.backends = {}

    def _open(self, start: dict) -> None:
        state = read_state(self.out)
        cfg = start.get("config") or {}
        run = {"config": cfg, "params": start.get("params") or {},
               "name": cfg.get("run_name") or self.out.resolve().name,
               "project": cfg.get("tracker_project"), "out": self.out,
               "resume": bool(start.get("resume")), "predicted_peak_bytes": cfg.get("predicted_peak_bytes")}
        for name in self.pending:
            try:
                with _quiet():
                    backend = self._classes[name](run, state.get(name) if run["resume"] else None)
                    held = getattr(backend, "last_step", lambda: None)() if run["resume"] else None
            except Exception as e:  # noqa: BLE001 - a missing package, bad credentials, no network
                self._drop(name, e, "could not start")
                continue
            self.backends[name] = backend
            self.skips[name] = {} if run["resume"] and getattr(backend, "purges", False) else dict(self.seen)
            if held is not None:
                self._backfill(name, held)
            state[name] = backend.state
            _write_state(self.out, state)
            self._announce(name, backend)
        self.pending = []

    def _announce(self, name: str, backend) -> None:
        try:
            link = {k: str(v) for k, v in backend.link().items() if v}
        except Exception:  # noqa: BLE001 - where to look is a convenience; the tracker itself works
            return
        self.announce(name, link)

    def _backfill(self, name: str, held: dict[str, int]) -> None:
        """What the tracker itself says it holds beats what it was sent: one that buffers (W&B's
        service, Trackio's sender) loses its buffer to a kill -9. Send it the rest from the events."""
        self.skips[name] = dict(held)
        for e in self.past:
            if e["step"] > self.skips[name].get(e["event"], 0) and name in self.backends:
                self.skips[name][e["event"]] = e["step"]
                self._each("log", e["event"], e["step"], metrics_of(e), only=name)

    def _each(self, method: str, *args, only: str | None = None) -> None:
        for name, backend in list(self.backends.items()):
            if only is not None and name != only:
                continue
            try:
                with _quiet():
                    getattr(backend, method)(*args)
            except Exception as e:  # noqa: BLE001 - the run goes on without this tracker
                self._drop(name, e, "failed")

    def _drop(self, name: str, e: Exception, what: str) -> None:
        self.backends.pop(name, None)
        self.dropped[name] = e
        if isinstance(e, ImportError):
            hint = f"install it (pip install {PACKAGES[name]}) or drop it from --report-to"
        else:
            hint = "check its settings and credentials"
        self.warn(f"tracker {name} {what} ({type(e).__name__}: {e}); training goes on without it: {hint}")


@contextlib.contextmanager
def _quiet():
    """Trackers print banners and links; stdout carries only events."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def live(cfg, out: Path, log) -> Reporter | None:
    """The live reporter of rank 0 for --report-to (None when it is none)."""
    names = parse(cfg.report_to)
    if not names:
        return None
    return Reporter(names, out, lambda message: log.emit("warning", message=message, code=WARNING_CODE),
                    past=past_reports(out / "events.jsonl"),
                    announce=lambda name, link: log.emit(EVENT, name=name, **link))
