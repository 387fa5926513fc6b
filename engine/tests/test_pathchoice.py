"""The measured layer path choice: the faster path is kept, cached per machine and torch version, and an
unreadable cache is set aside with a warning. One path is made slow through pathchoice.DELAY_HOOK (it
adds SLOW_S to that path's measured time, far above any real time of the tiny layer, loaded machine
or not), so no assertion depends on how fast real kernels are."""
import json

import pytest
import torch

from sltrain import pathchoice
from sltrain.layers import SLTrainLinear
from test_train_e2e import SMALL, check_schema, read_events, run_cli

SLOW_S = 100.0


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Measuring on, a fresh user cache and run folder; returns (events, warnings, run folder)."""
    monkeypatch.setenv(pathchoice.PATH_CACHE_ENV, str(tmp_path / "user" / "cache.json"))
    events, warned = [], []
    run = tmp_path / "run"
    run.mkdir()
    pathchoice.configure(run, emit=lambda **f: events.append(f), warn=warned.append)
    yield events, warned, run
    pathchoice.configure(enabled=False)
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", None)


def slow(path: str, calls: list | None = None):
    def hook(p):
        if calls is not None:
            calls.append(p)
        return SLOW_S if p == path else 0.0
    return hook


def layer(seed=0):
    torch.manual_seed(seed)
    return SLTrainLinear(24, 40, 4, 0.1, 8.0, support_seed=seed, path="auto")


def step(lay, tokens=6):
    x = torch.randn(tokens, lay.in_features, requires_grad=True)
    lay(x).sum().backward()
    return x


@pytest.mark.parametrize("slow_path,want", [("factored", "dense"), ("dense", "factored")])
def test_the_faster_path_is_kept_and_reported(env, monkeypatch, slow_path, want):
    events, warned, run = env
    calls = []
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", slow(slow_path, calls))
    lay = layer()
    x = torch.randn(6, 24)
    y = lay(x)
    assert lay._auto[(6, "cpu", torch.float32, None)] == want
    n = len(calls)
    assert n == 2 * (pathchoice.WARMUP + pathchoice.REPEATS)  # each path timed, warm-up included
    lay(x)  # decided: no second measurement
    assert len(calls) == n
    ref = lay.weight_dense()
    torch.testing.assert_close(y, x @ ref.T, rtol=1e-5, atol=1e-6)
    assert len(events) == 1 and set(events[0]) == set(pathchoice.EVENT_FIELDS)
    e = events[0]
    assert (e["path"], e["source"], e["tokens"], e["nnz"], e["dtype"]) == (want, "measured", 6, lay.nnz, "float32")
    assert e[f"{slow_path}_ms"] > 1e3 * SLOW_S > e[f"{want}_ms"]
    for f in (run / pathchoice.PATH_CACHE_NAME, pathchoice.user_cache_file()):
        machines = json.loads(f.read_text())["machines"]
        (entry,) = machines.values()
        assert entry["torch"] == torch.__version__ and entry["threads"] == torch.get_num_threads()
        assert [c["path"] for c in entry["choices"].values()] == [want]
    assert warned == []


def test_measuring_leaves_the_random_streams_alone(env, monkeypatch):
    lay = layer()
    x = torch.randn(6, 24)
    state = torch.get_rng_state()
    lay(x)
    assert torch.equal(torch.get_rng_state(), state)


def test_layers_of_one_shape_share_a_measurement(env, monkeypatch):
    events, _, _ = env
    calls = []
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", slow("dense", calls))
    a, b = layer(0), layer(1)
    step(a)
    n = len(calls)
    step(b)
    assert len(calls) == n and b._auto == a._auto and len(events) == 1
    step(a, tokens=7)  # another token count is another problem
    assert len(calls) == 2 * n and len(events) == 2


def test_a_later_run_reads_the_cache_and_measures_nothing(env, monkeypatch, tmp_path):
    _, _, run = env
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", slow("dense"))
    step(layer())
    events = []
    pathchoice.configure(tmp_path / "run2", emit=lambda **f: events.append(f))  # the user cache only

    def never(path):
        raise AssertionError("measured although cached")
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", never)
    lay = layer()
    step(lay)
    assert lay._auto[(6, "cpu", torch.float32, None)] == "factored"
    assert [(e["path"], e["source"], e["dense_ms"]) for e in events] == [("factored", "cache", None)]


def test_another_torch_version_measures_again_and_drops_the_stale_entries(env, monkeypatch):
    _, _, run = env
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", slow("dense"))
    step(layer())
    monkeypatch.setattr(torch, "__version__", torch.__version__ + ".other")
    pathchoice.configure(run)
    calls = []
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", slow("factored", calls))
    lay = layer()
    step(lay)
    assert calls and lay._auto[(6, "cpu", torch.float32, None)] == "dense"
    for f in (run / pathchoice.PATH_CACHE_NAME, pathchoice.user_cache_file()):
        machines = json.loads(f.read_text())["machines"]
        assert [m["torch"] for m in machines.values()] == [torch.__version__]


@pytest.mark.parametrize("text", ["{not json", '{"format": 1, "machines": []}', "[1, 2]"])
def test_a_corrupt_cache_is_set_aside_with_a_warning(env, monkeypatch, text):
    _, warned, run = env
    cache = pathchoice.user_cache_file()
    cache.parent.mkdir(parents=True)
    cache.write_text(text)
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", slow("dense"))
    lay = layer()
    step(lay)
    assert lay._auto[(6, "cpu", torch.float32, None)] == "factored"
    assert len(warned) == 1 and str(cache) in warned[0] and "measured again" in warned[0]
    assert cache.with_name(cache.name + ".corrupt").read_text() == text  # what the user had is kept
    assert json.loads(cache.read_text())["format"] == pathchoice.CACHE_FORMAT


def test_without_measuring_the_cost_model_decides(monkeypatch, tmp_path):
    monkeypatch.setenv(pathchoice.PATH_CACHE_ENV, str(tmp_path / "cache.json"))
    pathchoice.configure(enabled=False)

    def never(path):
        raise AssertionError("measured while off")
    monkeypatch.setattr(pathchoice, "DELAY_HOOK", never)
    step(layer())
    assert not (tmp_path / "cache.json").exists()


def test_a_training_run_reports_each_choice_and_keeps_them_in_its_folder(tmp_path):
    out = tmp_path / "run"
    r = run_cli(["--steps", "2", "--warmup", "1", "--eval-every", "0", "--save-every", "0", "--out", str(out),
                 *SMALL])
    assert r.returncode == 0, r.stderr
    events = read_events(out)
    check_schema(events)
    chosen = [e for e in events if e["event"] == pathchoice.EVENT]
    start = next(i for i, e in enumerate(events) if e["event"] == "start")
    first_step = next(i for i, e in enumerate(events) if e["event"] == "step")
    assert chosen and all(start < events.index(e) < first_step for e in chosen)
    assert all(e["path"] in ("dense", "factored") and e["source"] in ("measured", "cache") for e in chosen)
    problems = {(e["in_features"], e["out_features"], e["tokens"]) for e in chosen}
    assert len(problems) == len(chosen)  # once per problem, not per layer
    (entry,) = json.loads((out / pathchoice.PATH_CACHE_NAME).read_text())["machines"].values()
    assert len(entry["choices"]) == len(chosen)  # cached ones too: a resume keeps every choice


def test_layer_path_option_fixes_or_frees_the_layers():
    from sltrain.config import LlamaConfig, MethodConfig
    from sltrain.methods import build_model
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=88, num_attention_heads=4,
                      num_key_value_heads=4, num_hidden_layers=1, max_position_embeddings=32)
    for option, measures, path in (("dense", False, "dense"), ("factored", False, "factored"),
                                   ("model", False, "auto"), ("measured", True, "auto")):
        model = build_model(cfg, MethodConfig(method="sltrain", rank=8, delta=0.1), seed=0)
        assert pathchoice.apply_option(model, option) is measures
        assert {m.path for m in model.modules() if isinstance(m, SLTrainLinear)} == {path}


def test_a_run_with_a_fixed_path_measures_nothing(tmp_path):
    out = tmp_path / "run"
    r = run_cli(["--steps", "1", "--warmup", "0", "--eval-every", "0", "--save-every", "0", "--layer-path", "dense",
                 "--out", str(out), *SMALL])
    assert r.returncode == 0, r.stderr
    events = read_events(out)
    assert events[0]["config"]["layer_path"] == "dense"
    assert not any(e["event"] == pathchoice.EVENT for e in events) and not (out / pathchoice.PATH_CACHE_NAME).exists()


def test_measuring_inside_a_checkpointed_forward_keeps_the_recompute_equal(env):
    """The paths are timed at a layer's first forward, which under gradient checkpointing is inside the
    checkpointed block: what the timing saves must not count as the block's saved tensors."""
    from torch.utils.checkpoint import checkpoint

    lay = layer(3)
    x = torch.randn(6, lay.in_features, requires_grad=True)
    y = checkpoint(lambda t: torch.nn.functional.silu(lay(t)), x, use_reentrant=False)
    y.sum().backward()  # raised CheckpointError (different saved tensors in the recompute) before
    assert x.grad is not None and lay.A.grad is not None
    assert [e["source"] for e in env[0]] == ["measured"]
