"""Runs `sltrain.measure` for many setups in one process (torch starts once) and prints one JSON
line per setup. Input: a JSON list of {"model", "method", "per_layer", "precision", "batch_size",
"seq_len"} objects on stdin. Used by parity.test.ts to check the planner against the engine."""
import json
import sys

import torch

from sltrain import measure, runconfig


def main() -> None:
    torch.set_num_threads(2)
    for case in json.load(sys.stdin):
        cfg = runconfig.RunConfig()
        runconfig._apply(cfg, {**case, "device": "cpu"}, "parity matrix")
        cfg.out = "-"
        result = measure.measure(runconfig.fill_defaults(cfg))
        print(json.dumps({"case": case, "measured": result}), flush=True)


if __name__ == "__main__":
    main()
