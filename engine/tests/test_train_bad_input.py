"""Each kind of bad input: one clear error event, a message on stderr, exit code 2, nothing half-written."""
import json
import sys
from pathlib import Path

import pytest

from sltrain import train
from test_limits import HUGE, TINY
from test_train_e2e import SMALL, run_cli

CASES = {
    "missing data file": (["--data", "{tmp}/nope.txt"], "no such file"),
    "empty data file": (["--data", "{tmp}/empty.txt"], "empty"),
    "unknown preset": (["--model", "llama_99t"], "unknown model preset"),
    "delta above 1": (["--delta", "1.5"], "delta"),
    "delta 0 for sltrain": (["--delta", "0"], "delta"),
    "rank above min(in, out)": (["--rank", "129"], "rank"),
    "sequence too long": (["--seq-len", "257"], "max_position_embeddings"),
    "unwritable output (read-only fs)": (["--out", "/proc/sltrain-run"], "cannot write"),
    "output under a file": (["--out", "{tmp}/empty.txt/run"], "not a directory"),
    "resume without checkpoint": (["--resume"], "no checkpoint"),
    "unknown flag": (["--lrr", "1"], "unrecognized"),
    "clipping with per-layer updates": (["--per-layer", "--grad-clip", "1"], "grad-clip"),
    "malformed run file": (["--config", "{tmp}/empty.txt"], "cannot read it as JSON"),
    "run file is /dev/zero": (["--config", "/dev/zero"], "is a device"),
    "run file is a directory": (["--config", "{tmp}"], "is a directory"),
    "deeply nested run file": (["--config", "{tmp}/deep.json"], "nested deeper than 64 levels"),
    "non-UTF-8 run file": (["--config", "{tmp}/latin1.json"], "is not UTF-8"),
    "model with 1e9 layers": (["--model", "{tmp}/layers.json"], "'num_hidden_layers' is 1000000000, above the limit"),
    "model no machine holds": (["--model", "{tmp}/huge.json"], "needs at least"),
    "lr 1e308": (["--lr", "1e308"], "--lr 1e+308 is outside (0, 1]"),
    "batch size 1e8": (["--batch-size", "100000000"], "--batch-size 100000000 is above the limit"),
    "grad accum 1e9": (["--grad-accum", "1000000000"], "--grad-accum 1000000000 is above the limit"),
    "100000 threads": (["--num-threads", "100000"], "--num-threads 100000 is above the limit"),
    "blank output": (["--out", " "], "is empty; give a run directory"),
}


def _hostile_files(tmp: Path) -> None:
    (tmp / "empty.txt").write_text("")
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp / "latin1.json").write_bytes('{"data": "caf\xe9"}'.encode("latin-1"))
    (tmp / "layers.json").write_text(json.dumps({**TINY, "num_hidden_layers": 10**9}))
    (tmp / "huge.json").write_text(json.dumps(HUGE))


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_error_event(tmp_path, capsys, name):
    _hostile_files(tmp_path)
    argv, needle = CASES[name]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "run")]
    assert train.main([*SMALL, "--steps", "2", "--warmup", "0", *argv]) == 2
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["error"] and events[0]["code"] == "bad_input"
    assert needle in events[0]["message"] and f"error: {events[0]['message']}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()  # OUT is created only after validation


@pytest.mark.parametrize("module,argv,needle", [
    ("bitsandbytes", ["--optimizer", "adam8bit"], "pip install bitsandbytes"),
    ("transformers", ["--tokenizer", "hf:t5-base"], "pip install transformers"),
])
def test_missing_optional_package(tmp_path, capsys, monkeypatch, module, argv, needle):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    assert train.main(argv + ["--out", str(tmp_path / "run"), "--steps", "2", "--warmup", "0", *SMALL]) == 2
    event = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert event["event"] == "error" and event["code"] == "missing_dependency" and needle in event["message"]
    assert not (tmp_path / "run").exists()


def test_missing_package_after_start_up_is_reported_as_missing_dependency(tmp_path, capsys, monkeypatch):
    # A dependency first needed while the run is being set up (past the start-up checks): the error event
    # still says which package is missing, not "bad input".
    from sltrain.errors import MissingDependency

    def needs_package(*_a, **_k):
        raise MissingDependency("this setup needs the 'example' package: pip install example")

    monkeypatch.setattr(train, "build_optimizer", needs_package)
    assert train.main(["--out", str(tmp_path / "run"), "--steps", "2", "--warmup", "0", *SMALL]) == 2
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    error = next(e for e in events if e["event"] == "error")
    assert error["code"] == "missing_dependency" and "pip install example" in error["message"]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "failed"


def test_existing_out_gets_the_error_and_exit_code_only(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "log").write_text("launcher log\n")  # what a launcher leaves there: never touched
    assert train.main(["--delta", "2", "--out", str(out), *SMALL]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["events.jsonl", "exit_code", "log"]
    assert (out / "exit_code").read_text().strip() == "2" and (out / "log").read_text() == "launcher log\n"
    assert json.loads((out / "events.jsonl").read_text())["event"] == "error"


def test_fresh_run_refuses_an_existing_run_dir(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints" / "step-2").mkdir(parents=True)  # a run without a checkpoint may be restarted
    (out / "config.json").write_text("{}")
    assert train.main(["--out", str(out), *SMALL]) == 2
    assert (out / "config.json").read_text() == "{}"


def test_cli_process_exit_code_and_stderr(tmp_path):
    r = run_cli(["--model", "llama_99t", "--out", str(tmp_path / "run")], timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("error: unknown model preset") and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["event"] == "error"


def test_empty_out_writes_nothing_in_the_current_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Path("") is the current directory: the error must not land there
    assert train.main(["--out", "", *SMALL]) == 2
    assert "--out '' is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
