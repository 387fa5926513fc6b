"""A run folder is untrusted input: a checkpoint is only used after its manifest (SHA-256 and size of
every file) verifies, it loads with weights_only=True (a crafted pickle is refused, never run), and
it fits the model; any other checkpoint is skipped with a warning naming it and the reason, and the
previous one is used, or a fresh start in the same folder when none is left. A run killed before its
first checkpoint can be launched again in its folder, with or without --resume."""
import hashlib
import json
import os
import random
import signal
import subprocess
import sys

import pytest
import torch

from sltrain import checkpoint, export, train
from test_train_e2e import ENGINE, engine_env, read_events

ARGS = ["--steps", "8", "--warmup", "1", "--batch-size", "2", "--seq-len", "32", "--eval-every", "0",
        "--save-every", "4", "--keep-checkpoints", "0", "--num-threads", "1", "--seed", "5"]


class OpensAFile:
    """Unpickling this calls open(marker, "w"): the file appears only if the pickle was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def steps(events):
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


def warnings(events):
    return [e["message"] for e in events if e["event"] == "warning"]


def reseal(step_dir):
    """Rewrite the manifest for the files as they are now, as anyone who edits a run folder can."""
    files = {}
    for p in sorted(step_dir.iterdir()):
        if p.name != checkpoint.MANIFEST_FILE:
            data = p.read_bytes()
            files[p.name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    step = int(step_dir.name.split("-")[1])
    (step_dir / checkpoint.MANIFEST_FILE).write_text(json.dumps({"format": 1, "step": step, "files": files}))


def plant_crafted_pickle(run, step, marker):
    """Replaces a checkpoint's state.pt by a same-size pickle that would create `marker` when
    unpickled, under a manifest that verifies: only weights_only loading stands in its way."""
    state = run / "checkpoints" / f"step-{step}" / checkpoint.STATE_FILE
    write_pickle_of_size(state, OpensAFile(marker), state.stat().st_size)
    reseal(state.parent)


def write_pickle_of_size(path, obj, size):
    """A plain-pickle torch file of exactly `size` bytes (padded with a string), so that no size
    check can tell it from the file it replaces."""
    def dump(pad):
        torch.save({"payload": obj, "pad": "x" * pad}, path, _use_new_zipfile_serialization=False)
        return path.stat().st_size
    base = dump(0)  # the overhead is constant: the padding's length is the only variable
    assert dump(size - base) == size


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: its per-step losses are what every resumed or restarted run must match."""
    out = tmp_path_factory.mktemp("ref") / "run"
    assert train.main([*ARGS, "--out", str(out)]) == 0
    return steps(read_events(out))


@pytest.fixture
def run(tmp_path):
    """A finished run with checkpoints step-4 and step-8."""
    out = tmp_path / "run"
    assert train.main([*ARGS, "--out", str(out)]) == 0
    return out


def resume(out):
    n = len(read_events(out))
    code = train.main([*ARGS, "--out", str(out), "--resume"])
    return code, read_events(out)[n:]


def test_a_crafted_pickle_is_refused_not_run(run, reference, tmp_path):
    marker = tmp_path / "executed"
    plant_crafted_pickle(run, 8, marker)

    crafted = (run / "checkpoints" / "step-8" / checkpoint.STATE_FILE).read_bytes()

    code, new = resume(run)
    assert not marker.exists()
    assert code == 0
    assert any("step-8" in w and "refused without running" in w and "open" in w for w in warnings(new))
    assert steps(new) == {s: reference[s] for s in (5, 6, 7, 8)}  # continued from step-4
    # The refused file is kept aside, not overwritten by the new step-8 (nothing the user had is lost).
    assert (run / "checkpoints" / "refused-step-8" / checkpoint.STATE_FILE).read_bytes() == crafted
    assert [s for s, _ in checkpoint.list_checkpoints(run / "checkpoints")] == [4, 8]


