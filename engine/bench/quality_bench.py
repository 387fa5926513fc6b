"""Quality benchmark: validation loss at equal steps for full rank, GaLore, APOLLO, APOLLO-Mini,
SLTrain with its fixed support and SLTrain with a dynamic support, over several seeds; with the
trained parameters of the block linears and the planner's peak for each. Prints a table (mean and
spread over the seeds) and writes JSON (default test/bench/results/quality_cpu.json).

Every run is the engine's own CLI (`python -m sltrain.train`), each method at its own default
learning rate; `--` passes further engine flags to every run, so the same script trains on C4 on a
GPU box (bench/quality_c4.sh).

    python bench/quality_bench.py                       # CPU default: llama_tiny, embedded corpus
    python bench/quality_bench.py --smoke               # a few steps, to check the script
    python bench/quality_bench.py --model llama_60m --steps 10000 -- --data hf:allenai/c4:en \\
        --tokenizer hf:t5-base --device cuda --precision bf16
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ENGINE = Path(__file__).resolve().parents[1]
ROOT = ENGINE.parent
sys.path.insert(0, str(ENGINE))

from sltrain import runconfig  # noqa: E402
from sltrain.layers import ReLoRALinear, SLTrainLinear  # noqa: E402
from sltrain.methods import build_model  # noqa: E402

# (row name, --method, extra engine flags). The dynamic support moves 10 % of each layer's support
# every 20 updates; everything else is each method's default.
VARIANTS = (
    ("full", "full", []),
    ("galore", "galore", []),
    ("apollo", "apollo", []),
    ("apollo_mini", "apollo_mini", []),
    ("sltrain", "sltrain", []),
    ("sltrain_dynamic", "sltrain", ["--support-update-every", "20", "--support-update-fraction", "0.1"]),
)


def linear_params(cfg) -> tuple[int, int]:
    """(trainable elements in the seven block linears, elements of the same linears if dense)."""
    model = build_model(cfg.model_config(), cfg.method_config(), seed=cfg.seed, device="meta")
    trainable = dense = 0
    for name, m in model.named_modules():
        if isinstance(m, (SLTrainLinear, ReLoRALinear)):
            dense += m.in_features * m.out_features
            trainable += sum(p.numel() for p in m.parameters() if p.requires_grad)
        elif isinstance(m, torch.nn.Linear) and name.startswith("model.layers."):
            dense += m.weight.numel()
            trainable += m.weight.numel()
    return trainable, dense


def planned_peak(cli: Path, run: dict) -> int | None:
    """The planner's peak bytes for the run's own settings (None without a built CLI)."""
    if not cli.exists():
        return None
    args = ["plan", "--model", run["model"], "--method", run["method"], "--rank", str(run["rank"]),
            "--delta", str(run["delta"]), "--precision", run["precision"], "--batch-size", str(run["batch_size"]),
            "--seq-len", str(run["seq_len"]), "--optimizer", run["optimizer"],
            "--support-update-every", str(run["support_update_every"]),
            "--support-update-fraction", str(run["support_update_fraction"]), "--json"]
    r = subprocess.run(["node", str(cli), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sltrain plan failed for {run['method']}: {r.stderr[-1000:]}")
    return json.loads(r.stdout)["peak"]["bytes"]


def run_one(name: str, method: str, extra: list[str], seed: int, common: list[str], workdir: Path, cli: Path) -> dict:
    out = workdir / f"{name}-{seed}"
    args = [sys.executable, "-m", "sltrain.train", "--method", method, "--seed", str(seed), "--out", str(out),
            *common, *extra]
    t0 = time.time()
    r = subprocess.run(args, cwd=ENGINE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        raise SystemExit(f"{name} seed {seed} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    start = events[0]
    cfg = runconfig.from_dict(start["config"])
    ev = [e for e in events if e["event"] == "eval"][-1]
    steps = [e for e in events if e["event"] == "step"]
    trainable, dense = linear_params(cfg)
    return {"variant": name, "method": method, "seed": seed, "val_loss": ev["loss"], "steps": ev["step"],
            "train_loss_last": steps[-1]["loss"], "lr": cfg.lr, "rank": cfg.rank,
            "trainable_linear_params": trainable, "dense_linear_params": dense,
            "trainable_linear_pct": 100.0 * trainable / dense, "params_trainable": start["params"]["trainable"],
            "planned_peak_bytes": planned_peak(cli, start["config"]), "wall_time_s": wall}


def summarise(results: list[dict]) -> list[dict]:
    rows = []
    for name, _, _ in VARIANTS:
        rs = [r for r in results if r["variant"] == name]
        if not rs:  # not among --variants
            continue
        losses = [r["val_loss"] for r in rs]
        rows.append({"variant": name, "seeds": [r["seed"] for r in rs], "val_loss_mean": statistics.fmean(losses),
                     "val_loss_std": statistics.stdev(losses) if len(losses) > 1 else 0.0,
                     "val_loss_min": min(losses), "val_loss_max": max(losses), "lr": rs[0]["lr"], "rank": rs[0]["rank"],
                     "trainable_linear_pct": rs[0]["trainable_linear_pct"], "params_trainable": rs[0]["params_trainable"],
                     "planned_peak_bytes": rs[0]["planned_peak_bytes"],
                     "wall_time_s_mean": statistics.fmean(r["wall_time_s"] for r in rs)})
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a few small steps (checks the script only)")
    p.add_argument("--model", default="llama_tiny")
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--seeds", default="0,1,2", help="comma-separated run seeds")
    p.add_argument("--num-threads", type=int, default=1)
    p.add_argument("--variants", default=",".join(v[0] for v in VARIANTS), help="comma-separated rows to run")
    p.add_argument("--cli", type=Path, default=ROOT / "dist" / "cli.js", help="the built sltrain CLI (planned peak)")
    p.add_argument("--out", type=Path, default=ROOT / "test" / "bench" / "results" / "quality_cpu.json")
    p.add_argument("engine_args", nargs="*", help="after --: further flags for every engine run")
    a = p.parse_args()
    if a.smoke:
        a.steps, a.batch_size, a.seq_len, a.seeds = 6, 2, 32, "0"
    seeds = [int(s) for s in a.seeds.split(",")]
    wanted = set(a.variants.split(","))
    unknown = wanted - {v[0] for v in VARIANTS}
    if unknown:
        p.error(f"unknown --variants {', '.join(sorted(unknown))}: use some of {', '.join(v[0] for v in VARIANTS)}")
    common = ["--model", a.model, "--steps", str(a.steps), "--warmup", str(max(1, a.steps // 10)),
              "--batch-size", str(a.batch_size), "--seq-len", str(a.seq_len), "--eval-every", str(a.steps),
              "--eval-batches", "8", "--save-every", "0", "--num-threads", str(a.num_threads), *a.engine_args]
    results = []

    def write() -> list[dict]:
        # After every run, so a long bench that is interrupted keeps what it measured.
        rows = summarise(results)
        report = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "torch": torch.__version__,
                  "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads available",
                  "smoke": a.smoke, "args": common, "seeds": seeds, "summary": rows, "results": results}
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(report, indent=2) + "\n")
        return rows

    with tempfile.TemporaryDirectory(prefix="sltrain-quality-") as tmp:
        for name, method, extra in VARIANTS:
            if name not in wanted:
                continue
            for seed in seeds:
                results.append(run_one(name, method, extra, seed, common, Path(tmp), a.cli))
                r = results[-1]
                print(f"{name:16s} seed {seed}  val loss {r['val_loss']:.4f}  ({r['wall_time_s']:.0f} s)", file=sys.stderr)
                write()
    rows = write()
    print(f"\n{'variant':16s} {'val loss (mean ± std, n)':>28s} {'linear %':>9s} {'trainable':>10s} {'planned peak':>13s}")
    for row in rows:
        peak = f"{row['planned_peak_bytes'] / 2**20:10.1f} MiB" if row["planned_peak_bytes"] else "           -"
        print(f"{row['variant']:16s} {row['val_loss_mean']:14.4f} ± {row['val_loss_std']:.4f} (n={len(row['seeds'])})"
              f" {row['trainable_linear_pct']:8.1f}% {row['params_trainable']:10d} {peak}")
    print(f"wrote {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
