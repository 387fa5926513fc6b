"""Planner validation on a GPU: measured max_memory_allocated vs the planner's predicted peak.

    python bench/gpu_memory_check.py [--out-dir DIR] [--predictions FILE] [--time-budget S]
    python bench/gpu_memory_check.py --predict-only [--predictions FILE]   # where node runs
    python bench/gpu_memory_check.py --smoke --device cpu --out-dir DIR   # logic check, CI

Cases: llama_60m / 130m / 350m / 1b x full AdamW, GaLore, SLTrain x micro-batch 1 and 8, seq 256,
bf16, plus the 8-bit per-layer variant of each (measured only when bitsandbytes imports). Each
case runs `sltrain.measure` in this process (max_memory_allocated over the second step, after
reset_peak_memory_stats) and looks its prediction up in the predictions file, which
`--predict-only` fills by calling `node dist/cli.js plan ... --gpu h200 --json` (node may be missing
on the GPU machine: compute the file beforehand and carry it along; without a file node is tried at
run time). Writes gpu_memory_check.json (every case, error %, median and max |error|) and prints a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ENGINE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ENGINE))
from sltrain import runconfig  # noqa: E402
from sltrain.measure import measure  # noqa: E402

PRESETS = ("llama_60m", "llama_130m", "llama_350m", "llama_1b")
METHODS = ("full", "galore", "sltrain")
DEFAULT_PREDICTIONS = ENGINE / "bench" / "results" / "gpu_memory_predictions.json"
DEFAULT_PLANNER = f"node {ENGINE.parent / 'dist' / 'cli.js'}"


def cases(smoke: bool) -> list[dict]:
    presets, batches, seq = (("llama_tiny",), (2,), 32) if smoke else (PRESETS, (1, 8), 256)
    out = []
    for preset in presets:
        for opt, per_layer in (("adamw", False), ("adam8bit", True)):
            for method in METHODS:
                for b in batches:
                    out.append({"model": preset, "method": method, "optimizer": opt, "per_layer": per_layer,
                                "batch": b, "seq": seq, "precision": "bf16"})
    return out


def goal_cases(smoke: bool, optimizer: str = "adam8bit") -> list[dict]:
    """The memory-goal setups of gpu_perf.py: one sequence, SLTrain, per-layer updates, +/- checkpointing."""
    presets, seq = (("llama_tiny",), 32) if smoke else (("llama_1b", "llama_7b"), 256)
    return [{"model": m, "method": "sltrain", "optimizer": optimizer, "per_layer": True, "batch": 1, "seq": seq,
             "precision": "bf16", "grad_ckpt": ckpt} for m in presets for ckpt in (False, True)]


def key(c: dict) -> str:
    return (f"{c['model']}/{c['method']}/{c['optimizer']}{'/per-layer' if c['per_layer'] else ''}/b{c['batch']}"
            f"/s{c['seq']}{'/ckpt' if c.get('grad_ckpt') else ''}")


def predict(c: dict, planner: str) -> int:
    cmd = shlex.split(planner) + [
        "plan", "--model", c["model"], "--method", c["method"], "--optimizer", c["optimizer"],
        "--batch", str(c["batch"]), "--seq", str(c["seq"]), "--precision", c["precision"], "--gpu", "h200", "--json"]
    if c["per_layer"]:
        cmd.append("--per-layer")
    if c.get("grad_ckpt"):
        cmd.append("--grad-ckpt")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return int(json.loads(r.stdout)["peak"]["bytes"])


def bnb_available() -> bool:
    try:
        import bitsandbytes  # noqa: F401
    except Exception:
        return False
    return True


def measure_case(c: dict, device: str) -> dict:
    cfg = runconfig.RunConfig(model=c["model"], method=c["method"], optimizer=c["optimizer"],
                              per_layer=c["per_layer"], batch_size=c["batch"], seq_len=c["seq"],
                              precision=c["precision"], device=device, out="-", steps=10, warmup=1)
    res = measure(runconfig.fill_defaults(cfg))
    b = res["bytes"]
    return {"max_memory_allocated": res["max_memory_allocated"],
            "static_bytes": b["weights"] + b["gradients"] + b["optimizer_states"] + b["indices"] + b["buffers"],
            "saved_activations": b["saved_activations"]}


def summarise(rows: list[dict]) -> dict:
    errs = [abs(r["error_pct"]) for r in rows if r.get("error_pct") is not None]
    return {"cases": len(rows), "compared": len(errs),
            "median_abs_error_pct": round(statistics.median(errs), 3) if errs else None,
            "max_abs_error_pct": round(max(errs), 3) if errs else None}


def run(args, save=lambda res: None) -> dict:
    preds = json.loads(Path(args.predictions).read_text()) if Path(args.predictions).is_file() else {}
    device = torch.device(args.device)
    have_bnb = bnb_available()
    rows, t0 = [], time.monotonic()
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None

    def result() -> dict:
        return {"meta": {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "torch": torch.__version__,
                         "gpu": gpu, "device": str(device), "bitsandbytes": have_bnb,
                         "loadavg": list(os.getloadavg()), "seconds": round(time.monotonic() - t0, 1)},
                "summary": summarise(rows), "results": rows}

    for c in cases(args.smoke):
        save(result())  # what ran so far survives a timeout
        row = {"case": key(c), **c}
        if c["optimizer"] == "adam8bit" and not have_bnb:
            rows.append({**row, "skipped": "bitsandbytes does not import"})
            continue
        if time.monotonic() - t0 > args.time_budget:
            rows.append({**row, "skipped": f"time budget {args.time_budget} s spent"})
            continue
        if key(c) not in preds:
            try:
                preds[key(c)] = predict(c, args.planner)
            except (OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
                row["prediction_error"] = f"{type(e).__name__}: {e}"[:300]
        try:
            row.update(measure_case(c, str(device)))
        except torch.cuda.OutOfMemoryError as e:
            row["skipped"] = f"out of memory: {str(e)[:200]}"
        finally:
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
        row["predicted"] = preds.get(key(c))
        m = row.get("max_memory_allocated")
        row["error_pct"] = round(100.0 * (row["predicted"] - m) / m, 3) if m and row["predicted"] else None
        rows.append(row)
    return result()


def print_table(res: dict) -> None:
    print(f"{'case':44s} {'measured MiB':>13s} {'predicted MiB':>14s} {'error %':>8s}")
    for r in res["results"]:
        if "skipped" in r:
            print(f"{r['case']:44s} skipped: {r['skipped']}")
            continue
        m, p = r.get("max_memory_allocated"), r.get("predicted")
        fm = f"{m / 2**20:13.1f}" if m else f"{'-':>13s}"
        fp = f"{p / 2**20:14.1f}" if p else f"{'-':>14s}"
        fe = f"{r['error_pct']:8.2f}" if r.get("error_pct") is not None else f"{'-':>8s}"
        print(f"{r['case']:44s} {fm} {fp} {fe}")
    s = res["summary"]
    print(f"compared {s['compared']} of {s['cases']}: median |error| {s['median_abs_error_pct']} %, "
          f"max {s['max_abs_error_pct']} %")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default=str(ENGINE / "bench" / "results" / "gpu"))
    p.add_argument("--predictions", default=str(DEFAULT_PREDICTIONS))
    p.add_argument("--planner", default=DEFAULT_PLANNER, help=f"planner command (default: {DEFAULT_PLANNER})")
    p.add_argument("--predict-only", action="store_true", help="write the predictions file and stop")
    p.add_argument("--device", default="cuda")
    p.add_argument("--smoke", action="store_true", help="llama_tiny, seq 32, batch 2")
    p.add_argument("--time-budget", type=float, default=150.0, help="start no case after this many seconds")
    args = p.parse_args(argv)
    if args.predict_only:
        every = cases(args.smoke) + goal_cases(args.smoke) + goal_cases(args.smoke, "adamw")
        preds = {key(c): predict(c, args.planner) for c in every}
        Path(args.predictions).parent.mkdir(parents=True, exist_ok=True)
        Path(args.predictions).write_text(json.dumps(preds, indent=1, sort_keys=True) + "\n")
        print(f"{len(preds)} predictions -> {args.predictions}")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_memory_check: no CUDA device; use --smoke --device cpu to check the logic", file=sys.stderr)
        return 2
    out = Path(args.out_dir) / "gpu_memory_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def save(res: dict) -> None:
        out.write_text(json.dumps(res, indent=1) + "\n")

    res = run(args, save)
    save(res)
    print_table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