def test_random_bytes_in_a_checkpoint_fail_its_checksum(run, reference):
    state = run / "checkpoints" / "step-8" / checkpoint.STATE_FILE
    data = bytearray(state.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4096] = random.Random(0).randbytes(4096)
    state.write_bytes(bytes(data))

    code, new = resume(run)
    assert code == 0
    assert any("step-8" in w and "SHA-256" in w for w in warnings(new))
    assert steps(new) == {s: reference[s] for s in (5, 6, 7, 8)}


def _wrong_shape(st):
    name = next(k for k, v in st["model"].items() if v.dim() == 2)
    st["model"][name] = st["model"][name][:, :-1].clone()
    return st


def _wrong_keys(st):
    st["model"] = {f"renamed.{k}": v for k, v in st["model"].items()}
    return st


def _wrong_method(st):
    st["config"]["method"] = "full"
    return st


@pytest.mark.parametrize("damage", [lambda st: {}, _wrong_shape, _wrong_keys, _wrong_method],
                         ids=["empty", "shape", "keys", "method"])
def test_a_checkpoint_that_loads_but_does_not_fit_falls_back(run, reference, damage):
    state = run / "checkpoints" / "step-8" / checkpoint.STATE_FILE
    torch.save(damage(torch.load(state, weights_only=True)), state)
    reseal(state.parent)

    code, new = resume(run)
    assert code == 0
    assert not any(e["event"] == "error" for e in new)
    assert any("step-8" in w and "skipped" in w for w in warnings(new))
    assert steps(new) == {s: reference[s] for s in (5, 6, 7, 8)}


def test_no_usable_checkpoint_starts_fresh_with_nothing_left_of_the_bad_ones(run, reference):
    # Each half-fits: load_state_dict copies every matching tensor before it raises on the bad one.
    for name in ("step-4", "step-8"):
        state = run / "checkpoints" / name / checkpoint.STATE_FILE
        torch.save(_wrong_shape(torch.load(state, weights_only=True)), state)
        reseal(state.parent)
    before = {p.relative_to(run / "checkpoints"): p.read_bytes() for p in (run / "checkpoints").rglob("*.*")}

    code, new = resume(run)
    assert code == 0
    ws = warnings(new)
    assert any("step-4" in w and "no older checkpoint" in w for w in ws)
    assert any("from step 0" in w for w in ws)
    assert steps(new) == reference  # exactly a fresh run: nothing of the skipped checkpoints leaked in
    for rel, data in before.items():  # the fresh run's step-4 and step-8 did not replace them
        assert (run / "checkpoints" / f"refused-{rel}").read_bytes() == data


def test_export_refuses_a_crafted_pickle(run, tmp_path, capsys):
    marker = tmp_path / "executed"
    plant_crafted_pickle(run, 8, marker)

    assert export.main([str(run), str(tmp_path / "hf")]) == 0
    assert not marker.exists()
    assert "step-8" in capsys.readouterr().err
    assert json.loads((tmp_path / "hf" / "sltrain_export.json").read_text())["step"] == 4

    plant_crafted_pickle(run, 4, marker)
    assert export.main([str(run), str(tmp_path / "hf2")]) == 2
    assert not marker.exists()
    assert "no readable checkpoint" in capsys.readouterr().err


