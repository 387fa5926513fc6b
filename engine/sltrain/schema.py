"""The run schema (run_schema.json): every option of a training run, defined once for the engine,
the planner and the editor. This module only loads it; runconfig builds RunConfig from it."""
from __future__ import annotations

import json
from pathlib import Path

SCHEMA = json.loads(Path(__file__).with_name("run_schema.json").read_text())
OPTIONS: dict[str, dict] = {o["name"]: o for o in SCHEMA["options"]}
PLAN_ONLY: dict[str, dict] = {o["name"]: o for o in SCHEMA["plan_only"]}


def choices(name: str) -> tuple[str, ...]:
    return tuple(OPTIONS[name]["choices"])
