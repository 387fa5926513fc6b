"""End-to-end: `python -m sltrain.train` as a list of CLI overrides on the debug preset, the event
stream's schema, the run directory, SIGTERM, divergence, and every method/precision for a few steps."""
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sltrain import pathchoice, train
from sltrain.schedule import lr_at

ENGINE = Path(__file__).resolve().parents[1]
# Small and fast: the debug preset at sequence 64, 4 sequences per micro-batch, one thread (no
# oversubscription when a subprocess and pytest share two cores).
SMALL = ["--batch-size", "4", "--seq-len", "64", "--eval-batches", "2", "--num-threads", "1"]
COMMON = {"v", "event", "time", "rank"}
FIELDS = {
    "start": {"config", "params", "device", "world_size"},
    "step": {"step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "step_time_s",
             "mem_allocated_bytes", "mem_peak_bytes"},
    "eval": {"step", "loss", "ppl"},
    "checkpoint": {"step", "path"},
    "warning": {"message", "code"},
    "error": {"message", "code"},
    "end": {"status", "step"},
    pathchoice.EVENT: set(pathchoice.EVENT_FIELDS),
}


def engine_env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ENGINE), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_cli(args, module="sltrain.train", timeout=240, **kw):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ENGINE, env=engine_env(),
                          capture_output=True, text=True, timeout=timeout, **kw)


def read_events(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def check_schema(events: list[dict]) -> None:
    for e in events:
        assert COMMON <= set(e) and e["v"] == 1 and e["rank"] == 0, e
        assert FIELDS[e["event"]] <= set(e), e
    assert events[0]["event"] == "start" and events[-1]["event"] == "end"


def test_cli_overrides_run_dir_and_event_stream(tmp_path):
    out = tmp_path / "run"
    args = ["--steps", "6", "--warmup", "2", "--lr", "0.002", "--min-lr-ratio", "0.1", "--grad-accum", "2",
            "--grad-clip", "1.0", "--eval-every", "3", "--save-every", "2", "--keep-checkpoints", "2",
            "--seed", "7", "--out", str(out), *SMALL]
    r = run_cli(args)
    assert r.returncode == 0, r.stderr
    events = read_events(out)
    check_schema(events)
    assert [json.loads(line) for line in r.stdout.splitlines()] == events  # stdout carries the same stream
    start = events[0]
    assert start["world_size"] == 1 and start["device"] == "cpu"
    assert start["config"] == json.loads((out / "config.json").read_text())
    assert start["config"]["grad_accum"] == 2 and start["config"]["seed"] == 7
    assert start["params"]["sparse_nonzeros"] > 0 and start["params"]["trainable"] <= start["params"]["total"]
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5, 6]  # exactly --steps updates
    for e in steps:
        assert e["lr"] == pytest.approx(lr_at(e["step"] - 1, peak=0.002, warmup=2, total=6, min_ratio=0.1))
        assert math.isfinite(e["loss"]) and e["grad_norm"] > 0 and e["mem_peak_bytes"] > 0
    assert steps[-1]["lr"] == pytest.approx(0.0002)
    assert [e["step"] for e in events if e["event"] == "eval"] == [3, 6]
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [2, 4, 6]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-4", "step-6"]
    assert events[-1]["status"] == "completed" and events[-1]["step"] == 6
    assert (out / "exit_code").read_text().strip() == "0" and (out / "pid").read_text().strip().isdigit()
    assert "step 6/6" in r.stderr  # human progress goes to stderr


def test_loss_falls_on_the_embedded_corpus(tmp_path):
    code = train.main(["--steps", "30", "--warmup", "3", "--eval-every", "0", "--out", str(tmp_path / "r"), *SMALL])
    assert code == 0
    losses = [e["loss"] for e in read_events(tmp_path / "r") if e["event"] == "step"]
    assert sum(losses[-5:]) / 5 < losses[0] - 1.0


@pytest.mark.parametrize("method,extra", [
    ("full", []), ("lowrank", []), ("relora", ["--relora-reset-every", "2"]),
    ("galore", ["--galore-update-gap", "2"]), ("sltrain", ["--per-layer", "--grad-accum", "2"]),
])
def test_each_method_trains(tmp_path, method, extra):
    out = tmp_path / method
    code = train.main(["--method", method, "--steps", "4", "--warmup", "1", "--eval-every", "4",
                       "--out", str(out), *SMALL, *extra])
    assert code == 0
    events = read_events(out)
    check_schema(events)
    assert events[-1]["status"] == "completed" and events[-1]["step"] == 4
    assert all(math.isfinite(e["loss"]) for e in events if e["event"] in ("step", "eval"))


