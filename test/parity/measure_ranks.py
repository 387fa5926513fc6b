"""Under torchrun: runs `sltrain.measure` for many sharded setups in one process group (torch and the
group start once) and prints, from rank 0, one JSON line per setup with every rank's own bytes.
Input: the path of a JSON list of run files (each with its "sharding"); torchrun gives stdin to no
rank. Used by sharding.test.ts."""
import json
import sys

import torch

from sltrain import dist, measure, runconfig, sharding


def main() -> None:
    torch.set_num_threads(1)  # one thread per rank: the ranks share the machine's cores
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    d = dist.setup("cpu", group_of_one=True)
    for case in cases:
        cfg = runconfig.RunConfig()
        runconfig._apply(cfg, {**case, "device": "cpu"}, "parity matrix")
        cfg.out = "-"
        cfg = runconfig.fill_defaults(cfg, d.world)
        sharding.check(cfg)
        result = measure.measure(cfg, d=d)
        ranks = dist.gather_objects(result["bytes"], d)
        if d.main:
            print(json.dumps({"case": case, "world_size": d.world, "ranks": ranks}), flush=True)
    dist.shutdown()


if __name__ == "__main__":
    main()
