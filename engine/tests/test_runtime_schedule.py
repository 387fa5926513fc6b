"""Schedule values and run-config resolution (pure functions, table-driven)."""
import json
import math

import pytest

from sltrain import runconfig
from sltrain.errors import ConfigError
from sltrain.schedule import lr_at


@pytest.mark.parametrize("step,expected", [
    (0, 0.0),            # warmup starts from 0
    (5, 0.5e-3),         # linear: peak * 5 / 10
    (10, 1e-3),          # peak at the end of warmup
    (99, 1e-4),          # the last update (steps=100) is exactly min_ratio * peak
])
def test_lr_schedule_points(step, expected):
    assert lr_at(step, peak=1e-3, warmup=10, total=100, min_ratio=0.1) == pytest.approx(expected, abs=1e-12)


def test_lr_schedule_is_cosine_and_monotone_after_warmup():
    lrs = [lr_at(s, peak=1.0, warmup=10, total=100, min_ratio=0.1) for s in range(100)]
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    mid = 10 + (99 - 10) / 2  # half-way through the cosine: (1 + 0.1) / 2
    assert lr_at(int(mid), peak=1.0, warmup=10, total=100, min_ratio=0.1) == pytest.approx(
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (int(mid) - 10) / 89)))
    assert min(lrs[10:]) == pytest.approx(0.1)


def test_defaults_follow_the_preset(tmp_path):
    cfg, resume = runconfig.resolve(["--out", str(tmp_path / "r")])
    assert not resume
    assert (cfg.model, cfg.method, cfg.data, cfg.tokenizer) == ("llama_tiny", "sltrain", "embedded", "byte")
    assert (cfg.rank, cfg.delta, cfg.alpha, cfg.lr, cfg.seq_len) == (32, 0.03, 32.0, 0.003, 256)
    assert (cfg.steps, cfg.warmup, cfg.min_lr_ratio, cfg.optimizer) == (300, 30, 0.1, "adamw")
    assert cfg.precision == "fp32" and cfg.device == "cpu"


def test_run_file_then_cli_overrides(tmp_path):
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"steps": 50, "lr": 0.01, "batch-size": 3}))
    cfg, _ = runconfig.resolve(["--config", str(run), "--lr", "0.002", "--out", str(tmp_path / "r")])
    assert (cfg.steps, cfg.lr, cfg.batch_size, cfg.warmup) == (50, 0.002, 3, 5)


@pytest.mark.parametrize("argv,needle", [
    (["--model", "llama_nope"], "unknown model preset"),
    (["--delta", "1.5"], "delta"),
    (["--delta", "0"], "delta"),
    (["--rank", "500"], "rank"),
    (["--seq-len", "512"], "max_position_embeddings"),
    (["--warmup", "400"], "warmup"),
    (["--bogus", "1"], "unrecognized"),
    (["--precision", "fp8"], "invalid choice"),
])
def test_bad_settings_raise_config_error(argv, needle):
    with pytest.raises(ConfigError, match=needle):
        runconfig.resolve(argv + ["--out", "/tmp/unused-sltrain-run"])


def test_unknown_key_in_run_file(tmp_path):
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"stepz": 5}))
    with pytest.raises(ConfigError, match="stepz"):
        runconfig.resolve(["--config", str(run)])


@pytest.mark.parametrize("setting", [{"steps": "10"}, {"lr": "fast"}, {"packing": 1}, {"steps": 2.5}])
def test_run_file_values_are_type_checked(tmp_path, setting):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(setting))
    with pytest.raises(ConfigError, match="must be of type"):
        runconfig.resolve(["--config", str(run)])
