"""--report-to and `python -m sltrain.report`: each tracker is written and read back with its own
reader (TensorBoard's EventAccumulator, the W&B offline run file, MLflow's client on its local file
store, Trackio's local SQLite store); every step and eval is there once, after a kill -9 and --resume
too; a missing package or a tracker that raises costs one warning event and nothing else."""
import glob
import json
import os
import signal
import struct
import subprocess
import sys

import pytest

from sltrain import report, trackers, tracker_backends, train
from sltrain.errors import EXIT_BAD_INPUT, ConfigError
from test_train_e2e import ENGINE, engine_env, read_events

ARGS = ["--steps", "6", "--warmup", "1", "--seq-len", "32", "--batch-size", "2", "--eval-every", "3",
        "--eval-batches", "1", "--num-threads", "1", "--seed", "1"]
ALL = ",".join(trackers.NAMES)


@pytest.fixture(scope="module")
def trackio_dir(tmp_path_factory):
    """Trackio reads TRACKIO_DIR once, at import: one store for this module, one project per test."""
    path, before = tmp_path_factory.mktemp("trackio"), os.environ.get("TRACKIO_DIR")
    os.environ["TRACKIO_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("TRACKIO_DIR")
    else:
        os.environ["TRACKIO_DIR"] = before


@pytest.fixture
def offline(monkeypatch, trackio_dir):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # the readers below open the same file store
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


# --- each tracker's own reader: {kind: {step: loss}} plus a list of every step seen (duplicates too)

def read_tensorboard(out):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / trackers.TENSORBOARD_DIR))
    acc.Reload()
    return {kind: [(s.step, s.value) for s in acc.Scalars(f"{kind}/loss")] for kind in ("train", "eval")}


