"""`python -m sltrain.report RUN_DIR --to tensorboard|wandb|mlflow|trackio`: replays a run's
events.jsonl (finished, or running: what it holds now) into a tracker, for runs made without
--report-to or on a machine without the tracker's package. The same Reporter as a live run: the
start event's config names the tracker run, each step and eval is reported once (a resumed run's
re-run steps are skipped), and OUT/trackers.json records where it went.

Exit codes: 0 replayed; 2 bad input (no such run folder, no events, an unknown tracker, a tracker
this run already reports to, or a missing package) with one line on stderr saying what to do; 1 the
tracker failed while replaying.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import trackers
from .errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, ConfigError
from .events import read_events


def _check(run_dir: Path, name: str) -> list[dict]:
    events_path = run_dir / "events.jsonl"
    if not events_path.is_file():
        raise ConfigError(f"{run_dir}: no events.jsonl there; give the run directory (the --out of the run)")
    events = read_events(events_path)
    if not any(e["event"] == "start" for e in events):
        raise ConfigError(f"{events_path}: the run has not started (no start event); nothing to report")
    names = trackers.parse(name)
    if len(names) != 1:
        raise ConfigError(f"--to {name!r}: name one tracker of {', '.join(trackers.NAMES)}")
    (name,) = names
    if name in trackers.read_state(run_dir):
        raise ConfigError(f"{run_dir} already reports to {name} (see {trackers.STATE_FILE}); "
                          "replaying it again would duplicate that run")
    return events


def replay(run_dir: Path, name: str) -> int:
    events = _check(run_dir, name)
    failures, links = [], []
    reporter = trackers.Reporter(trackers.parse(name), run_dir, failures.append,
                                 announce=lambda _name, link: links.append(link))
    for e in events:
        reporter(e)
    if events[-1]["event"] != "end":  # a running (or killed) run: close what this replay opened
        reporter({"event": "end", "status": "running"})
    if failures:
        sys.stderr.write(f"error: {failures[0]}\n")
        missing = any(isinstance(e, ImportError) for e in reporter.dropped.values())
        return EXIT_BAD_INPUT if missing else EXIT_FAILED
    steps = sum(1 for e in events if e["event"] == "step")
    sys.stderr.write(f"reported {run_dir} to {name} ({steps} step events read)\n")
    for link in links:  # where to look: the run's address, or its folder and the command that shows it
        for key in ("url", "path", "command"):
            if key in link:
                sys.stderr.write(f"  {key}: {link[key]}\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sltrain.report", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run directory (the --out of the run)")
    p.add_argument("--to", required=True, metavar="TRACKER", help=f"one of {', '.join(trackers.NAMES)}")
    args = p.parse_args(argv)
    try:
        return replay(args.run_dir, args.to)
    except ConfigError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
