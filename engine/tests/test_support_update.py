"""SLTrain's dynamic support: block-wise regrow scores equal the dense reference; after an update
the support keeps its count, is unique, sorted and valid in every index layout; the smallest
|values| were dropped; regrown entries start at zero with zero moments and damped first steps;
kept entries carry value and moments; a resume across an update is bit-exact; two DDP ranks agree."""
import json
import subprocess
import sys
import textwrap

import pytest
import torch

from sltrain import methods, support_update, train
from sltrain.config import MethodConfig, load_model_config
from sltrain.errors import ConfigError
from sltrain.layers import SLTrainLinear
from sltrain.optim import build_optimizer
from test_train_e2e import ENGINE, engine_env, read_events
from test_train_resume import last_by_step

SMALL = ["--batch-size", "2", "--seq-len", "32", "--eval-batches", "1", "--num-threads", "1"]


def test_blockwise_scores_equal_the_dense_reference(monkeypatch):
    g = torch.Generator().manual_seed(0)
    out_f, in_f, T, k = 37, 23, 11, 17
    gy, x = torch.randn(T, out_f, generator=g), torch.randn(T, in_f, generator=g)
    flat = torch.randperm(out_f * in_f, generator=g)[:60].sort().values
    monkeypatch.setattr(support_update, "SCORE_BLOCK_ELEMENTS", 3 * in_f + 5)  # 3 rows a block, 13 blocks
    got = support_update.top_off_support(gy, x, flat, out_f, in_f, k)
    dense = (gy.T @ x).abs().view(-1)
    dense[flat] = -1.0
    want = dense.topk(k).indices
    assert set(got.tolist()) == set(want.tolist()) and not set(got.tolist()) & set(flat.tolist())


def _setup(index_dtype, every=2, fraction=0.25):
    mcfg = MethodConfig(method="sltrain", rank=8, delta=0.1, alpha=8.0, index_dtype=index_dtype,
                        support_update_every=every, support_update_fraction=fraction)
    model = methods.build_model(load_model_config("llama_tiny"), mcfg, seed=0)
    opt = build_optimizer(model, mcfg, lr=1e-2)
    return model, opt, mcfg


def _step(model, opt, mcfg, step, seed):
    method = methods.get("sltrain")
    method.before_update(model, opt, step, None, mcfg)
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 250, (2, 16), generator=g)
    opt.zero_grad()
    model(x, x)[1].backward()
    opt.step()
    method.after_update(model, opt, step + 1, None, mcfg)


def _check_layout(layer, index_dtype):
    flat = layer.flat_indices()
    assert flat.numel() == layer.nnz and layer.values.numel() == layer.nnz
    assert bool((flat[1:] > flat[:-1]).all()), "sorted and unique"
    assert 0 <= int(flat[0]) and int(flat[-1]) < layer.out_features * layer.in_features
    if layer.index_layout == "csr":
        crow, cols = layer.crow_indices.long(), layer.col_indices.long()
        assert int(crow[0]) == 0 and int(crow[-1]) == layer.nnz and bool((crow.diff() >= 0).all())
        assert bool((cols >= 0).all() and (cols < layer.in_features).all())
        torch.sparse_csr_tensor(crow, cols, layer.values.detach(), (layer.out_features, layer.in_features),
                                check_invariants=True)
    else:
        assert layer.indices.dtype == {"int32": torch.int32, "int64": torch.int64}[index_dtype]


@pytest.mark.parametrize("index_dtype", ["int16", "int32", "int64"])
def test_update_keeps_count_order_layout_and_moves_moments(index_dtype):
    model, opt, mcfg = _setup(index_dtype)
    layers = [m for m in model.modules() if isinstance(m, SLTrainLinear)]
    _step(model, opt, mcfg, 0, seed=0)  # update 1: no support change
    before = {id(m): (m.flat_indices().clone(), m.values.detach().clone(),
                      opt.optimizers[0].state[m.values]["exp_avg"].clone()) for m in layers}
    # Record what the optimizer itself writes at update 2, before the support moves.
    at_step = {}
    hook = opt.optimizers[0].register_step_post_hook(
        lambda o, *_: at_step.update({id(m): (m.values.detach().clone(), o.state[m.values]["exp_avg"].clone())
                                      for m in layers}))
    _step(model, opt, mcfg, 1, seed=1)  # update 2: support update
    hook.remove()
    for m in layers:
        old_flat, _, _ = before[id(m)]
        v2, m2 = at_step[id(m)]
        k = support_update.regrow_count(m.nnz, mcfg.support_update_fraction)
        new_flat = m.flat_indices()
        _check_layout(m, index_dtype)
        st = opt.optimizers[0].state[m.values]
        regrown = m.regrown_indices.long()
        assert regrown.numel() == k and len(set(regrown.tolist())) == k
        assert len(set(new_flat.tolist()) - set(old_flat.tolist())) == k  # exactly k positions new
        # The k smallest |values| (as the step left them) were dropped.
        dropped = set(old_flat.tolist()) - set(new_flat.tolist())
        assert dropped == set(old_flat[v2.abs().argsort(stable=True)[:k]].tolist())
        assert not bool(m.values[regrown].any()) and not bool(st["exp_avg"][regrown].any())
        assert not bool(st["exp_avg_sq"][regrown].any())
        # Kept entries carry their value and first moment to their new position.
        where_old = {p: i for i, p in enumerate(old_flat.tolist())}
        kept = [i for i, p in enumerate(new_flat.tolist()) if p in where_old]
        src = torch.tensor([where_old[new_flat[i].item()] for i in kept])
        assert torch.equal(m.values.detach()[kept], v2[src]) and torch.equal(st["exp_avg"][kept], m2[src])


