"""`sltrain.measure`: field names (the planner's contract) and exactness against the real tensors."""
import json
import math

import pytest
import torch

from sltrain import measure, runconfig
from sltrain.config import linear_shapes
from sltrain.layers import support_size
from sltrain.methods import build_model
from test_train_e2e import run_cli


def resolved(*argv):
    cfg = runconfig.RunConfig()
    p = runconfig._Parser()
    runconfig.add_flags(p, runconfig.MODEL_FLAGS)
    runconfig._apply(cfg, vars(p.parse_args(["--batch-size", "2", "--seq-len", "32", *argv])), "test")
    cfg.out = "-"
    return runconfig.fill_defaults(cfg)


def nbytes(ts):
    return sum(t.numel() * t.element_size() for t in ts)


@pytest.mark.parametrize("method", ["sltrain", "full", "galore", "relora"])
def test_static_bytes_are_exact(method):
    cfg = resolved("--method", method)
    m = measure.measure(cfg)
    model = build_model(cfg.model_config(), cfg.method_config(), seed=cfg.seed)
    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    b = m["bytes"]
    assert m["params"] == measure.param_counts(model)
    assert m["params"]["total"] == sum(p.numel() for p in params)
    assert b["weights"] == nbytes(params)
    assert b["gradients"] == nbytes(trainable) and m["gradients_mode"] == "all"
    adam_tensors = len(trainable)  # one fp32 step scalar per parameter besides the two moments
    if method == "galore":
        assert b["projectors"] > 0
        assert b["optimizer_states_excluding_projectors"] == b["optimizer_states"] - b["projectors"]
    else:
        assert b["projectors"] == 0
        assert b["optimizer_states"] == 2 * nbytes(trainable) + 4 * adam_tensors
    mc = cfg.model_config()
    nnz = (sum(support_size(o, i, cfg.delta) for _, o, i in linear_shapes(mc)) * mc.num_hidden_layers
           if method == "sltrain" else 0)
    assert m["params"]["sparse_nonzeros"] == nnz
    # "auto" stores CSR: an int16 column per nonzero and an int32 row offset per output row (+1)
    rows = sum(o + 1 for _, o, _ in linear_shapes(mc)) * mc.num_hidden_layers if method == "sltrain" else 0
    assert b["indices"] == nnz * 2 + rows * 4
    assert b["buffers"] == nbytes(t for n, t in model.named_buffers() if not n.endswith("indices"))
    by_layer = b["saved_activations_by_layer"]
    assert list(by_layer) == ["embed", *[f"layers.{i}" for i in range(mc.num_hidden_layers)], "head"]
    assert b["saved_activations"] == sum(by_layer.values())
    assert b["saved_activations_logits_loss"] == by_layer["head"] >= 2 * 32 * mc.vocab_size * 4
    assert m["max_memory_allocated"] is None  # CPU


def test_per_layer_reports_the_largest_gradient_in_flight():
    cfg = resolved("--per-layer")
    m = measure.measure(cfg)
    model = build_model(cfg.model_config(), cfg.method_config(), seed=cfg.seed)
    assert m["gradients_mode"] == "per_layer_max"
    assert m["bytes"]["gradients"] == max(p.numel() * p.element_size() for p in model.parameters())


def test_grad_ckpt_saves_fewer_activations_and_bf16_halves_weights():
    plain, ckpt = measure.measure(resolved()), measure.measure(resolved("--grad-ckpt"))
    assert ckpt["bytes"]["saved_activations"] < plain["bytes"]["saved_activations"]
    bf16 = measure.measure(resolved("--precision", "bf16"))
    assert bf16["bytes"]["weights"] * 2 == plain["bytes"]["weights"]


def test_cli_prints_one_json_object():
    r = run_cli(["--json", "--batch-size", "1", "--seq-len", "16", "--num-threads", "1"],
                module="sltrain.measure", timeout=120)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert set(m) == {"v", "device", "config", "params", "bytes", "gradients_mode", "max_memory_allocated"}
    assert set(m["bytes"]) == {
        "weights", "gradients", "optimizer_states", "optimizer_states_excluding_projectors", "projectors",
        "indices", "buffers", "saved_activations", "saved_activations_by_layer", "saved_activations_logits_loss"}
    assert set(m["params"]) == {"total", "trainable", "sparse_nonzeros"}
    bad = run_cli(["--json", "--delta", "3"], module="sltrain.measure", timeout=120)
    assert bad.returncode == 2 and "delta" in bad.stderr
