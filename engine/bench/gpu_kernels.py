"""GPU fwd+bwd time of one SLTrain layer: the fused Triton kernels vs the dense path, cuSPARSE
(torch.sparse) and the reference layer, at the 1B preset's shapes.

    python bench/gpu_kernels.py [--reps N] [--tokens T] [--reference-dir DIR] [--out PATH]

bf16, r 512, delta 0.03, T tokens (default 2048 = 8 x 256). Rows: nn.Linear; SLTrainLinear dense path;
factored path with the Triton kernels; factored path with torch's CSR kernels (cuSPARSE, the Triton
kernels switched off); the reference SpLoRaLinear when its checkout is given (see perf_bench.py), and
the largest |difference| of each row's output from the dense path's. Without CUDA it says so, writes
the JSON with the reason and exits 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ENGINE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ENGINE))
sys.path.insert(0, str(ENGINE / "bench"))
from perf_bench import load_reference  # noqa: E402
from sltrain import kernels  # noqa: E402
from sltrain.layers import SLTrainLinear  # noqa: E402

CASES = [("1B attn 2048->2048", 2048, 2048), ("1B up 2048->5461", 2048, 5461), ("1B down 5461->2048", 5461, 2048)]
RANK, DELTA, ALPHA = 512, 0.03, 32.0


def _time(fn, reps: int) -> float:
    fn()  # warm-up (Triton compiles here)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def run(args) -> list[dict]:
    dev, dt = torch.device("cuda"), torch.bfloat16
    ref_cls, ref_reason = load_reference(args.reference_dir)
    rows = []
    for label, in_f, out_f in CASES:
        torch.manual_seed(0)
        x = torch.randn(args.tokens, in_f, device=dev, dtype=dt, requires_grad=True)
        gy = torch.randn(args.tokens, out_f, device=dev, dtype=dt)
        sl = SLTrainLinear(in_f, out_f, RANK, DELTA, ALPHA, support_seed=0, path="dense", device=dev, dtype=dt)
        with torch.no_grad():
            sl.B.normal_(0, 0.02)
        variants = {"nn.Linear": (torch.nn.Linear(in_f, out_f, bias=False, device=dev, dtype=dt), None),
                    "sltrain dense path": (sl, ("dense", True)),
                    "sltrain triton kernels": (sl, ("factored", True)),
                    "sltrain cuSPARSE": (sl, ("factored", False))}
        if ref_cls is not None:
            variants["reference layer"] = (ref_cls(in_f, out_f, RANK, sp_ratio=DELTA, lora_alpha=ALPHA, bias=False,
                                                   device=dev, dtype=dt), None)
        want = None
        for name, (layer, mode) in variants.items():
            if mode:
                layer.path, kernels.ENABLED = mode

            def step():
                layer(x).backward(gy)
                layer.zero_grad(set_to_none=True)
                x.grad = None
            row = dict(case=label, variant=name, tokens=args.tokens, dtype="bfloat16")
            try:
                row["fwd_bwd_ms"] = round(_time(step, args.reps), 3)
                if layer is sl:
                    with torch.no_grad():
                        y = layer(x).float()
                    want = y if want is None else want
                    row["max_abs_diff_vs_dense_path"] = float((y - want).abs().max())
            except Exception as e:  # a kernel missing on this GPU or toolchain: recorded, the rest go on
                row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            kernels.ENABLED = True
            rows.append(row)
            print(f"{label:<22} {name:<24} " + (f"{row['fwd_bwd_ms']:>9.2f} ms" if "fwd_bwd_ms" in row
                                                 else f"failed: {row['error']}"), flush=True)
    if ref_cls is None:
        print(f"reference layer skipped: {ref_reason}")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--reference-dir", default=None)
    ap.add_argument("--out", type=Path, default=ENGINE / "bench" / "results" / "gpu_kernels.json")
    args = ap.parse_args()
    meta = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                torch=torch.__version__)
    if not torch.cuda.is_available():
        print("gpu_kernels: no CUDA device here; nothing timed")
        result = dict(meta=meta, skipped="no CUDA device", results=[])
    elif not kernels.usable(torch.empty(1, device="cuda", dtype=torch.bfloat16)):
        print("gpu_kernels: Triton is not importable; nothing timed")
        result = dict(meta=meta, skipped="Triton not importable", results=[])
    else:
        meta["gpu"] = torch.cuda.get_device_name()
        result = dict(meta=meta, results=run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
