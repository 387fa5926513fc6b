"""SLTrainLinear / ReLoRALinear against a float64 dense reference W = s·B·A + S."""

import math

import pytest
import torch
from torch.autograd.graph import saved_tensors_hooks

from sltrain.errors import ConfigError
from sltrain.layers import ReLoRALinear, SLTrainLinear, SLTrainMatmul, resolve_index_dtype, support_seed_for

PATHS = ["dense", "factored"]
LAYOUTS = ["int16", "int64"]  # CSR with int16 columns; flat positions as the reference stores them


def _layer(in_f=7, out_f=5, rank=3, delta=0.2, alpha=6.0, path="dense", seed=11, dtype=torch.float64,
           index_dtype="auto"):
    layer = SLTrainLinear(in_f, out_f, rank, delta, alpha, support_seed=seed, path=path, dtype=dtype,
                          index_dtype=index_dtype)
    with torch.no_grad():  # B starts at zero; randomise it so every gradient term is exercised
        layer.B.normal_()
    return layer


def _reference_weight(layer):
    """Independent dense construction from the factors (row-major flat indices)."""
    W = layer.scale * layer.B @ layer.A
    if layer.values is not None:
        S = torch.zeros(layer.out_features * layer.in_features, dtype=W.dtype)
        S = S.scatter(0, layer.flat_indices(), layer.values)
        W = W + S.view(layer.out_features, layer.in_features)
    return W


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("delta", [0.0, 0.2])
def test_gradcheck_every_path(path, delta, layout):
    layer = _layer(delta=delta, path=path, index_dtype=layout)
    x = torch.randn(2, 3, 7, dtype=torch.float64, requires_grad=True)
    inputs = [x, layer.A, layer.B] + ([layer.values] if delta else [])
    crow, idx = layer._support()

    def f(x, A, B, *values):
        return SLTrainMatmul.apply(x, A, B, values[0] if values else None, crow, idx, layer.scale, path == "factored")

    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", PATHS)