def _wandb_records(path):
    """The W&B transaction log: a header, then 32 KiB blocks of (crc, length, type) framed protobufs."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, buf = open(path, "rb").read(), 7, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):
            pos += left
            continue
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last part of one
            r = pb.Record()
            r.ParseFromString(buf)
            buf = b""
            yield r


def read_wandb(out):
    rows, config = {"train": [], "eval": []}, {}
    for f in sorted(glob.glob(str(out / "wandb" / "offline-run-*" / "run-*.wandb"))):
        for r in _wandb_records(f):
            if r.WhichOneof("record_type") == "history":
                row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item}
                for kind in rows:
                    if f"{kind}/loss" in row:
                        rows[kind].append((row["_step"], row[f"{kind}/loss"]))
            elif r.WhichOneof("record_type") == "run":
                config.update({u.key: json.loads(u.value_json) for u in r.run.config.update})
    return rows, config


def read_mlflow(out):
    from mlflow.tracking import MlflowClient

    state = trackers.read_state(out)["mlflow"]
    client = MlflowClient(tracking_uri=state["tracking_uri"])
    rows = {kind: sorted((m.step, m.value) for m in client.get_metric_history(state["run_id"], f"{kind}/loss"))
            for kind in ("train", "eval")}
    return rows, client.get_run(state["run_id"])


def read_trackio(out):
    from trackio.sqlite_storage import SQLiteStorage

    state = trackers.read_state(out)["trackio"]
    logs = SQLiteStorage.get_logs(state["project"], state["name"])
    return {kind: sorted((r["step"], r[f"{kind}/loss"]) for r in logs if f"{kind}/loss" in r)
            for kind in ("train", "eval")}


def expected(out):
    """Each step and eval once, with the loss events.jsonl has for it last."""
    ev = read_events(out)
    return {kind: sorted({e["step"]: e["loss"] for e in ev if e["event"] == name}.items())
            for kind, name in (("train", "step"), ("eval", "eval"))}


def assert_once(rows, want, who):
    for kind in ("train", "eval"):
        steps = [s for s, _ in rows[kind]]
        assert sorted(steps) == [s for s, _ in want[kind]], (who, kind, steps)  # each step exactly once
        got = [v for _, v in sorted(rows[kind])]
        assert got == pytest.approx([v for _, v in want[kind]], rel=1e-6), (who, kind)  # fp32 in TensorBoard


def assert_all_four(out):
    want = expected(out)
    assert_once(read_tensorboard(out), want, "tensorboard")
    assert_once(read_wandb(out)[0], want, "wandb")
    assert_once(read_mlflow(out)[0], want, "mlflow")
    assert_once(read_trackio(out), want, "trackio")


def run_engine(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "sltrain.train", *args], cwd=ENGINE, env=engine_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **kw)


# --- tests

def test_report_to_is_checked_against_the_tracker_names(tmp_path):
    assert trackers.parse("none") == () and trackers.parse("TensorBoard, mlflow") == ("tensorboard", "mlflow")
    for bad in ("tensorbord", "wandb,wandb", "none,mlflow"):
        with pytest.raises(ConfigError, match="--report-to"):
            trackers.parse(bad)
    assert set(tracker_backends.BACKENDS) == set(trackers.NAMES) == set(trackers.PACKAGES)
    assert train.main([*ARGS, "--report-to", "tensorbord", "--out", str(tmp_path / "r")]) == EXIT_BAD_INPUT
    assert not (tmp_path / "r").exists()


def test_available_lists_the_importable_trackers(monkeypatch):
    assert trackers.available() == list(trackers.NAMES)  # the test extra installs all four
    real = trackers.importlib.util.find_spec
    monkeypatch.setattr(trackers.importlib.util, "find_spec", lambda n: None if n == "wandb" else real(n))
    assert trackers.available() == [n for n in trackers.NAMES if n != "wandb"]


def test_live_report_to_all_four_trackers(tmp_path, offline):
    out = tmp_path / "live"
    p = run_engine([*ARGS, "--report-to", ALL, "--tracker-project", "live", "--run-name", "tiny",
                    "--predicted-peak-bytes", "123456789", "--out", str(out)])
    stdout, _ = p.communicate(timeout=600)
    assert p.returncode == 0
    assert all(json.loads(line) for line in stdout.splitlines())  # tracker banners stayed off stdout
    assert not [e for e in read_events(out) if e["event"] == "warning"]
    assert_all_four(out)
    rows, run = read_mlflow(out)
    assert run.data.params["method"] == "sltrain" and run.info.run_name == "tiny"
    assert run.data.metrics["memory/predicted_peak_bytes"] == 123456789
    assert run.data.metrics["params/total"] == read_events(out)[0]["params"]["total"]
    # One tracker event each, right after the start, saying where to look at the run.
    links = {e["name"]: e for e in read_events(out) if e["event"] == trackers.EVENT}
    assert sorted(links) == sorted(trackers.NAMES)
    assert links["tensorboard"]["path"] == str((out / trackers.TENSORBOARD_DIR).resolve())
    assert links["tensorboard"]["command"].startswith("tensorboard --logdir ")
    assert links["wandb"]["command"] == f"wandb sync {links['wandb']['path']}" and "url" not in links["wandb"]
    assert glob.glob(os.path.join(links["wandb"]["path"], "run-*.wandb"))  # the offline run it would upload
    assert links["mlflow"]["path"] == str((out / trackers.MLFLOW_DIR).resolve())
    assert links["trackio"]["command"] == "trackio show --project live"
    assert "memory/peak_bytes" in run.data.metrics and run.info.status == "FINISHED"
    assert read_wandb(out)[1]["seq_len"] == 32


def test_kill_9_then_resume_reports_each_step_once(tmp_path, offline):
    out = tmp_path / "killed"
    args = [*ARGS, "--steps", "20", "--save-every", "5", "--report-to", ALL, "--tracker-project", "resume",
            "--out", str(out)]
    p = run_engine(args)
    for line in p.stdout:
        if json.loads(line).get("event") == "step" and json.loads(line)["step"] == 7:
            os.kill(p.pid, signal.SIGKILL)
            break
    p.stdout.close()
    assert p.wait(timeout=120) == -signal.SIGKILL
    before = read_events(out)
    last_ckpt = max(e["step"] for e in before if e["event"] == "checkpoint")
    assert max(e["step"] for e in before if e["event"] == "step") > last_ckpt  # steps the resume re-runs
    ids = trackers.read_state(out)

    p = run_engine([*args, "--resume"])
    p.communicate(timeout=600)
    assert p.returncode == 0
    assert trackers.read_state(out)["wandb"]["id"] == ids["wandb"]["id"]  # the same tracker runs go on
    assert trackers.read_state(out)["mlflow"]["run_id"] == ids["mlflow"]["run_id"]
    assert len(expected(out)["train"]) == 20
    assert_all_four(out)


def test_missing_package_and_failing_tracker_leave_training_untouched(tmp_path, offline, monkeypatch):
    assert train.main([*ARGS, "--out", str(tmp_path / "plain")]) == 0
    losses = [e["loss"] for e in read_events(tmp_path / "plain") if e["event"] == "step"]

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    calls = []

    def broken_log(self, kind, step, values):
        calls.append(step)
        raise RuntimeError("tracker server went away")

    monkeypatch.setattr(tracker_backends.MLflow, "log", broken_log)
    out = tmp_path / "tracked"
    assert train.main([*ARGS, "--report-to", "tensorboard,mlflow", "--out", str(out)]) == 0
    events = read_events(out)
    warnings = [e for e in events if e["event"] == "warning"]
    assert [w["code"] for w in warnings] == ["tracker", "tracker"]
    assert "tensorboard" in warnings[0]["message"] and "pip install tensorboard" in warnings[0]["message"]
    assert "mlflow" in warnings[1]["message"] and "went away" in warnings[1]["message"]
    assert calls == [1]  # dropped after its first failure
    kinds = [(e["event"], e.get("step")) for e in events]  # each warning follows the event it came with
    assert kinds[:2] == [("start", None), ("warning", None)]
    assert kinds.index(("step", 1)) == kinds.index(("warning", None), 2) - 1
    assert [e["loss"] for e in events if e["event"] == "step"] == losses
    assert events[-1]["status"] == "completed"


def test_replay_reports_each_step_once(tmp_path, offline):
    out = tmp_path / "run"
    assert train.main([*ARGS, "--tracker-project", "replay", "--out", str(out)]) == 0
    # As a kill and --resume leave it: steps 1..4, then a resumed start that re-runs 3..6.
    ev = read_events(out)
    cut = next(i for i, e in enumerate(ev) if e["event"] == "step" and e["step"] == 4) + 1
    again = next(i for i, e in enumerate(ev) if e["event"] == "step" and e["step"] == 3)
    resumed = dict(ev[0], resume=True)
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in [*ev[:cut], resumed, *ev[again:]]))
    for name in trackers.NAMES:
        assert report.main([str(out), "--to", name]) == 0, name
    assert_all_four(out)
    assert report.main([str(out), "--to", "mlflow"]) == EXIT_BAD_INPUT  # already there: no second copy


def test_replay_bad_input_exits_2_with_a_clear_message(tmp_path, offline, monkeypatch, capsys):
    assert report.main([str(tmp_path / "nope"), "--to", "tensorboard"]) == EXIT_BAD_INPUT
    assert "no events.jsonl" in capsys.readouterr().err
    out = tmp_path / "run"
    assert train.main([*ARGS, "--steps", "2", "--eval-every", "0", "--out", str(out)]) == 0
    assert report.main([str(out), "--to", "comet"]) == EXIT_BAD_INPUT
    assert "unknown tracker 'comet'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert report.main([str(out), "--to", "mlflow"]) == EXIT_BAD_INPUT
    assert "pip install mlflow-skinny" in capsys.readouterr().err


def test_past_reports_start_at_the_last_fresh_start(tmp_path):
    """A run started over in a folder its failed first try left: the try's steps are not this run's."""
    lines = [{"event": "start", "resume": False}, {"event": "step", "step": 1, "loss": 9.0},
             {"event": "start", "resume": False}, {"event": "step", "step": 1, "loss": 5.0},
             {"event": "start", "resume": True}, {"event": "eval", "step": 1, "loss": 4.0}]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"torn')
    assert [e["loss"] for e in trackers.past_reports(tmp_path / "events.jsonl")] == [5.0, 4.0]
