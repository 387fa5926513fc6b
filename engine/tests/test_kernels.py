"""The Triton kernels (sltrain/kernels) against the float64 dense product, on the CPU under Triton's
interpreter. TRITON_INTERPRET must be set before Triton is first imported, so the checks run in a
subprocess (test_kernels_under_the_interpreter); they skip in a process where it is not set."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ENGINE = Path(__file__).resolve().parents[1]
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
needs_interpreter = pytest.mark.skipif(not INTERPRETED, reason="runs in the interpreter subprocess")


@pytest.mark.skipif(INTERPRETED or importlib.util.find_spec("triton") is None, reason="Triton not installed")
def test_kernels_under_the_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ENGINE))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__], cwd=ENGINE,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed, 1 skipped" in r.stdout, r.stdout[-2000:]  # only this driver skips there


def _layer(in_f, out_f, rank, delta, index_dtype="auto", dtype=torch.float32, seed=0):
    from sltrain.layers import SLTrainLinear
    torch.manual_seed(seed)
    lay = SLTrainLinear(in_f, out_f, rank, delta, 2.0 * rank, support_seed=seed, index_dtype=index_dtype,
                        path="factored", dtype=dtype)
    with torch.no_grad():
        lay.B.normal_(0, 0.2)
    return lay


def _reference(lay, x, gy):
    """y and the gradients of x, A, B, values in float64, through the dense weight."""
    A, B, v = (t.detach().double().requires_grad_() for t in (lay.A, lay.B, lay.values))
    xd = x.detach().double().requires_grad_()
    W = (B @ (A * lay.scale)).reshape(-1).index_add(0, lay.flat_indices(), v).reshape(B.shape[0], A.shape[1])
    y = xd @ W.T
    return (y.detach(), *torch.autograd.grad(y, (xd, A, B, v), gy.double()))


def _run(lay, x, gy):
    from sltrain import kernels
    from sltrain.layers import SLTrainMatmul
    kernels.INTERPRET_ON_CPU = True
    try:
        assert kernels.usable(x)
        xi = x.detach().requires_grad_()
        y = SLTrainMatmul.apply(xi, lay.A, lay.B, lay.values, *lay._support(), lay.scale, True)
        grads = torch.autograd.grad(y, (xi, lay.A, lay.B, lay.values), gy)
    finally:
        kernels.INTERPRET_ON_CPU = False
    return (y, *grads)


@needs_interpreter
@pytest.mark.parametrize("in_f,out_f,rank,delta,tokens,index_dtype", [
    (40, 56, 8, 0.1, 37, "auto"),     # CSR int16, nothing a multiple of a block
    (33, 70, 20, 0.05, 64, "int32"),  # flat positions, converted to CSR for the kernel
    (64, 32, 32, 0.2, 5, "auto"),     # fewer tokens than one block
])
def test_fp32_forward_and_backward_equal_the_float64_dense_product(in_f, out_f, rank, delta, tokens, index_dtype):
    lay = _layer(in_f, out_f, rank, delta, index_dtype)
    x = torch.randn(tokens, in_f)
    gy = torch.randn(tokens, out_f)
    got, want = _run(lay, x, gy), _reference(lay, x, gy)
    for name, g, w in zip(("y", "x", "A", "B", "values"), got, want):
        assert g.dtype == torch.float32, name
        torch.testing.assert_close(g.double(), w, rtol=1e-5, atol=1e-5, msg=name)


@needs_interpreter
def test_empty_rows_and_columns_of_the_support():
    lay = _layer(48, 40, 4, 0.02)
    with torch.no_grad():  # everything in rows 3 and 17 and columns 0..5 of the rest: most rows and columns empty
        pos = torch.cat([3 * 48 + torch.arange(6, 48), 17 * 48 + torch.arange(6, 48)])[: lay.nnz].sort().values
        lay.set_support(pos)
    x, gy = torch.randn(20, 48), torch.randn(20, 40)
    for name, g, w in zip(("y", "x", "A", "B", "values"), _run(lay, x, gy), _reference(lay, x, gy)):
        torch.testing.assert_close(g.double(), w, rtol=1e-5, atol=1e-5, msg=name)


@needs_interpreter
def test_bf16_inputs_accumulate_in_fp32_and_round_once():
    lay = _layer(64, 48, 16, 0.1, dtype=torch.bfloat16)
    x, gy = torch.randn(40, 64, dtype=torch.bfloat16), torch.randn(40, 48, dtype=torch.bfloat16)
    got, want = _run(lay, x, gy), _reference(lay, x, gy)
    assert all(g.dtype == torch.bfloat16 for g in got)
    # Rounded once: y is the exact sum of the low-rank product of the bf16 rank-r intermediate h and the
    # sparse product, rounded to bf16: within one bf16 step (2^-7 relative), as the interpreter's fp32 ->
    # bf16 conversion truncates where the GPU's rounds to nearest (half a step).
    h = (x @ (lay.A * lay.scale).T).double()
    S = torch.zeros(48 * 64, dtype=torch.float64).index_add_(0, lay.flat_indices(), lay.values.double())
    exact = h @ lay.B.double().T + x.double() @ S.reshape(48, 64).T
    assert ((got[0].double() - exact).abs() <= exact.abs() * 2.0**-7 * 1.001 + 1e-6).all()
    for name, g, w in zip(("y", "x", "A", "B", "values"), got, want):  # and close to the float64 product
        assert (g.double() - w).abs().max() <= 2.0**-7 * w.abs().max(), name
