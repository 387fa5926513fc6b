"""Each kind of bad input: one clear error event, a message on stderr, exit code 2, nothing half-written."""
import json
import sys

import pytest

from sltrain import train
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
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_error_event(tmp_path, capsys, name):
    (tmp_path / "empty.txt").write_text("")
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