@pytest.mark.parametrize("precision,method", [("bf16", "sltrain"), ("mixed", "sltrain"), ("mixed", "full")])
def test_bf16_paths_run_on_cpu(tmp_path, precision, method):
    code = train.main(["--precision", precision, "--method", method, "--steps", "2", "--warmup", "1",
                       "--eval-every", "2", "--out", str(tmp_path / "r"), *SMALL])
    assert code == 0
    assert read_events(tmp_path / "r")[0]["config"]["precision"] == precision


def test_divergence_exits_3(tmp_path):
    # The largest --lr and --alpha allowed: a scale of 1e6 / 32 on every factored layer overflows.
    code = train.main(["--lr", "1", "--alpha", "1000000", "--steps", "6", "--warmup", "0",
                       "--out", str(tmp_path / "r"), *SMALL])
    events = read_events(tmp_path / "r")
    assert code == 3 and (tmp_path / "r" / "exit_code").read_text().strip() == "3"
    assert any(e["event"] == "error" and e["code"] == "diverged" for e in events)
    assert events[-1] == {**events[-1], "event": "end", "status": "failed"}


def test_sigterm_finishes_the_step_checkpoints_and_stops_even_without_a_reader(tmp_path):
    out = tmp_path / "r"
    p = subprocess.Popen([sys.executable, "-m", "sltrain.train", "--steps", "500", "--warmup", "1",
                          "--eval-every", "0", "--save-every", "0", "--out", str(out), *SMALL],
                         cwd=ENGINE, env=engine_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if json.loads(line)["event"] == "step":
            break
    p.stdout.close()  # the reader goes away first (a dropped session): the run must not care
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=120) == 0
    events = read_events(out)
    end, ckpt = events[-1], [e for e in events if e["event"] == "checkpoint"]
    assert end["status"] == "stopped" and 1 <= end["step"] < 500
    assert ckpt and ckpt[-1]["step"] == end["step"]
    assert (out / "exit_code").read_text().strip() == "0"


def test_hf_dataset_tokenizer_and_model_config_file(tmp_path):
    """A saved dataset and tokenizer (as hf:PATH), a config.json model, a run file and packing."""
    datasets = pytest.importorskip("datasets")
    pytest.importorskip("transformers")
    from test_runtime_data import make_hf_tokenizer
    tok_dir = make_hf_tokenizer(tmp_path / "tok")
    words = "the quick brown fox jumps over the lazy dog".split()
    docs = [" ".join(words[i % 5: i % 5 + 4]) for i in range(60)]
    datasets.Dataset.from_dict({"body": docs}).save_to_disk(str(tmp_path / "ds"))
    model = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1,
             "vocab_size": 10, "max_position_embeddings": 32}  # 10 < the tokenizer's 11 ids: a warning
    (tmp_path / "model.json").write_text(json.dumps(model))
    (tmp_path / "run.json").write_text(json.dumps({"model": str(tmp_path / "model.json"), "rank": 4,
                                                   "steps": 3, "warmup": 1, "text_field": "body"}))
    out = tmp_path / "run"
    code = train.main(["--config", str(tmp_path / "run.json"), "--data", f"hf:{tmp_path / 'ds'}",
                       "--tokenizer", f"hf:{tok_dir}", "--packing", "--seq-len", "16", "--batch-size", "2",
                       "--eval-every", "3", "--num-threads", "1", "--out", str(out)])
    assert code == 0
    events = read_events(out)
    assert events[0]["config"]["rank"] == 4 and events[0]["config"]["text_field"] == "body"
    assert any(e["event"] == "warning" and e["code"] == "tokenizer" for e in events)
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3]


@pytest.mark.parametrize("method", ["sltrain", "galore"])
def test_adam8bit_when_bitsandbytes_is_installed(tmp_path, method):
    pytest.importorskip("bitsandbytes")
    code = train.main(["--method", method, "--optimizer", "adam8bit", "--galore-update-gap", "2", "--steps", "3",
                       "--warmup", "1", "--eval-every", "3", "--out", str(tmp_path / "r"), *SMALL])
    assert code == 0 and read_events(tmp_path / "r")[-1]["status"] == "completed"