def _killed_before_first_checkpoint(out):
    p = subprocess.Popen([sys.executable, "-m", "sltrain.train", *ARGS, "--out", str(out)], cwd=ENGINE,
                         env=engine_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if json.loads(line)["event"] == "start":
            os.kill(p.pid, signal.SIGKILL)
            break
    p.stdout.close()
    assert p.wait(timeout=120) == -signal.SIGKILL
    assert not checkpoint.list_checkpoints(out / "checkpoints")


@pytest.mark.parametrize("again", [["--resume"], []], ids=["resume", "plain"])
def test_a_run_killed_before_its_first_checkpoint_starts_again_in_its_folder(tmp_path, reference, again):
    out = tmp_path / "run"
    _killed_before_first_checkpoint(out)
    n = len(read_events(out))
    assert train.main([*ARGS, "--out", str(out), *again]) == 0
    new = read_events(out)[n:]
    assert steps(new) == reference
    assert new[-1]["status"] == "completed" and (out / "exit_code").read_text().strip() == "0"
    if again:
        assert any("from step 0" in w for w in warnings(new))


def test_a_checkpointed_run_is_still_not_restarted_without_resume(run, capsys):
    before = {p: p.read_bytes() for p in (run / "checkpoints").rglob("*") if p.is_file()}
    assert train.main([*ARGS, "--out", str(run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (run / "checkpoints").rglob("*") if p.is_file()} == before


def test_resume_into_a_folder_without_a_run_is_refused(tmp_path, capsys):
    assert train.main([*ARGS, "--out", str(tmp_path / "nothing"), "--resume"]) == 2
    assert "holds no run" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()


def _tiny(ckpt_dir, step=1):
    state = {k: 0 for k in checkpoint.STATE_KEYS} | {"step": step, "model": {"w": torch.ones(3)}}
    return checkpoint.save(ckpt_dir, step, state, keep=0)


def _refusals(ckpt_dir):
    ws = []
    assert checkpoint.load_latest(ckpt_dir, ws.append) is None
    return ws


def test_a_saved_checkpoint_verifies_and_loads(tmp_path):
    path = _tiny(tmp_path)
    assert json.loads((path / checkpoint.MANIFEST_FILE).read_text())["files"][checkpoint.STATE_FILE]["sha256"]
    found_path, st = checkpoint.load_latest(tmp_path, pytest.fail)
    assert found_path == path and torch.equal(st["model"]["w"], torch.ones(3))


@pytest.mark.parametrize("hostile, reason", [
    ("no-manifest", "has no manifest.json"),
    ("outside-name", "not a file of this checkpoint"),
    ("state-is-dev-zero", "not a regular file"),
    ("manifest-is-fifo", "not a regular file"),
    ("huge-manifest", "more than the"),
    ("deep-manifest", "not valid JSON"),
])
def test_hostile_manifests_are_refused_without_reading_elsewhere(tmp_path, hostile, reason):
    path = _tiny(tmp_path / "checkpoints")
    manifest, state = path / checkpoint.MANIFEST_FILE, path / checkpoint.STATE_FILE
    m = json.loads(manifest.read_text())
    if hostile == "no-manifest":
        manifest.unlink()
    elif hostile == "outside-name":
        m["files"]["../../secret"] = m["files"][checkpoint.STATE_FILE]
        manifest.write_text(json.dumps(m))
    elif hostile == "state-is-dev-zero":  # hashing it would never end
        state.unlink()
        state.symlink_to("/dev/zero")
    elif hostile == "manifest-is-fifo":   # opening it would block forever
        manifest.unlink()
        os.mkfifo(manifest)
    elif hostile == "huge-manifest":
        manifest.write_text(" " * (checkpoint.MANIFEST_MAX_BYTES + 1))
    else:
        manifest.write_text("[" * 100000 + "]" * 100000)
    ws = _refusals(tmp_path / "checkpoints")
    assert len(ws) == 1 and "step-1" in ws[0] and reason in ws[0], ws


def test_refusal_reasons_cannot_write_to_the_terminal(tmp_path):
    """Reasons quote names from the file (here a state-dict key that would set the terminal title)."""
    path = _tiny(tmp_path)
    state = path / checkpoint.STATE_FILE
    st = torch.load(state, weights_only=True)
    torch.save(st | {"model": {"\x1b]0;owned\x07\rstep": torch.ones(1)}}, state)
    reseal(path)
    ws = []
    found = checkpoint.load_latest(tmp_path, ws.append, lambda p, st: torch.nn.Linear(1, 1).load_state_dict(st["model"]))
    assert found is None and "owned" in ws[0]
    assert not any(c in ws[0] for c in "\x1b\x07\r")
