"""Speed and memory paths: the auto layer path, the lean RMSNorm and the chunked loss match their references."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.autograd.graph import saved_tensors_hooks

from sltrain.layers import SLTrainLinear, choose_path, path_costs
from sltrain.model import CausalLMLoss, RMSNorm, RMSNormFunction

ENGINE = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("in_f,out_f,rank,nnz,tokens,device,want", [
    (128, 352, 32, 1351, 4096, "cpu", "dense"),        # llama_tiny MLP: too narrow for r 32 to save much
    (512, 1376, 128, 21135, 1024, "cpu", "factored"),  # llama_60m MLP (layer_bench --cases 60m)
    (512, 512, 128, 7864, 1024, "cpu", "dense"),       # llama_60m attention: the sparse products cost more
    (128, 128, 32, 491, 4096, "cpu", "dense"),         # llama_tiny attention
    (2048, 2048, 128, 125829, 2048, "cpu", "factored"),  # measured 1.4-2.7x faster factored
    (128, 128, 32, 0, 4096, "cpu", "factored"),        # low rank: no sparse product at all
    (2048, 5461, 512, 335523, 2048, "cuda", "dense"),  # the paper's dense path on the GPU at 1B
])
def test_auto_path_choice(in_f, out_f, rank, nnz, tokens, device, want):
    assert choose_path(in_f, out_f, rank, nnz, tokens, device) == want
    assert set(path_costs(in_f, out_f, rank, nnz, tokens, device)) == {"dense", "factored"}


def test_half_precision_counts_the_fp32_sparse_products():
    # 2048², r 128, 2048 tokens on a CPU with bf16 matmuls: factored wins in fp32 (236 vs 524 ms) but
    # dense wins in bf16 (135 vs 220 ms), since the CSR products run in fp32.
    args = (2048, 2048, 128, 125829, 2048, "cpu")
    assert choose_path(*args, torch.float32) == "factored"
    fp32, bf16 = path_costs(*args, torch.float32), path_costs(*args, torch.bfloat16)
    assert bf16["dense"] == fp32["dense"] and bf16["factored"] >= fp32["factored"]
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        assert choose_path(*args, torch.bfloat16) == "dense"


def test_auto_layer_matches_explicit_paths_and_decides_once_per_token_count():
    torch.manual_seed(0)
    auto = SLTrainLinear(32, 48, 4, 0.1, 8.0, support_seed=3, path="auto", dtype=torch.float64)
    x = torch.randn(5, 32, dtype=torch.float64)
    ys = {}
    for path in ("dense", "factored", "auto"):
        auto.path = path
        ys[path] = auto(x)
    torch.testing.assert_close(ys["auto"], ys["dense"])
    torch.testing.assert_close(ys["factored"], ys["dense"])
    assert list(auto._auto) == [(5, "cpu", torch.float64, None)]


def _reference_rmsnorm(x, w, eps):
    x32 = x.float()
    return w * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def test_rmsnorm_gradcheck_float64():
    x = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    w = torch.rand(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: RMSNormFunction.apply(a, b, 1e-6), (x, w))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rmsnorm_equals_hf_expression(dtype):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16, dtype=dtype, requires_grad=True)
    w = (torch.rand(16) + 0.5).to(dtype).requires_grad_()
    gy = torch.randn(3, 5, 16, dtype=dtype)
    y1 = RMSNormFunction.apply(x, w, 1e-6)
    g1 = torch.autograd.grad(y1, (x, w), gy)
    y2 = _reference_rmsnorm(x, w, 1e-6)
    g2 = torch.autograd.grad(y2, (x, w), gy)
    assert torch.equal(y1, y2) and y1.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1.6e-2, atol=1e-2)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, **tol)


def _saved_bytes(fn) -> int:
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


@pytest.mark.parametrize("dtype,a", [(torch.float32, 4), (torch.bfloat16, 2)])
def test_rmsnorm_saves_input_and_rstd_only(dtype, a):
    N, C = 12, 32
    norm = RMSNorm(C, 1e-6, dtype=dtype)
    x = torch.randn(N, C, dtype=dtype, requires_grad=True)
    own = norm.weight.untyped_storage().nbytes()
    assert _saved_bytes(lambda: norm(x)) - own == N * C * a + N * 4
    # the plain expression keeps an fp32 x, rstd and the normalised tensor: 4·N·C bytes more
    assert _saved_bytes(lambda: _reference_rmsnorm(x, norm.weight, 1e-6)) - own == N * C * (4 + a) + N * 4


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_causal_lm_loss_equals_cross_entropy(dtype, monkeypatch):
    monkeypatch.setattr(CausalLMLoss, "CHUNK_BYTES", 7 * 11 * 4 * 2)  # two sequences per chunk
    torch.manual_seed(0)
    logits = torch.randn(3, 7, 11, dtype=dtype, requires_grad=True)
    labels = torch.randint(0, 11, (3, 7))
    labels[0, 3] = labels[2, 6] = -100
    l1 = CausalLMLoss.apply(logits, labels)
    g1, = torch.autograd.grad(l1, logits)
    l2 = F.cross_entropy(logits[:, :-1].float().reshape(-1, 11), labels[:, 1:].reshape(-1), ignore_index=-100)
    g2, = torch.autograd.grad(l2, logits)
    torch.testing.assert_close(l1.float(), l2, rtol=1e-6, atol=1e-6)
    assert g1.dtype == dtype
    torch.testing.assert_close(g1.float(), g2.float(), rtol=1e-5, atol=1e-7)


def test_causal_lm_loss_gradcheck_float64():
    logits = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 4, (2, 5))
    labels[1, 2] = -100
    assert torch.autograd.gradcheck(lambda z: CausalLMLoss.apply(z, labels), (logits,))


def test_perf_bench_smoke_runs(tmp_path):
    out = tmp_path / "perf.json"
    r = subprocess.run([sys.executable, str(ENGINE / "bench" / "perf_bench.py"), "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=120, cwd=ENGINE)
    assert r.returncode == 0, r.stderr
    import json
    res = json.loads(out.read_text())
    assert {x["variant"] for x in res["results"]} == {"full", "lowrank", "sltrain-dense", "sltrain-factored",
                                                      "sltrain-auto"}
    assert all(x["tokens_per_s"] > 0 for x in res["results"])
    assert "reference-sltrain" in res["skipped"] and "loadavg_after" in res["meta"]
    assert "tokens/s" in r.stdout


def test_gpu_check_smoke_runs_both_scripts_on_cpu(tmp_path):
    """The GPU scripts' logic on tiny sizes: planner calls (a stub here), measurement, JSON and tables."""
    import json
    import os
    stub = tmp_path / "planner.py"
    stub.write_text('import json\nprint(json.dumps({"peak": {"bytes": 1048576}}))\n')
    env = {**os.environ, "PYTHON": sys.executable, "SLTRAIN_PLANNER": f"{sys.executable} {stub}"}
    r = subprocess.run(["bash", str(ENGINE / "bench" / "gpu_check.sh"), str(tmp_path / "out"), "--smoke"],
                       capture_output=True, text=True, timeout=300, cwd=ENGINE, env=env)
    assert r.returncode == 0, r.stderr
    assert "failed" not in r.stdout, r.stdout + r.stderr
    mem = json.loads((tmp_path / "out" / "gpu_memory_check.json").read_text())
    ran = [x for x in mem["results"] if "skipped" not in x]
    assert ran and all(x["predicted"] == 1048576 and x["static_bytes"] > 0 for x in ran)
    perf = json.loads((tmp_path / "out" / "gpu_perf.json").read_text())
    assert {x["variant"] for x in perf["throughput"]} >= {"full", "sltrain-auto", "sltrain-factored"}
    assert len(perf["memory"]) == 2 and all("saved_activations" in x for x in perf["memory"])
    assert "tokens/s" in r.stdout and "median |error|" in r.stdout


