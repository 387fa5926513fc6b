"""Runs `sltrain.measure --timeline` for many setups in one process (torch starts once) and prints
one JSON line per setup: {"case", "timeline"}. Input: a JSON list of run files (engine option names)
on stdin. Used by timeline.test.ts to check the planner's timeline against the engine's."""
import json
import sys

import torch

from sltrain import measure, runconfig


def main() -> None:
    torch.set_num_threads(2)
    for case in json.load(sys.stdin):
        cfg = runconfig.RunConfig()
        runconfig._apply(cfg, {**case, "device": "cpu"}, "timeline matrix")
        cfg.out = "-"
        result = measure.measure(runconfig.fill_defaults(cfg), timeline=True)
        print(json.dumps({"case": case, "timeline": result["timeline"]}), flush=True)


if __name__ == "__main__":
    main()
