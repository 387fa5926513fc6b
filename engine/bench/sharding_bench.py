"""Per-rank bytes under every --sharding: the engine's `measure` on each rank of 1 and 2 CPU
processes (torchrun, gloo) against the planner's `staticBytesPerRank` (sltrain plan --json).

    .venv/bin/python bench/sharding_bench.py [--models llama_20m,llama_60m] [--methods full,sltrain]
        [--worlds 1,2] [--out ../test/bench/results/sharding-bench.json]

Needs the built CLI (node scripts/build.mjs). Prints one row per (model, method, mode, world, rank):
measured and planned weights / gradients / optimizer states / indices and their difference, and the
saved activations' error; writes every number as JSON. A torchrun group per world size measures all
setups in one process group, so torch starts twice in all.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1]
ROOT = ENGINE.parent
CLI = ROOT / "dist" / "cli.js"
MODES = ("ddp", "zero1", "zero2", "zero3", "fsdp")
FIELDS = (("weights", "weights"), ("gradients", "gradients"),
          ("optimizerStates", "optimizer_states_excluding_projectors"), ("indices", "indices"))


def plan(model: str, method: str, mode: str, world: int, batch: int, seq: int) -> dict:
    args = ["node", str(CLI), "plan", "--model", model, "--method", method, "--gpus", str(world), "--sharding", mode,
            "--precision", "fp32", "--batch-size", str(batch), "--seq-len", str(seq), "--json"]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def worker(path: str) -> None:
    """Inside torchrun: measure every run file of `path`, print every rank's bytes from rank 0."""
    sys.path.insert(0, str(ENGINE))
    import torch

    from sltrain import dist, measure, runconfig, sharding

    torch.set_num_threads(1)
    d = dist.setup("cpu", group_of_one=True)
    for run in json.loads(Path(path).read_text()):
        cfg = runconfig.RunConfig()
        runconfig._apply(cfg, {**run, "device": "cpu"}, "bench")
        cfg.out = "-"
        cfg = runconfig.fill_defaults(cfg, d.world)
        sharding.check(cfg)
        ranks = dist.gather_objects(measure.measure(cfg, d=d)["bytes"], d)
        if d.main:
            print(json.dumps({"ranks": ranks}), flush=True)
    dist.shutdown()


def measure_all(runs: list[dict], world: int) -> list[list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.json"
        path.write_text(json.dumps(runs))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(world),
               str(Path(__file__).resolve()), "--worker", str(path)]
        out = subprocess.run(cmd, cwd=ENGINE, check=True, capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ENGINE))).stdout
    return [json.loads(line)["ranks"] for line in out.splitlines() if line.startswith("{")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="llama_20m,llama_60m")
    p.add_argument("--methods", default="full,sltrain")
    p.add_argument("--worlds", default="1,2")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--out", type=Path, default=ROOT / "test" / "bench" / "results" / "sharding-bench.json")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a.worker)
        return 0
    if not CLI.is_file():
        sys.stderr.write(f"error: {CLI} is missing; build it first: node scripts/build.mjs\n")
        return 2
    rows, t0 = [], time.time()
    for world in map(int, a.worlds.split(",")):
        cases = [(m, meth, mode) for m in a.models.split(",") for meth in a.methods.split(",") for mode in MODES]
        plans = [plan(m, meth, mode, world, a.batch, a.seq) for m, meth, mode in cases]
        measured = measure_all([pl["run"] for pl in plans], world)
        for (model, method, mode), pl, ranks in zip(cases, plans, measured, strict=True):
            for r, got in enumerate(ranks):
                want = pl["staticBytesPerRank"][r]
                row = {"model": model, "method": method, "sharding": mode, "world": world, "rank": r,
                       **{f"measured_{k}": got[m] for k, m in FIELDS}, **{f"planned_{k}": want[k] for k, _ in FIELDS},
                       "measured_saved_activations": got["saved_activations"],
                       "planned_saved_activations": pl["activations"]["savedBytes"]}
                rows.append(row)
    print(f"{'model':10s} {'method':8s} {'mode':6s} W r {'weights':>11s} {'grads':>11s} {'states':>11s} "
          f"{'indices':>9s} {'Δ static':>8s} {'act err %':>9s}")
    for row in rows:
        diff = sum(abs(row[f"measured_{k}"] - row[f"planned_{k}"]) for k, _ in FIELDS)
        err = 100 * (row["planned_saved_activations"] - row["measured_saved_activations"]) / row["measured_saved_activations"]
        print(f"{row['model']:10s} {row['method']:8s} {row['sharding']:6s} {row['world']} {row['rank']} "
              f"{row['measured_weights']:>11,d} {row['measured_gradients']:>11,d} {row['measured_optimizerStates']:>11,d} "
              f"{row['measured_indices']:>9,d} {diff:>8d} {err:>9.3f}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"machine": f"{os.cpu_count()} CPUs", "batch": a.batch, "seq": a.seq,
                                 "seconds": round(time.time() - t0, 1), "rows": rows}, indent=1) + "\n")
    print(f"wrote {a.out} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