def test_memory_sites_replays_a_trace_to_its_peak():
    # A trace in the allocator snapshot's format: the peak is after the third alloc, with the first
    # block freed by then; frames under sltrain/ name the site.
    sys.path.insert(0, str(ENGINE / "bench"))
    from memory_sites import peak_sites

    def ev(action, addr, size, file="/x/sltrain/model.py", line=1, name="forward"):
        return {"action": action, "addr": addr, "size": size, "frames": [
            {"filename": "/usr/lib/torch/nn/functional.py", "line": 9, "name": "linear"},
            {"filename": file, "line": line, "name": name}]}

    trace = [ev("alloc", 1, 100, line=10), ev("alloc", 2, 50, line=20), ev("free_requested", 1, 100),
             ev("free_completed", 1, 100), ev("alloc", 3, 300, file="/y/bitsandbytes/optim.py", line=5, name="step"),
             ev("free_completed", 3, 300), ev("alloc", 4, 10, line=10)]
    got = peak_sites({"device_traces": [trace]}, base_bytes=1000)
    assert got["peak_bytes"] == 1000 + 50 + 300
    assert [(s["site"], s["bytes"], s["blocks"]) for s in got["sites"]] == [
        ("bitsandbytes/optim.py:5 step", 300, 1), ("sltrain/model.py:20 forward", 50, 1)]
    assert peak_sites({"device_traces": []}, base_bytes=7)["peak_bytes"] == 7


