"""GPU speed and the small-memory case, at the 1B preset.

    python bench/gpu_perf.py [--out-dir DIR] [--reference-dir DIR] [--time-budget S]
    python bench/gpu_perf.py --smoke --device cpu --out-dir DIR   # logic check, CI

1. Throughput: llama_1b, seq 256, bf16, the same micro-batch (--batch, default 8) for every
   variant of perf_bench.py (full, lowrank, SLTrain dense / factored / auto, the reference layer when
   its checkout is given), eager and, for --compile-variants, under torch.compile. MFU =
   6 · N · tokens/s / peak, N = the full-rank model's parameters, peak = 989 TFLOP/s (H200 dense bf16;
   --peak-tflops to change); attention's own FLOPs are not counted.
2. Memory: one sequence of 256 tokens, bf16, SLTrain with 8-bit Adam and per-layer updates at 1B and
   7B (goals: max_memory_allocated <= 3.5 GB and <= 14.5 GB, 1 GB = 1e9 B), with the default support
   storage (CSR, int16 columns), without and with gradient checkpointing, measured by sltrain.measure,
   beside the planner's prediction from bench/results/gpu_memory_predictions.json. Without
   bitsandbytes the same cases run with bf16 AdamW per-layer (labelled; states 4x larger) so
   activations and the rest are still seen.
Writes gpu_perf.json and prints both tables.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ENGINE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ENGINE))
sys.path.insert(0, str(ENGINE / "bench"))
from gpu_memory_check import DEFAULT_PREDICTIONS, goal_cases, key  # noqa: E402
from memory_sites import peak_sites, recording  # noqa: E402
from perf_bench import build_variant, load_reference  # noqa: E402
from sltrain import runconfig  # noqa: E402
from sltrain.measure import measure  # noqa: E402
from sltrain.runconfig import load_model_config  # noqa: E402

GOALS = {"llama_1b": 3.5e9, "llama_7b": 14.5e9}


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def time_variant(name, compiled, args, model_cfg, device, ref_cls) -> dict:
    model = build_variant(name, model_cfg, args.model, device, torch.bfloat16, ref_cls)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    fwd = torch.compile(model) if compiled else model
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, model_cfg.vocab_size, (args.batch, args.seq), generator=g).to(device)
    times = []
    for i in range(args.warmup + args.reps):
        _sync(device)
        t = time.perf_counter()
        _, loss = fwd(x, x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    del model, opt, fwd
    return {"step_s_median": round(statistics.median(times), 5), "step_s_all": [round(t, 5) for t in times],
            "tokens_per_s": round(args.batch * args.seq / statistics.median(times), 1),
            "max_memory_allocated": peak}


def throughput(args, device) -> tuple[list[dict], dict]:
    model_cfg = load_model_config(args.model)
    ref_cls, ref_skip = load_reference(args.reference_dir)
    names = ["full", "lowrank", "sltrain-dense", "sltrain-factored", "sltrain-auto"]
    names += ["reference-sltrain"] if ref_cls is not None else []
    with torch.device("meta"):
        n_dense = sum(p.numel() for p in build_variant("full", model_cfg, args.model, "meta", torch.bfloat16,
                                                       None).parameters())
    rows, skipped = [], {"reference-sltrain": ref_skip} if ref_skip else {}
    t0 = time.monotonic()
    for compiled in (False, True):
        for name in names:
            label = f"{name}{' compiled' if compiled else ''}"
            if compiled and name not in args.compile_variants.split(","):
                continue
            if compiled and not hasattr(torch, "compile"):
                skipped[label] = "torch.compile unavailable"
                continue
            if time.monotonic() - t0 > args.time_budget:
                skipped[label] = f"time budget {args.time_budget} s spent"
                continue
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            try:
                r = time_variant(name, compiled, args, model_cfg, device, ref_cls)
            except Exception as e:  # a compile failure must not cost the other rows
                skipped[label] = f"{type(e).__name__}: {str(e)[:300]}"
                _free(device)
                continue
            _free(device)
            r.update(variant=name, compiled=compiled,
                     mfu=round(6 * n_dense * r["tokens_per_s"] / (args.peak_tflops * 1e12), 4))
            rows.append(r)
    return rows, {"n_params_dense": n_dense, "skipped": skipped}


def memory_cases(args, device, save) -> list[dict]:
    try:
        import bitsandbytes  # noqa: F401
        optimizer = "adam8bit"
    except Exception:
        optimizer = "adamw"
    rows = []
    path = Path(DEFAULT_PREDICTIONS)
    preds = json.loads(path.read_text()) if path.is_file() else {}
    for c in goal_cases(args.smoke, optimizer):
        model, ckpt = c["model"], c["grad_ckpt"]
        cfg = runconfig.RunConfig(model=model, method="sltrain", optimizer=optimizer, per_layer=True,
                                  batch_size=1, seq_len=c["seq"], precision="bf16", grad_ckpt=ckpt,
                                  index_dtype="auto", device=str(device), out="-", steps=10, warmup=1)
        row = {"model": model, "optimizer": optimizer, "per_layer": True, "grad_ckpt": ckpt,
               "index_dtype": "auto", "seq": c["seq"], "goal_bytes": GOALS.get(model),
               "predicted": preds.get(key(c))}
        try:
            # The allocator's history over the measured step says what is alive at its peak.
            with contextlib.ExitStack() as stack:
                recs = []
                res = measure(runconfig.fill_defaults(cfg),
                              on_peak_step=lambda: recs.append(stack.enter_context(recording(device))))
            if recs and recs[0].snapshot:
                row["peak_sites"] = peak_sites(recs[0].snapshot, base_bytes=recs[0].base_bytes)
            row.update(max_memory_allocated=res["max_memory_allocated"],
                       saved_activations=res["bytes"]["saved_activations"],
                       weights=res["bytes"]["weights"], optimizer_states=res["bytes"]["optimizer_states"])
            m = row["max_memory_allocated"]
            row["meets_goal"] = (m <= row["goal_bytes"]) if (m and row["goal_bytes"]) else None
        except torch.cuda.OutOfMemoryError as e:
            row["error"] = f"out of memory: {str(e)[:200]}"
        _free(device)
        rows.append(row)
        save(rows)  # a later case may run out of time
    return rows


def print_tables(res: dict) -> None:
    print(f"throughput: {res['config']['model']} seq {res['config']['seq']} batch {res['config']['batch']} bf16 "
          f"on {res['meta']['gpu'] or res['meta']['device']}")
    print(f"{'variant':28s} {'tokens/s':>10s} {'vs full':>8s} {'MFU':>7s} {'peak MiB':>9s}")
    full = next((r["tokens_per_s"] for r in res["throughput"] if r["variant"] == "full" and not r["compiled"]), None)
    for r in res["throughput"]:
        peak = f"{r['max_memory_allocated'] / 2**20:9.0f}" if r["max_memory_allocated"] else f"{'-':>9s}"
        rel = f"{r['tokens_per_s'] / full:8.2f}" if full else f"{'-':>8s}"
        print(f"{r['variant'] + (' compiled' if r['compiled'] else ''):28s} {r['tokens_per_s']:10.0f} {rel} "
              f"{r['mfu']:7.3f} {peak}")
    for k, why in res["throughput_skipped"].items():
        print(f"{k}: skipped ({why})")
    print("memory: one sequence, SLTrain, per-layer updates, CSR int16 support")
    print(f"{'model':10s} {'optimizer':9s} {'ckpt':5s} {'max alloc GB':>13s} {'predicted GB':>13s} {'goal GB':>8s} {'ok':>5s}")
    for r in res["memory"]:
        m, goal, pred = r.get("max_memory_allocated"), r["goal_bytes"], r.get("predicted")
        fm = f"{m / 1e9:13.3f}" if m else r.get("error", "-")[:13].rjust(13)
        fp = f"{pred / 1e9:13.3f}" if pred else "-".rjust(13)
        fg = f"{goal / 1e9:8.1f}" if goal else "-".rjust(8)
        print(f"{r['model']:10s} {r['optimizer']:9s} {str(r['grad_ckpt']):5s} {fm} {fp} {fg} {str(r.get('meets_goal')):>5s}")
    for r in res["memory"]:
        ps = r.get("peak_sites")
        if not ps:
            continue
        print(f"{r['model']} ckpt={r['grad_ckpt']}: alive at the peak ({ps['peak_bytes'] / 1e9:.3f} GB replayed; "
              f"{ps['base_bytes'] / 1e9:.3f} GB allocated before the step)")
        for site in ps["sites"][:10]:
            print(f"  {site['bytes'] / 2**20:10.1f} MiB {site['blocks']:6d} blocks  {site['site']}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default=str(ENGINE / "bench" / "results" / "gpu"))
    p.add_argument("--device", default="cuda")
    p.add_argument("--model", default="llama_1b")
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--compile-variants", default="full,sltrain-auto")
    p.add_argument("--peak-tflops", type=float, default=989.0)
    p.add_argument("--reference-dir", default=None)
    p.add_argument("--time-budget", type=float, default=120.0, help="start no throughput row after this")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--smoke", action="store_true", help="llama_tiny, seq 32, batch 2, 1 rep, no compile")
    args = p.parse_args(argv)
    if args.smoke:
        args.model, args.seq, args.batch, args.warmup, args.reps = "llama_tiny", 32, 2, 0, 1
        args.compile_variants = ""
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_perf: no CUDA device; use --smoke --device cpu to check the logic", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    t0 = time.monotonic()
    out = Path(args.out_dir) / "gpu_perf.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, info = throughput(args, device)
    res = {"meta": {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                    "device": str(device), "loadavg": list(os.getloadavg())},
           "config": {"model": args.model, "seq": args.seq, "batch": args.batch, "reps": args.reps,
                      "peak_tflops": args.peak_tflops, "n_params_dense": info["n_params_dense"]},
           "throughput": rows, "throughput_skipped": info["skipped"], "memory": []}

    def save(mem: list[dict]) -> None:
        res["memory"] = mem
        res["meta"]["seconds"] = round(time.monotonic() - t0, 1)
        out.write_text(json.dumps(res, indent=1) + "\n")

    save([])
    if not args.skip_memory:
        memory_cases(args, device, save)
    print_tables(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
