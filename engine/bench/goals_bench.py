"""The CPU speed goals side by side in one run: each preset's layer shapes (60M to 1B) and the
full-rank model against transformers.

    python bench/goals_bench.py [--smoke] [--presets llama_60m,...] [--tokens N] [--reps N]
                                [--model-presets llama_20m,llama_60m] [--reference-dir DIR] [--out PATH]

1. Layers: fwd+bwd of every distinct block linear shape of each preset (its SLTrain rank and delta,
   --tokens tokens, fp32): nn.Linear, our dense path, our factored path, "auto" (the measured choice,
   pathchoice.py, made here in this run with a fresh cache, as a training run makes it) and the
   reference SpLoRaLinear when its checkout is given (perf_bench.py says how). All variants of one
   shape are timed in interleaved rounds (round 0 is warm-up), so a change in machine load hits them
   alike; medians. Goals: auto <= the reference and <= the faster of our two paths.
2. Model: fwd+bwd of our full-rank LLaMA vs transformers' LlamaForCausalLM (attn_implementation
   "sdpa") built from the same config and weights, 8 x 128 tokens, interleaved. Goal: ours <= theirs.
Ratios > 1 say by how much a goal is missed. Writes JSON (default test/bench/results/goals_bench_cpu.json
at the repository root).
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

ENGINE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ENGINE))
sys.path.insert(0, str(ENGINE / "bench"))
from perf_bench import load_reference  # noqa: E402
from sltrain import pathchoice  # noqa: E402
from sltrain.config import MethodConfig  # noqa: E402
from sltrain.layers import SLTrainLinear  # noqa: E402
from sltrain.methods import build_model  # noqa: E402
from sltrain.runconfig import load_model_config, method_defaults  # noqa: E402

LAYER_PRESETS = "llama_60m,llama_130m,llama_350m,llama_1b"


def preset_shapes(preset: str) -> list[tuple[str, int, int]]:
    """(label, in, out) of each distinct block linear shape of the preset."""
    c = load_model_config(preset)
    head_dim = c.hidden_size // c.num_attention_heads
    shapes: dict[tuple[int, int], str] = {}
    for shape, name in (((c.hidden_size, c.hidden_size), "attn"), ((c.hidden_size, c.num_key_value_heads * head_dim), "kv"),
                        ((c.hidden_size, c.intermediate_size), "up"), ((c.intermediate_size, c.hidden_size), "down")):
        shapes.setdefault(shape, name)  # k/v of full multi-head attention are the attention shape
    return [(f"{preset} {name} {i}->{o}", i, o) for (i, o), name in shapes.items()]


def _interleaved(fns: dict, reps: int) -> dict[str, list[float]]:
    times = {k: [] for k in fns}
    for rep in range(reps + 1):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if rep:
                times[k].append(time.perf_counter() - t0)
    return times


def _layer_step(layer, x, gy):
    def step():
        layer(x).backward(gy)
        layer.zero_grad(set_to_none=True)
        x.grad = None
    return step


def bench_layers(presets: list[str], tokens: int, reps: int, ref_cls) -> list[dict]:
    rows = []
    for preset in presets:
        md = method_defaults(preset, "sltrain")
        rank, delta, alpha = md["rank"], md["delta"], float(md["alpha"])
        for label, in_f, out_f in preset_shapes(preset):
            torch.manual_seed(0)
            x = torch.randn(tokens, in_f, requires_grad=True)
            gy = torch.randn(tokens, out_f)
            layers = {"nn.Linear": torch.nn.Linear(in_f, out_f, bias=False)}
            for path in ("dense", "factored", "auto"):
                layers[path] = SLTrainLinear(in_f, out_f, rank, delta, alpha, support_seed=0, path=path)
                with torch.no_grad():
                    layers[path].B.normal_(0, 0.02)
            if ref_cls is not None:
                layers["reference"] = ref_cls(in_f, out_f, rank, sp_ratio=delta, lora_alpha=alpha, bias=False)
            layers["auto"](x.detach())  # the measured choice, made before the timed rounds
            chosen = layers["auto"]._auto[(tokens, "cpu", torch.float32, None)]
            times = _interleaved({k: _layer_step(m, x, gy) for k, m in layers.items()}, reps)
            ms = {k: round(1e3 * statistics.median(v), 2) for k, v in times.items()}
            faster = min(ms["dense"], ms["factored"])
            row = dict(case=label, tokens=tokens, rank=rank, delta=delta, ms=ms, auto_path=chosen,
                       auto_vs_faster_path=round(ms["auto"] / faster, 3),
                       auto_vs_reference=round(ms["auto"] / ms["reference"], 3) if "reference" in ms else None,
                       auto_vs_linear=round(ms["auto"] / ms["nn.Linear"], 3))
            rows.append(row)
            print(f"{label:<32} " + "  ".join(f"{k} {v:8.1f}" for k, v in ms.items())
                  + f"  auto={chosen}  auto/faster {row['auto_vs_faster_path']:.2f}"
                  + (f"  auto/ref {row['auto_vs_reference']:.2f}" if row["auto_vs_reference"] else ""), flush=True)
    return rows


def bench_models(presets: list[str], batch: int, seq: int, reps: int) -> list[dict]:
    import transformers
    rows = []
    for preset in presets:
        cfg = load_model_config(preset)
        ours = build_model(cfg, MethodConfig(method="full"), seed=0)
        hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**cfg.to_hf_dict(),
                                                                    attn_implementation="sdpa"))
        missing = hf.load_state_dict(ours.state_dict(), strict=False)
        ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(0))

        def ours_step():
            _, loss = ours(ids, ids)
            loss.backward()
            ours.zero_grad(set_to_none=True)

        def hf_step():
            hf(input_ids=ids, labels=ids).loss.backward()
            hf.zero_grad(set_to_none=True)
        times = _interleaved({"ours": ours_step, "transformers": hf_step}, reps)
        ms = {k: round(1e3 * statistics.median(v), 1) for k, v in times.items()}
        row = dict(model=preset, tokens=batch * seq, ms=ms, ours_vs_transformers=round(ms["ours"] / ms["transformers"], 3),
                   weights_not_shared=sorted(missing.missing_keys))
        rows.append(row)
        print(f"{preset:<12} full rank fwd+bwd  ours {ms['ours']:8.1f} ms  transformers (sdpa) "
              f"{ms['transformers']:8.1f} ms  ours/transformers {row['ours_vs_transformers']:.2f}", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="llama_tiny shapes, 64 tokens, 1 rep (seconds)")
    ap.add_argument("--presets", default=LAYER_PRESETS)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--model-presets", default="llama_20m,llama_60m")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reference-dir", default=None)
    ap.add_argument("--out", type=Path, default=ENGINE.parent / "test" / "bench" / "results" / "goals_bench_cpu.json")
    args = ap.parse_args(argv)
    if args.smoke:
        args.presets, args.model_presets, args.tokens, args.reps, args.batch, args.seq = \
            "llama_tiny", "llama_tiny", 64, 1, 2, 32
    torch.set_num_threads(args.threads)
    ref_cls, ref_reason = load_reference(args.reference_dir)
    with tempfile.TemporaryDirectory() as cache:  # a fresh measurement, not an earlier run's choice
        os.environ[pathchoice.PATH_CACHE_ENV] = str(Path(cache) / pathchoice.PATH_CACHE_NAME)
        pathchoice.configure()
        meta = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    cpu=platform.processor() or platform.machine(), torch=torch.__version__,
                    threads=torch.get_num_threads(), loadavg_before=list(os.getloadavg()), reps=args.reps,
                    reference=None if ref_cls else ref_reason)
        layers = bench_layers(args.presets.split(","), args.tokens, args.reps, ref_cls)
        models = bench_models(args.model_presets.split(","), args.batch, args.seq, args.reps)
    meta["loadavg_after"] = list(os.getloadavg())
    if ref_cls is None:
        print(f"reference layer: skipped ({ref_reason})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(meta=meta, layers=layers, models=models), indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