def test_torch_compile_gives_the_eager_loss_and_gradients():
    # gpu_perf.py times compiled models; the custom autograd functions and the released activations
    # (skipped while tracing) must compile and give what eager mode gives.
    from sltrain.config import LlamaConfig, MethodConfig
    from sltrain.methods import build_model

    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=88, num_attention_heads=4,
                      num_key_value_heads=4, num_hidden_layers=1, max_position_embeddings=32)
    model = build_model(cfg, MethodConfig(method="sltrain", rank=8, delta=0.1), seed=0)
    ids = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(0))
    _, eager = model(ids, ids)
    eager.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    _, loss = torch.compile(model)(ids, ids)
    loss.backward()
    torch.testing.assert_close(loss, eager)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, want[n], rtol=1e-5, atol=1e-6, msg=n)


def test_bf16_factored_forward_rounds_once():
    # Low rank and sparse part summed in fp32 and rounded once: closer to the float64 product of the same
    # bf16 tensors than rounding the low-rank output to bf16 before adding the sparse part.
    from sltrain.layers import SLTrainMatmul
    torch.manual_seed(0)
    lay = SLTrainLinear(256, 192, 64, 0.05, 64.0, support_seed=1, path="factored", dtype=torch.bfloat16)
    with torch.no_grad():
        lay.B.normal_(0, 0.05)
    x = torch.randn(512, 256, dtype=torch.bfloat16)
    crow, idx = lay._support()
    y = SLTrainMatmul.apply(x, lay.A, lay.B, lay.values, crow, idx, lay.scale, True)
    assert y.dtype == torch.bfloat16
    W = lay.B.double() @ (lay.A.double() * lay.scale)  # the weight in float64 (weight_dense would round)
    W.view(-1).index_add_(0, lay.flat_indices(), lay.values.double())
    ref = x.double() @ W.T
    h = x @ (lay.A * lay.scale).T
    S = torch.sparse_csr_tensor(crow.long(), idx.long(), lay.values.float(), (192, 256), check_invariants=True)
    twice = (h @ lay.B.T).float().add_((S @ x.float().T).T).to(torch.bfloat16)  # the previous arithmetic
    err_once, err_twice = (y.double() - ref).abs().mean(), (twice.double() - ref).abs().mean()
    print(f"mean |error| vs float64: rounded once {err_once:.3e}, twice {err_twice:.3e}")
    assert err_once < 0.9 * err_twice, (err_once, err_twice)


def test_goals_bench_smoke_runs(tmp_path):
    import json
    out = tmp_path / "goals.json"
    r = subprocess.run([sys.executable, str(ENGINE / "bench" / "goals_bench.py"), "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=ENGINE)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res["layers"] and all({"nn.Linear", "dense", "factored", "auto"} <= set(x["ms"]) for x in res["layers"])
    assert all(x["auto_path"] in ("dense", "factored") and x["auto_vs_faster_path"] > 0 for x in res["layers"])
    (m,) = res["models"]
    assert m["weights_not_shared"] == [] and m["ours_vs_transformers"] > 0  # the same weights in both
    assert "reference" in res["meta"] and "ours/transformers" in r.stdout
