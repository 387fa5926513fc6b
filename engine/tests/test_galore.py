"""GaLoreAdamW against galore-torch (the same arithmetic), projector schedule, state shapes, resume."""

import copy

import pytest
import torch

from sltrain.galore import GaLoreAdamW, GaLoreAdamW8bit

HP = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)


def _grads(shape, steps, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype) for _ in range(steps)]


def _galore_torch():
    return pytest.importorskip("galore_torch")


def _reference(groups, **hp):
    """galore-torch's own GaLoreAdamW: the arithmetic ours must reproduce."""
    return _galore_torch().GaLoreAdamW(groups, no_deprecation_warning=True, **hp)


def _run(opt, p, grads):
    for grad in grads:
        p.grad = grad.clone()
        opt.step()


def test_plain_groups_equal_galore_torch_adam():
    w0 = torch.randn(6, 4, dtype=torch.float64)
    a, b = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    grads = _grads((6, 4), 5)
    _run(GaLoreAdamW([a], **HP), a, grads)
    _run(_reference([b], **HP), b, grads)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_default_eps_is_galore_torch_s():
    p = torch.nn.Parameter(torch.zeros(2, 2))
    assert GaLoreAdamW([p]).defaults["eps"] == _reference([p]).defaults["eps"] == 1e-6


@pytest.mark.parametrize("shape", [(7, 4), (4, 7)])
def test_full_rank_scale_one_equals_adamw_in_the_projected_basis(shape):
    """At rank min(m, n) and scale 1 with a fixed projector P (orthogonal), GaLore is exactly Adam
    run on the rotated weight W·Pᵀ (m >= n) or Pᵀ·W (m < n): Adam's element-wise normalisation
    happens in P's basis, so it equals plain Adam on W only up to that rotation."""
    m, n = shape
    r = min(m, n)
    grads = _grads(shape, 6)
    w0 = torch.randn(shape, dtype=torch.float64)
    p = torch.nn.Parameter(w0.clone())
    opt = GaLoreAdamW([{"params": [p], "rank": r, "update_proj_gap": 1000, "scale": 1.0}], **HP)
    _run(opt, p, grads)
    P = opt.state[p]["projector"]
    right = m >= n
    rot = (lambda x: x @ P.T) if right else (lambda x: P.T @ x)
    back = (lambda x: x @ P) if right else (lambda x: P @ x)
    q = torch.nn.Parameter(rot(w0))
    _run(_reference([q], **HP), q, [rot(g) for g in grads])
    torch.testing.assert_close(p.detach(), back(q.detach()), atol=1e-6, rtol=0)
    assert P.shape == (r, n) if right else (m, r)


def test_projector_refreshes_exactly_every_gap_steps_and_states_are_low_rank():
    m, n, r, gap = 9, 5, 2, 3
    grads = _grads((m, n), 8)
    p = torch.nn.Parameter(torch.randn(m, n, dtype=torch.float64))
    opt = GaLoreAdamW([{"params": [p], "rank": r, "update_proj_gap": gap, "scale": 0.25}], **HP)
    projectors = []
    for grad in grads:
        p.grad = grad.clone()
        opt.step()
        projectors.append(opt.state[p]["projector"].clone())
    changed = [i for i in range(len(grads)) if i == 0 or not torch.equal(projectors[i], projectors[i - 1])]
    assert changed == [0, 3, 6]
    for i in changed:
        Vh = torch.linalg.svd(grads[i].float(), full_matrices=False)[2][:r].to(torch.float64)
        torch.testing.assert_close(projectors[i], Vh)
    state = opt.state[p]
    assert state["exp_avg"].shape == state["exp_avg_sq"].shape == (m, r)
    assert state["projector"].shape == (r, n) and int(state["step"]) == 8
    wide = torch.nn.Parameter(torch.randn(n, m, dtype=torch.float64))
    opt_w = GaLoreAdamW([{"params": [wide], "rank": r}], **HP)
    _run(opt_w, wide, _grads((n, m), 1))
    assert opt_w.state[wide]["exp_avg"].shape == (r, m) and opt_w.state[wide]["projector"].shape == (n, r)


def test_state_dict_resumes_identically():
    grads = _grads((8, 6), 7)
    groups = lambda p, q: [{"params": [p], "rank": 3, "update_proj_gap": 2, "scale": 0.25}, {"params": [q]}]
    p, q = torch.nn.Parameter(torch.randn(8, 6, dtype=torch.float64)), torch.nn.Parameter(torch.randn(6, dtype=torch.float64))
    opt = GaLoreAdamW(groups(p, q), **HP)

    def run(opt, p, q, gs):
        for grad in gs:
            p.grad, q.grad = grad.clone(), grad[0].clone()
            opt.step()

    run(opt, p, q, grads[:3])
    sd = copy.deepcopy(opt.state_dict())
    assert {"step", "exp_avg", "exp_avg_sq", "projector"} <= set(sd["state"][0])
    p2, q2 = torch.nn.Parameter(p.detach().clone()), torch.nn.Parameter(q.detach().clone())
    opt2 = GaLoreAdamW(groups(p2, q2), **HP)
    opt2.load_state_dict(sd)
    run(opt, p, q, grads[3:])
    run(opt2, p2, q2, grads[3:])
    assert torch.equal(p, p2) and torch.equal(q, q2)