def test_first_steps_of_regrown_entries_are_damped():
    model, opt, mcfg = _setup("auto", every=8)  # warm-up W = 2 updates: ramps 1/3, 2/3
    layer = next(m for m in model.modules() if isinstance(m, SLTrainLinear))
    for s in range(8):
        _step(model, opt, mcfg, s, seed=s)
    idx = layer.regrown_indices.long()
    for s, ramp in ((8, 1 / 3), (9, 2 / 3), (10, 1.0)):
        pre = layer.values.detach()[idx].clone()
        raw = {}
        h = opt.optimizers[0].register_step_post_hook(lambda *_: raw.update(v=layer.values.detach()[idx].clone()))
        _step(model, opt, mcfg, s, seed=s)
        h.remove()
        torch.testing.assert_close(layer.values.detach()[idx], pre + ramp * (raw["v"] - pre), rtol=0, atol=1e-7)
        assert not torch.equal(raw["v"], pre)


def test_refusals_name_the_options(tmp_path):
    cfg = load_model_config("llama_tiny")
    with pytest.raises(ConfigError, match="support_update_fraction must be in"):
        MethodConfig(rank=8, support_update_every=2, support_update_fraction=1.5).validate(cfg)
    with pytest.raises(ConfigError, match="positions are off its support"):
        MethodConfig(rank=8, delta=0.9, support_update_every=2, support_update_fraction=0.5).validate(cfg)
    out = str(tmp_path / "r")
    for extra in (["--method", "galore"], ["--method", "lowrank"], ["--optimizer", "adam8bit"]):
        assert train.main(["--support-update-every", "2", "--steps", "2", "--out", out, *SMALL, *extra]) == 2


def test_resume_across_a_support_update_is_bit_exact(tmp_path):
    out = tmp_path / "run"
    args = ["--steps", "6", "--warmup", "1", "--eval-every", "0", "--save-every", "3", "--keep-checkpoints", "0",
            "--support-update-every", "2", "--support-update-fraction", "0.3", "--out", str(out), *SMALL]
    assert train.main(args) == 0
    ref = last_by_step(read_events(out), "step")
    final = torch.load(out / "checkpoints" / "step-6" / "state.pt", weights_only=False)["model"]
    import shutil

    shutil.rmtree(out / "checkpoints" / "step-6")
    n_before = len(read_events(out))
    assert train.main([*args, "--resume"]) == 0  # from step 3: updates at 4 and 6, damped step 5
    assert last_by_step(read_events(out)[n_before:], "step") == {s: ref[s] for s in (4, 5, 6)}
    again = torch.load(out / "checkpoints" / "step-6" / "state.pt", weights_only=False)["model"]
    assert again.keys() == final.keys() and any(k.endswith("regrown_indices") for k in final)
    for k in final:
        assert torch.equal(final[k], again[k]), k


DDP_CHECK = textwrap.dedent("""
    import json, sys, torch, torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    from sltrain import methods
    from sltrain.config import MethodConfig, load_model_config
    from sltrain.layers import SLTrainLinear
    from sltrain.optim import build_optimizer
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.set_num_threads(1)
    mcfg = MethodConfig(method="sltrain", rank=8, delta=0.1, alpha=8.0, support_update_every=2,
                        support_update_fraction=0.3)
    model = methods.build_model(load_model_config("llama_tiny"), mcfg, seed=0)
    # As the engine wraps it: supports are never broadcast by DDP, so agreement is the updater's doing.
    ddp, opt, method = DDP(model, broadcast_buffers=False), build_optimizer(model, mcfg, lr=1e-2), methods.get("sltrain")
    layers = [m for m in model.modules() if isinstance(m, SLTrainLinear)]
    start = [m.flat_indices().clone() for m in layers]
    for step in range(2):
        method.before_update(model, opt, step, None, mcfg)
        x = torch.randint(0, 250, (2, 16), generator=torch.Generator().manual_seed(100 * rank + step))
        opt.zero_grad()
        ddp(x, x)[1].backward()
        opt.step()
        method.after_update(model, opt, step + 1, None, mcfg)
    same = changed = True
    for m, s0 in zip(layers, start):
        mine = torch.cat([m.flat_indices().double(), m.values.detach().double(),
                          opt.optimizers[0].state[m.values]["exp_avg"].double()])
        theirs = [torch.empty_like(mine) for _ in range(2)]
        dist.all_gather(theirs, mine)
        same = same and torch.equal(theirs[0], theirs[1])
        changed = changed and not torch.equal(m.flat_indices(), s0)
    if rank == 0:
        json.dump({"same": same, "changed": changed}, open(sys.argv[1], "w"))
    dist.destroy_process_group()
""")


def test_two_ddp_ranks_store_the_same_support(tmp_path):
    script, result = tmp_path / "check.py", tmp_path / "result.json"
    script.write_text(DDP_CHECK)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        str(script), str(result)], cwd=ENGINE, env=engine_env(OMP_NUM_THREADS="1"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(result.read_text()) == {"same": True, "changed": True}
