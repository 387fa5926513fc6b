"""APOLLO / APOLLO-Mini against apollo-torch on the same gradients (refresh steps included), the
per-layer seeds, an exact resume, the method's refusals and a short training run from the CLI."""

import copy
import json
from pathlib import Path

import pytest
import torch

from sltrain import methods, train
from sltrain.apollo import APOLLOAdamW
from sltrain.config import PRESETS, MethodConfig, load_model_config
from sltrain.errors import ConfigError
from sltrain.optim import build_optimizer

HP = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.1)
SMALL = ["--batch-size", "2", "--seq-len", "32", "--eval-batches", "1", "--num-threads", "1"]


def _apollo_torch():
    return pytest.importorskip("apollo_torch")


def _grads(shape, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    # Growing then shrinking magnitudes, so the norm-growth limiter both acts and stays idle.
    return [torch.randn(shape, generator=g) * (1 + 3 * (i % 4)) for i in range(steps)]


def _groups(params, rank, gap, scale, scale_type):
    """A plain group and one projected group per matrix, as the apollo methods build them."""
    plain, *mats = params
    extras = dict(rank=rank, update_proj_gap=gap, scale=scale, scale_type=scale_type)
    return [{"params": [plain]}] + [{"params": [p], "seed": 2 + j, **extras} for j, p in enumerate(mats)]


def _reference_groups(groups):
    # apollo-torch numbers parameters itself (1, 2, ...), exactly as the "seed" keys above.
    return [{k: v for k, v in g.items() if k != "seed"} | ({"proj": "random", "proj_type": "std"} if "rank" in g else {})
            for g in groups]


def _run(opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()


@pytest.mark.parametrize("scale_type,rank,scale", [("channel", 3, 1.0), ("tensor", 1, 128.0)])
def test_updates_equal_apollo_torch_across_projection_refreshes(scale_type, rank, scale):
    ref_mod = _apollo_torch()
    shapes = [(5,), (12, 8), (6, 10)]  # a plain vector, m >= n (right projection), m < n (left)
    g = torch.Generator().manual_seed(1)
    w0 = [torch.randn(s, generator=g) for s in shapes]
    ours = [torch.nn.Parameter(w.clone()) for w in w0]
    theirs = [torch.nn.Parameter(w.clone()) for w in w0]
    steps, gap = 9, 3  # refreshes at steps 0, 3, 6
    per_param = [_grads(s, steps, seed=i) for i, s in enumerate(shapes)]
    grads = [[per_param[i][t] for i in range(len(shapes))] for t in range(steps)]
    groups = _groups(ours, rank, gap, scale, scale_type)
    opt = APOLLOAdamW(groups, **HP)
    ref = ref_mod.APOLLOAdamW(_reference_groups(_groups(theirs, rank, gap, scale, scale_type)), **HP)
    for t in range(steps):
        _run(opt, ours, [grads[t]])
        _run(ref, theirs, [grads[t]])
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=f"step {t + 1}")
    # The projection really changed at the refreshes (a fixed P would also match a reference that never refreshes).
    assert opt.state[ours[1]]["seed"] != 2


def test_resume_from_state_dict_is_exact():
    g = torch.Generator().manual_seed(3)
    w0 = [torch.randn(4, generator=g), torch.randn(9, 7, generator=g)]
    grads = [[torch.randn(4, generator=g), torch.randn(9, 7, generator=g)] for _ in range(7)]
    a = [torch.nn.Parameter(w.clone()) for w in w0]
    opt_a = APOLLOAdamW(_groups(a, 2, 2, 1.0, "channel"), **HP)
    _run(opt_a, a, grads)
    b = [torch.nn.Parameter(w.clone()) for w in w0]
    opt_b = APOLLOAdamW(_groups(b, 2, 2, 1.0, "channel"), **HP)
    _run(opt_b, b, grads[:4])
    saved = copy.deepcopy(opt_b.state_dict())
    c = [torch.nn.Parameter(p.detach().clone()) for p in b]
    opt_c = APOLLOAdamW(_groups(c, 2, 2, 1.0, "channel"), **HP)
    opt_c.load_state_dict(saved)
    _run(opt_c, c, grads[4:])
    for x, y in zip(a, c):
        assert torch.equal(x, y)


def _model(method):
    mcfg = MethodConfig(method=method, rank=1 if method == "apollo_mini" else 8)
    return methods.build_model(load_model_config("llama_tiny"), mcfg, seed=0), mcfg


@pytest.mark.parametrize("method", ["apollo", "apollo_mini"])
def test_per_layer_optimizers_draw_the_whole_model_projections(method):
    model, mcfg = _model(method)
    whole = build_optimizer(model, mcfg, lr=1e-2)
    per = build_optimizer(model, mcfg, lr=1e-2, per_layer=True)
    seeds_whole = {id(p): s["seed"] for p, s in whole.optimizers[0].state.items() if "seed" in s}
    seeds_per = {id(p): s["seed"] for o in per.optimizers for p, s in o.state.items() if "seed" in s}
    per.remove_hooks()
    assert seeds_whole == seeds_per and len(set(seeds_whole.values())) == len(seeds_whole)
    # Only the seven block linears are projected; everything else is plain Adam.
    projected = [g for g in whole.param_groups if g["rank"] is not None]
    assert len(projected) == 7 * model.config.num_hidden_layers
    assert all(g["rank"] == mcfg.rank and g["scale_type"] == methods.get(method).scale_type for g in projected)


def test_method_refusals_name_the_option():
    cfg = load_model_config("llama_tiny")
    with pytest.raises(ConfigError, match="apollo_mini projects at rank 1"):
        MethodConfig(method="apollo_mini", rank=8).validate(cfg)
    with pytest.raises(ConfigError, match="apollo_update_gap"):
        MethodConfig(method="apollo", rank=8, apollo_update_gap=0).validate(cfg)
    with pytest.raises(ConfigError, match="apollo_scale"):
        MethodConfig(method="apollo", rank=8, apollo_scale=-1.0).validate(cfg)
    model, mcfg = _model("apollo")
    with pytest.raises(ConfigError, match="--optimizer adam8bit is not offered for --method apollo"):
        build_optimizer(model, mcfg, optimizer="adam8bit", lr=1e-2)


@pytest.mark.parametrize("method,extra", [("apollo", ["--apollo-update-gap", "2"]), ("apollo_mini", ["--per-layer"])])
def test_trains_from_the_cli(tmp_path, method, extra):
    out = tmp_path / method
    code = train.main(["--method", method, "--model", "llama_tiny", "--steps", "4", "--warmup", "1",
                       "--eval-every", "4", "--out", str(out), *SMALL, *extra])
    assert code == 0
    events = [json.loads(line) for line in Path(out, "events.jsonl").read_text().splitlines()]
    config = events[0]["config"]
    assert config["method"] == method and config["rank"] == (1 if method == "apollo_mini" else PRESETS["llama_tiny"]["sltrain"]["rank"])
    assert events[-1]["status"] == "completed"
    losses = [e["loss"] for e in events if e["event"] == "step"]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))


@pytest.mark.parametrize("extra", [["--method", "apollo_mini", "--rank", "4"], ["--method", "apollo", "--optimizer", "adam8bit"]])
def test_bad_settings_exit_2_before_the_run_starts(tmp_path, extra):
    out = tmp_path / "r"
    assert train.main([*extra, "--steps", "1", "--out", str(out), *SMALL]) == 2
    assert not (out / "config.json").exists()