@pytest.mark.parametrize("shape", [(12, 5), (5, 12)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_same_update_as_galore_torch(shape, weight_decay):
    """fp64, default eps, weight decay on, projector refreshed on steps 0, 2 and 4: every update of
    the projected weight and of a plain parameter in the same optimizer equals galore-torch's."""
    hp = dict(lr=1e-2, betas=(0.9, 0.999), weight_decay=weight_decay)
    grads = _grads(shape, 5)
    plain_grads = _grads((4,), 5, seed=1)
    w0, v0 = torch.randn(shape, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    groups = lambda p, q: [{"params": [p], "rank": 3, "update_proj_gap": 2, "scale": 0.25, "proj_type": "std"},
                           {"params": [q]}]
    a, qa = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(v0.clone())
    b, qb = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(v0.clone())
    ours, ref = GaLoreAdamW(groups(a, qa), **hp), _reference(groups(b, qb), **hp)
    for g, gq in zip(grads, plain_grads):
        a.grad, b.grad, qa.grad, qb.grad = g.clone(), g.clone(), gq.clone(), gq.clone()
        ours.step()
        ref.step()
        torch.testing.assert_close(a, b, atol=1e-7, rtol=0)
        torch.testing.assert_close(qa, qb, atol=1e-7, rtol=0)


def test_8bit_variant_tracks_the_fp32_one_and_resumes():
    pytest.importorskip("bitsandbytes")
    torch.manual_seed(0)
    shape, r = (256, 64), 32  # low-rank moments of 8192 elements: large enough for 8-bit states
    grads = _grads(shape, 3, dtype=torch.float32)
    w0 = torch.randn(shape)
    group = lambda p: [{"params": [p], "rank": r, "update_proj_gap": 2, "scale": 0.25}]
    a, b = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    hp = dict(HP, weight_decay=0.0)
    _run(GaLoreAdamW(group(a), **hp), a, grads)
    opt8 = GaLoreAdamW8bit(group(b), **hp)
    _run(opt8, b, grads)
    da, db = (a - w0).flatten(), (b - w0).flatten()
    assert torch.nn.functional.cosine_similarity(da, db, dim=0) > 0.99
    assert opt8.inner.state[opt8.state[b]["lowrank_buffer"]]["state1"].dtype == torch.uint8
    sd = copy.deepcopy(opt8.state_dict())
    c = torch.nn.Parameter(b.detach().clone())
    opt_c = GaLoreAdamW8bit(group(c), **hp)
    opt_c.load_state_dict(sd)
    more = _grads(shape, 2, seed=5, dtype=torch.float32)
    _run(opt8, b, more)
    _run(opt_c, c, more)
    torch.testing.assert_close(b, c)


def test_rank_one_column_equals_plain_adam():
    # For an (m, 1) weight the full-rank projector is ±1, so GaLore at scale 1 is plain Adam.
    grads = _grads((6, 1), 5)
    w0 = torch.randn(6, 1, dtype=torch.float64)
    a, b = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    _run(GaLoreAdamW([{"params": [a], "rank": 1, "update_proj_gap": 2, "scale": 1.0}], **HP), a, grads)
    _run(GaLoreAdamW([b], **HP), b, grads)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_state_bytes_count_low_rank_moments_projector_and_step():
    from sltrain.config import LlamaConfig, MethodConfig
    from sltrain.methods import build_model
    from sltrain.optim import build_optimizer, optimizer_state_bytes

    cfg = LlamaConfig(hidden_size=16, intermediate_size=24, num_attention_heads=2, num_key_value_heads=1,
                      num_hidden_layers=1, vocab_size=11)
    mc = MethodConfig(method="galore", rank=4)
    model = build_model(cfg, mc, seed=0)
    bundle = build_optimizer(model, mc, lr=1e-3)
    ids = torch.randint(11, (2, 5))
    model(ids, ids)[1].backward()
    bundle.step()
    expected = 0
    for name, p in model.named_parameters():
        if p.dim() == 2 and ".layers." in name:
            m, n = p.shape
            r = 4
            moments = 2 * (m * r if m >= n else r * n)
            projector = r * n if m >= n else m * r
            expected += (moments + projector) * 4 + 4
        else:
            expected += 2 * p.numel() * 4 + 4
    assert optimizer_state_bytes(bundle) == expected