def test_forward_and_gradients_equal_dense_reference(path, layout):
    layer = _layer(in_f=9, out_f=6, rank=2, delta=0.3, path=path, index_dtype=layout)
    x = torch.randn(4, 9, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(4, 6, dtype=torch.float64)
    y = layer(x)
    y.backward(gy)
    got = [x.grad, layer.A.grad, layer.B.grad, layer.values.grad]

    params = [p.detach().clone().requires_grad_() for p in (layer.A, layer.B, layer.values)]
    x_ref = x.detach().clone().requires_grad_()
    A, B, v = params
    S = torch.zeros(6 * 9, dtype=torch.float64).index_add(0, layer.flat_indices(), v).view(6, 9)
    y_ref = x_ref @ (layer.scale * B @ A + S).T
    y_ref.backward(gy)
    torch.testing.assert_close(y, y_ref)
    for g, r in zip(got, [x_ref.grad, A.grad, B.grad, v.grad]):
        torch.testing.assert_close(g, r)


@pytest.mark.parametrize("path", PATHS)
def test_no_dense_tensor_saved_for_backward(path):
    out_f, in_f = 12, 10
    layer = _layer(in_f=in_f, out_f=out_f, rank=2, delta=0.1, path=path, dtype=torch.float32)
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    x = torch.randn(3, in_f, requires_grad=True)
    with saved_tensors_hooks(pack, lambda t: t):
        y = layer(x)
    y.sum().backward()  # still differentiable after the hooks
    assert shapes and (out_f, in_f) not in shapes and (in_f, out_f) not in shapes
    assert all(math.prod(s) < out_f * in_f for s in shapes)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("index_dtype", ["int16", "int32", "int64"])
def test_paths_agree_and_weight_dense(path, index_dtype):
    torch.manual_seed(0)
    layer = SLTrainLinear(16, 24, 4, 0.05, 8.0, support_seed=5, path=path, index_dtype=index_dtype)
    with torch.no_grad():
        layer.B.normal_()
    x = torch.randn(2, 5, 16, requires_grad=True)
    y = layer(x)
    torch.testing.assert_close(y, x @ _reference_weight(layer).T, atol=1e-5, rtol=1e-5)
    y.sum().backward()
    assert layer.values.grad is not None and x.grad is not None
    torch.testing.assert_close(layer.weight_dense(), _reference_weight(layer))


def test_support_properties():
    in_f, out_f, delta = 37, 23, 0.07
    a = SLTrainLinear(in_f, out_f, 4, delta, 8.0, support_seed=support_seed_for(0, "model.layers.0.mlp.up_proj"))
    b = SLTrainLinear(in_f, out_f, 4, delta, 8.0, support_seed=support_seed_for(0, "model.layers.0.mlp.up_proj"))
    c = SLTrainLinear(in_f, out_f, 4, delta, 8.0, support_seed=support_seed_for(0, "model.layers.1.mlp.up_proj"))
    nnz = int(delta * (in_f * out_f))
    idx = a.flat_indices()
    assert idx.numel() == nnz == a.values.numel()
    assert torch.equal(idx, idx.sort().values) and idx.unique().numel() == nnz
    assert int(idx.min()) >= 0 and int(idx.max()) < in_f * out_f
    assert torch.equal(a.flat_indices(), b.flat_indices()) and not torch.equal(a.flat_indices(), c.flat_indices())
    # CSR storage: monotone row offsets ending at nnz, 2-byte columns that address the same positions
    assert a.index_layout == "csr" and a.col_indices.dtype == torch.int16 and a.indices is None
    crow = a.crow_indices.long()
    assert crow[0] == 0 and crow[-1] == nnz and torch.all(crow.diff() >= 0) and crow.numel() == out_f + 1
    assert torch.equal(crow.diff(), torch.bincount(idx // in_f, minlength=out_f))
    assert torch.equal(a.col_indices.long(), idx % in_f)
    assert support_seed_for(0, "x") == support_seed_for(0, "x") != support_seed_for(1, "x")


def test_support_is_uniform_over_all_positions():
    # Not per row: row counts vary, and every position is hit about equally often over many seeds.
    hits = torch.zeros(6 * 5)
    for seed in range(400):
        layer = SLTrainLinear(5, 6, 1, 0.2, 1.0, support_seed=seed)
        hits[layer.flat_indices()] += 1
    expected = 400 * math.floor(0.2 * 30) / 30
    assert (hits - expected).abs().max() < 0.35 * expected


def test_init_ranges_and_lowrank_has_no_sparse_part():
    layer = SLTrainLinear(64, 32, 8, 0.1, 16.0, support_seed=0)
    bound = 1 / math.sqrt(64)
    assert layer.A.abs().max() <= bound and layer.A.abs().max() > 0.8 * bound
    assert layer.values.abs().max() <= bound and torch.all(layer.B == 0)
    assert layer.scale == 2.0
    low = SLTrainLinear(64, 32, 8, 0.0, 16.0, support_seed=0)
    assert low.values is None and low.indices is None and low.col_indices is None and low.flat_indices() is None
    assert [n for n, _ in low.named_parameters()] == ["A", "B"] and not list(low.buffers())
    assert "rank=8" in repr(layer) and "nnz=204" in repr(layer)


def test_index_dtype_selection():
    assert resolve_index_dtype("auto", 11008, 4096) == ("csr", torch.int16)
    assert resolve_index_dtype("auto", 8, 2**15) == ("csr", torch.int16)
    assert resolve_index_dtype("auto", 8, 2**15 + 1) == ("flat", torch.int32)
    assert resolve_index_dtype("auto", 2**16, 2**16) == ("flat", torch.int64)
    assert resolve_index_dtype("int32", 4, 4) == ("flat", torch.int32)
    assert resolve_index_dtype("int64", 2, 5) == ("flat", torch.int64)
    with pytest.raises(ConfigError, match="int32 cannot address"):
        resolve_index_dtype("int32", 2**16, 2**15)
    with pytest.raises(ConfigError, match="int16 cannot address 40000 input columns"):
        resolve_index_dtype("int16", 8, 40000)
    with pytest.raises(ConfigError, match="auto, int16, int32, int64"):
        resolve_index_dtype("uint8", 8, 8)
    forced = SLTrainLinear(8, 8, 2, 0.5, 1.0, support_seed=0, index_dtype="int64")
    assert forced.indices.dtype == torch.int64 and forced.col_indices is None
    flat32 = SLTrainLinear(8, 8, 2, 0.5, 1.0, support_seed=0, index_dtype="int32")
    assert flat32.indices.dtype == torch.int32
    csr = SLTrainLinear(8, 8, 2, 0.5, 1.0, support_seed=0)
    assert csr.crow_indices.dtype == torch.int32 and csr.col_indices.dtype == torch.int16
    assert torch.equal(csr.flat_indices(), forced.flat_indices())  # same support in every layout
    meta = SLTrainLinear(50000, 50000, 2, 0.01, 1.0, support_seed=0, device="meta")
    assert meta.indices.dtype == torch.int64 and meta.indices.numel() == 25_000_000


@pytest.mark.parametrize("path", PATHS)
def test_bf16_layer_runs_on_cpu(path):
    layer = _layer(in_f=16, out_f=8, rank=4, delta=0.1, path=path, dtype=torch.bfloat16)
    x = torch.randn(3, 16, dtype=torch.bfloat16, requires_grad=True)
    layer(x).float().sum().backward()
    assert all(t.grad.dtype == torch.bfloat16 for t in (x, layer.A, layer.B, layer.values))
    ref = x.float() @ _reference_weight(layer).float().T
    torch.testing.assert_close(layer(x).float(), ref, atol=0.05, rtol=0.05)


def test_relora_forward_merge_and_reinit():
    torch.manual_seed(0)
    layer = ReLoRALinear(10, 6, 2, 4.0, dtype=torch.float64)
    assert not layer.weight.requires_grad and torch.all(layer.B == 0)
    with torch.no_grad():
        layer.B.normal_()
    x = torch.randn(3, 10, dtype=torch.float64)
    y = layer(x)
    torch.testing.assert_close(y, x @ (layer.weight + 2.0 * layer.B @ layer.A).T)
    A_before = layer.A.clone()
    layer.merge_and_reinit()
    torch.testing.assert_close(layer(x), y)
    assert torch.all(layer.B == 0) and not torch.equal(layer.A, A_before)


def test_layer_bench_smoke_runs(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "bench.json"
    script = Path(__file__).resolve().parents[1] / "bench" / "layer_bench.py"
    subprocess.run([sys.executable, str(script), "--smoke", "--device", "cpu", "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    rows = json.loads(out.read_text())["results"]
    assert {(r["method"], r["path"]) for r in rows} == {
        ("dense", "-"), ("lowrank", "dense"), ("lowrank", "factored"), ("sltrain", "dense"), ("sltrain", "factored")
    }
    # Same activation memory as a dense layer: only x is kept beyond the parameters.
    assert len({r["saved_bytes"] for r in rows}) == 1


@pytest.mark.parametrize("path", ["dense", "factored"])
def test_autocast_bf16_runs_in_bf16_and_returns_fp32_gradients(path):
    # --precision mixed: fp32 master weights, matmuls under bf16 autocast.
    torch.manual_seed(0)
    layer = SLTrainLinear(64, 48, 8, 0.1, 8.0, support_seed=1, path=path)
    x = torch.randn(4, 64, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    ref = x.detach() @ layer.weight_dense().T
    assert (y.float() - ref).abs().max() < 2e-2
    for p in (layer.A, layer.B, layer.values):
        assert p.grad is not None and p.grad.dtype == torch.float32
    assert x.grad.dtype == torch.float32


@pytest.mark.parametrize("src,dst", [("int64", "int16"), ("int16", "int32"), ("int32", "int64")])
def test_state_dict_loads_across_index_layouts(src, dst):
    # A checkpoint written with one layout resumes in another: the support converts, never re-draws.
    a = _layer(in_f=21, out_f=13, rank=3, delta=0.15, seed=4, index_dtype=src)
    b = _layer(in_f=21, out_f=13, rank=3, delta=0.15, seed=99, index_dtype=dst)
    assert not torch.equal(a.flat_indices(), b.flat_indices())
    state = a.state_dict()
    b.load_state_dict(state)  # strict: no missing or unexpected keys
    assert set(state) == set(a.state_dict())  # the caller's dict is left as it was
    assert torch.equal(b.flat_indices(), a.flat_indices())
    assert b.index_layout == ("csr" if dst == "int16" else "flat")
    x = torch.randn(5, 21, dtype=torch.float64)
    torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)


@pytest.mark.parametrize("out_f,in_f,delta,expected", [(29, 100, 0.01, 29), (100, 29, 0.01, 29), (64, 64, 0.03, 122)])
def test_support_size_takes_the_integer_product_first(out_f, in_f, delta, expected):
    # delta * out * in left to right gives 28 for 29 x 100 at 0.01 (0.29 * 100 = 28.999...); the
    # reference computes int(delta * (in * out)) = 29, and so must the layer and the planner.
    from sltrain.layers import support_size

    assert support_size(out_f, in_f, delta) == expected
    layer = SLTrainLinear(in_f, out_f, 4, delta, 8.0, support_seed=0)
    assert layer.values.numel() == expected
