"""Quality benchmark: the same llama_tiny run on the embedded corpus with full, lowrank, relora,
galore and sltrain (delta 0.03); prints a table and writes JSON (default bench/results/quality_cpu.json).

Target (the SLTrain paper's claim, scaled down): SLTrain's validation loss within 3 % of full rank's
while training at most 60 % of the block linears' parameters.

    python bench/quality_bench.py            # the default run (a few minutes on 2 CPU cores)
    python bench/quality_bench.py --smoke    # a few steps, to check the script
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ENGINE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ENGINE))

from sltrain import runconfig  # noqa: E402
from sltrain.layers import ReLoRALinear, SLTrainLinear  # noqa: E402
from sltrain.methods import build_model  # noqa: E402

METHODS = ("full", "lowrank", "relora", "galore", "sltrain")


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


def run_method(method: str, common: list[str], workdir: Path) -> dict:
    out = workdir / method
    args = [sys.executable, "-m", "sltrain.train", "--method", method, "--out", str(out), *common]
    t0 = time.time()
    r = subprocess.run(args, cwd=ENGINE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        raise SystemExit(f"{method} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    start = events[0]
    cfg = runconfig.from_dict(start["config"])
    ev = [e for e in events if e["event"] == "eval"][-1]
    steps = [e for e in events if e["event"] == "step"]
    trainable, dense = linear_params(cfg)
    return {"method": method, "val_loss": ev["loss"], "ppl": ev["ppl"], "steps": ev["step"],
            "train_loss_last": steps[-1]["loss"], "lr": cfg.lr,
            "trainable_linear_params": trainable, "dense_linear_params": dense,
            "trainable_linear_pct": 100.0 * trainable / dense,
            "params_total": start["params"]["total"], "params_trainable": start["params"]["trainable"],
            "train_time_s": sum(e["step_time_s"] for e in steps), "wall_time_s": wall}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a few small steps (checks the script only)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--num-threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=ENGINE / "bench" / "results" / "quality_cpu.json")
    a = p.parse_args()
    if a.smoke:
        a.steps, a.batch_size, a.seq_len = 12, 4, 64
    common = ["--model", "llama_tiny", "--steps", str(a.steps), "--warmup", str(max(1, a.steps // 10)),
              "--batch-size", str(a.batch_size), "--seq-len", str(a.seq_len), "--eval-every", str(a.steps),
              "--eval-batches", "8", "--save-every", "0", "--delta", "0.03", "--seed", "0",
              "--num-threads", str(a.num_threads)]
    results = []
    with tempfile.TemporaryDirectory(prefix="sltrain-quality-") as tmp:
        for m in METHODS:
            results.append(run_method(m, common, Path(tmp)))
            r = results[-1]
            print(f"{m:8s} val loss {r['val_loss']:.4f}  ({r['wall_time_s']:.0f} s)", file=sys.stderr)
    full = next(r for r in results if r["method"] == "full")
    slt = next(r for r in results if r["method"] == "sltrain")
    gap = 100.0 * (slt["val_loss"] - full["val_loss"]) / full["val_loss"]
    verdict = {"sltrain_vs_full_val_loss_pct": gap, "sltrain_trainable_linear_pct": slt["trainable_linear_pct"],
               "target": "sltrain val loss within 3 % of full rank, <= 60 % of linear params trained",
               "met": gap <= 3.0 and slt["trainable_linear_pct"] <= 60.0}
    print(f"\n{'method':8s} {'val loss':>9s} {'ppl':>8s} {'linear %':>9s} {'time s':>7s}")
    for r in results:
        print(f"{r['method']:8s} {r['val_loss']:9.4f} {r['ppl']:8.2f} {r['trainable_linear_pct']:8.1f}% "
              f"{r['train_time_s']:7.1f}")
    print(f"\nsltrain vs full: {gap:+.2f} % val loss, {slt['trainable_linear_pct']:.1f} % of linear params "
          f"trained -> target {'met' if verdict['met'] else 'NOT met'}")
    report = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "torch": torch.__version__,
              "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads available",
              "smoke": a.smoke, "args": common, "results": results, "verdict": verdict}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
