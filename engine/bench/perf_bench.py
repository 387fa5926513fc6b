"""Training throughput (tokens/s) of full rank vs SLTrain (each layer path) vs low rank, on one device.

    python bench/perf_bench.py [--smoke] [--model llama_20m] [--seq 256] [--batch 4]
                               [--dtypes fp32,bf16] [--reps 5] [--device cpu]
                               [--reference-dir DIR] [--out PATH]

Every row trains the same decoder (our model, same micro-batch, AdamW) and differs only in the seven
block linears: nn.Linear (full), SLTrainLinear with delta 0 (lowrank), SLTrainLinear with path dense /
factored / auto, and, when the reference implementation is given (--reference-dir or
SLTRAIN_REFERENCE_DIR: a checkout of github.com/andyjm3/SLTrain with its `sparse-lora` extension
built in place), its SpLoRaLinear with the same rank, delta and alpha. Nothing of the reference is
bundled here; without it that row is skipped with a message.

One timed step = forward + backward + optimizer step. Variants are timed round-robin, `--reps`
rounds after one warm-up step each, so background load hits them alike; the JSON keeps every wall
time, the median, the fastest step, the process CPU time (less sensitive to other processes on a shared machine) and
the load average before and after. Default output: bench/results/perf_bench_<device>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sltrain import pathchoice  # noqa: E402
from sltrain.config import MethodConfig  # noqa: E402
from sltrain.layers import SLTrainLinear  # noqa: E402
from sltrain.methods import BLOCK_LINEARS, build_model  # noqa: E402
from sltrain.runconfig import load_model_config, method_defaults  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def meta(device: torch.device) -> dict:
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu_model(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "loadavg_before": list(os.getloadavg())}


def load_reference(ref_dir: str | None):
    """SpLoRaLinear from a reference checkout, or (None, reason)."""
    ref_dir = ref_dir or os.environ.get("SLTRAIN_REFERENCE_DIR")
    if not ref_dir:
        return None, "no --reference-dir / SLTRAIN_REFERENCE_DIR given"
    root = Path(ref_dir)
    if not (root / "splora" / "splora_linear.py").is_file():
        return None, f"{root} holds no splora/splora_linear.py (a checkout of andyjm3/SLTrain)"
    for p in (root / "sparse-lora", root):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    try:
        from splora.splora_linear import SpLoRaLinear
    except ImportError as e:  # its C++ extension `sltrain_linear` is not built
        return None, f"cannot import the reference layer ({e}); build its sparse-lora extension in place"
    return SpLoRaLinear, None


def _swap_reference(model, cls, rank: int, delta: float, alpha: float, device, dtype) -> None:
    torch.manual_seed(0)
    for layer in model.model.layers:
        for rel in BLOCK_LINEARS:
            parent_name, attr = rel.split(".")
            parent = getattr(layer, parent_name)
            lin = getattr(parent, attr)
            setattr(parent, attr, cls(lin.in_features, lin.out_features, rank, sp_ratio=delta, lora_alpha=alpha,
                                      bias=False, device=device, dtype=dtype))


def build_variant(name: str, model_cfg, preset: str, device, dtype, ref_cls):
    md = method_defaults(preset, "sltrain")
    rank, delta, alpha = md["rank"], md["delta"], float(md["alpha"])
    method, path = {"full": ("full", None), "lowrank": ("lowrank", "auto"), "sltrain-dense": ("sltrain", "dense"),
                    "sltrain-factored": ("sltrain", "factored"), "sltrain-auto": ("sltrain", "auto"),
                    "reference-sltrain": ("full", None)}[name]
    mcfg = MethodConfig(method=method, rank=rank, delta=delta if method == "sltrain" else 0.0, alpha=alpha)
    model = build_model(model_cfg, mcfg, seed=0, device=device, dtype=dtype)
    if name == "reference-sltrain":
        _swap_reference(model, ref_cls, rank, delta, alpha, device, dtype)
    for m in model.modules():
        if isinstance(m, SLTrainLinear) and path:
            m.path = path
    return model


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(args) -> dict:
    device = torch.device(args.device)
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    model_cfg = load_model_config(args.model)
    ref_cls, ref_skip = load_reference(args.reference_dir)
    if ref_skip:
        print(f"reference-sltrain: skipped ({ref_skip})", file=sys.stderr)
    names = ["full", "lowrank", "sltrain-dense", "sltrain-factored", "sltrain-auto"]
    if ref_cls is not None:
        names.append("reference-sltrain")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, model_cfg.vocab_size, (args.batch, args.seq), generator=g).to(device)
    tokens = args.batch * args.seq
    out = {"meta": meta(device), "config": {"model": args.model, "seq": args.seq, "batch": args.batch,
                                             "tokens_per_step": tokens, "reps": args.reps, "device": str(device)},
           "skipped": {"reference-sltrain": ref_skip} if ref_skip else {}, "results": []}
    for dname in args.dtypes.split(","):
        dtype = DTYPES[dname]
        runs = {}
        for name in names:
            model = build_variant(name, model_cfg, args.model, device, dtype, ref_cls)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            runs[name] = {"model": model, "opt": opt, "wall": [], "cpu": []}
        step = 0
        for rep in range(args.reps + 1):  # round 0 is the warm-up
            for name in names:
                r = runs[name]
                _sync(device)
                w0, c0 = time.perf_counter(), time.process_time()
                _, loss = r["model"](x, x)
                loss.backward()
                r["opt"].step()
                r["opt"].zero_grad(set_to_none=True)
                _sync(device)
                if rep:
                    r["wall"].append(time.perf_counter() - w0)
                    r["cpu"].append(time.process_time() - c0)
                step += 1
        for name in names:
            r = runs[name]
            auto = sorted({f"{m.in_features}x{m.out_features}:{m._auto.get((tokens, device.type, dtype, None), m.path)}"
                           for m in r["model"].modules() if isinstance(m, SLTrainLinear)})
            med, best = statistics.median(r["wall"]), min(r["wall"])
            out["results"].append({
                "variant": name, "dtype": dname, "step_s_median": round(med, 4), "step_s_min": round(best, 4),
                "step_s_all": [round(t, 4) for t in r["wall"]],
                "cpu_s_median": round(statistics.median(r["cpu"]), 4),
                "tokens_per_s": round(tokens / med, 1),
                "tokens_per_s_best": round(tokens / best, 1),  # least disturbed step on a shared machine
                "trainable_params": sum(p.numel() for p in r["model"].parameters() if p.requires_grad),
                "layer_paths": auto,
            })
        del runs
    out["meta"]["loadavg_after"] = list(os.getloadavg())
    return out


def print_table(res: dict) -> None:
    cfg = res["config"]
    print(f"{cfg['model']} seq {cfg['seq']} batch {cfg['batch']} on {cfg['device']} "
          f"({res['meta']['cpu'] if cfg['device'] == 'cpu' else res['meta']['gpu']}), "
          f"load {res['meta']['loadavg_before'][0]:.1f} -> {res['meta']['loadavg_after'][0]:.1f}")
    print(f"{'variant':20s} {'dtype':5s} {'step s':>8s} {'cpu s':>8s} {'tokens/s':>10s} {'vs full':>8s} "
          f"{'best tok/s':>11s} {'vs full':>8s}")
    full = {r["dtype"]: r for r in res["results"] if r["variant"] == "full"}
    for r in res["results"]:
        f = full[r["dtype"]]
        print(f"{r['variant']:20s} {r['dtype']:5s} {r['step_s_median']:8.3f} {r['cpu_s_median']:8.3f} "
              f"{r['tokens_per_s']:10.0f} {r['tokens_per_s'] / f['tokens_per_s']:8.2f} "
              f"{r['tokens_per_s_best']:11.0f} {r['tokens_per_s_best'] / f['tokens_per_s_best']:8.2f}")
    for k, why in res["skipped"].items():
        print(f"{k}: skipped ({why})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="llama_tiny, seq 32, batch 2, fp32, 1 rep (seconds)")
    p.add_argument("--model", default="llama_20m")
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--dtypes", default="fp32,bf16")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--reference-dir", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.smoke:
        args.model, args.seq, args.batch, args.dtypes, args.reps = "llama_tiny", 32, 2, "fp32", 1
    with tempfile.TemporaryDirectory() as cache:  # "auto" measures its paths here, as a training run does
        os.environ[pathchoice.PATH_CACHE_ENV] = str(Path(cache) / pathchoice.PATH_CACHE_NAME)
        pathchoice.configure()
        res = run(args)
    out = Path(args.out or Path(__file__).parent / "results" / f"perf_bench_{torch.device(args.device).type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print_table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
