"""Forward+backward time and saved-activation bytes of one SLTrain layer vs dense and low-rank.

    python bench/layer_bench.py [--smoke] [--device cpu|cuda|all] [--out PATH]

Rows: dense nn.Linear; low-rank (delta 0) and SLTrain, each through both SLTrainLinear paths.
CPU runs in fp32, CUDA in bf16. Prints a table and writes JSON (default
bench/results/layer_bench_<device>.json).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.autograd.graph import saved_tensors_hooks

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sltrain.layers import SLTrainLinear  # noqa: E402

# (label, in, out, rank, delta, tokens): the 60M-style square layer and the 1B preset's shapes.
FULL_CASES = [
    ("2048x2048 r128", 2048, 2048, 128, 0.03, 2048),
    ("1B up 2048->5461 r512", 2048, 5461, 512, 0.03, 2048),
    ("1B down 5461->2048 r512", 5461, 2048, 512, 0.03, 2048),
]
SMOKE_CASES = [("256x384 r32", 256, 384, 32, 0.03, 256)]
# llama_60m's three layer shapes at 4 x 256 tokens: where the factored path's CPU cost was fitted.
CASES_60M = [
    ("60M attn 512->512 r128", 512, 512, 128, 0.03, 1024),
    ("60M up 512->1376 r128", 512, 1376, 128, 0.03, 1024),
    ("60M down 1376->512 r128", 1376, 512, 128, 0.03, 1024),
]


def _variants(in_f, out_f, rank, delta, device, dtype):
    yield "dense", "-", torch.nn.Linear(in_f, out_f, bias=False, device=device, dtype=dtype)
    for name, d in (("lowrank", 0.0), ("sltrain", delta)):
        for path in ("dense", "factored"):
            layer = SLTrainLinear(in_f, out_f, rank, d, 32.0, support_seed=0, path=path, device=device, dtype=dtype)
            yield name, path, layer


def _saved_bytes(layer, x) -> int:
    """Extra bytes autograd keeps for backward: saved storages other than parameters and buffers
    (x itself counts, as it would for the next layer's input), each storage once."""
    own = {t.untyped_storage().data_ptr() for t in [*layer.parameters(), *layer.buffers()]}
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in own:
            storages[s.data_ptr()] = s.nbytes()
        return t

    with saved_tensors_hooks(pack, lambda t: t):
        layer(x)
    return sum(storages.values())


def _time_fwd_bwd(layer, x, gy, reps: int) -> float:
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    times = []
    for i in range(reps + 1):  # first run is warm-up
        sync()
        t0 = time.perf_counter()
        layer(x).backward(gy)
        sync()
        if i:
            times.append(time.perf_counter() - t0)
        layer.zero_grad(set_to_none=True)
        x.grad = None
    return statistics.median(times)


def run(cases, device: str, reps: int) -> list[dict]:
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    rows = []
    for label, in_f, out_f, rank, delta, tokens in cases:
        torch.manual_seed(0)
        x = torch.randn(tokens, in_f, device=device, dtype=dtype, requires_grad=True)
        gy = torch.randn(tokens, out_f, device=device, dtype=dtype)
        for name, path, layer in _variants(in_f, out_f, rank, delta, device, dtype):
            if isinstance(layer, SLTrainLinear):
                with torch.no_grad():
                    layer.B.normal_(0, 0.02)
            row = dict(case=label, method=name, path=path, device=device,
                       dtype=str(dtype).removeprefix("torch."), tokens=tokens)
            try:
                row.update(
                    fwd_bwd_ms=round(1e3 * _time_fwd_bwd(layer, x, gy, reps), 3),
                    saved_bytes=_saved_bytes(layer, x),
                    param_bytes=sum(p.numel() * p.element_size() for p in layer.parameters()),
                    buffer_bytes=sum(b.numel() * b.element_size() for b in layer.buffers()),
                )
                print(_fmt(row), flush=True)
            except RuntimeError as e:  # e.g. a sparse kernel missing on this backend: record it, go on
                row["error"] = str(e).splitlines()[0]
                print(f"{label:<26} {device:<5} {name:<8} {path:<9} failed: {row['error']}", flush=True)
            rows.append(row)
            del layer
    return rows


def _fmt(r: dict) -> str:
    return (f"{r['case']:<26} {r['device']:<5} {r['method']:<8} {r['path']:<9} {r['fwd_bwd_ms']:>10.2f} ms "
            f"saved {r['saved_bytes'] / 2**20:>8.2f} MiB  params {r['param_bytes'] / 2**20:>8.2f} MiB  "
            f"idx {r['buffer_bytes'] / 2**20:>6.2f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny shapes, one repetition (seconds)")
    ap.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions after one warm-up (default 1)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--cases", default="full", choices=["full", "60m"], help="layer shapes (default: 2048², 1B)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.device != "all":
        devices = [args.device]
    cases = SMOKE_CASES if args.smoke else {"full": FULL_CASES, "60m": CASES_60M}[args.cases]
    reps = args.reps or 1
    rows = [row for d in devices for row in run(cases, d, reps)]
    tag = "_smoke" if args.smoke else ("_60m" if args.cases == "60m" else "")
    default_name = f"layer_bench_{'_'.join(devices)}{tag}.json"
    out = args.out or Path(__file__).parent / "results" / default_name
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        torch=torch.__version__, threads=torch.get_num_threads(), loadavg_1min=os.getloadavg()[0],
        gpu=torch.cuda.get_device_name() if "cuda" in devices else None, reps=reps,
    )
    out.write_text(json.dumps(dict(meta=meta, results=rows), indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
