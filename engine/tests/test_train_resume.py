"""Resume continues the same loss curve bit for bit (CPU, fp32): a run SIGKILLed after its step-10
checkpoint and resumed matches a straight run; a corrupt newest checkpoint falls back to the previous;
every method's optimizer state (GaLore projectors, ReLoRA merges, per-layer optimizers) resumes exactly."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from sltrain import train
from test_train_e2e import ENGINE, engine_env, read_events

# Slow enough per step (sequence 128, 8 rows) that the kill lands while steps 11..20 still run.
ARGS = ["--steps", "20", "--warmup", "3", "--batch-size", "8", "--seq-len", "128", "--eval-every", "5",
        "--eval-batches", "4", "--save-every", "10", "--num-threads", "1", "--seed", "3"]


def last_by_step(events, kind, key="loss"):
    """The last value reported for each step (a killed run may have reported some steps twice)."""
    return {e["step"]: e[key] for e in events if e["event"] == kind}


def test_kill_9_then_resume_is_bit_exact(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert train.main([*ARGS, "--out", str(straight)]) == 0

    p = subprocess.Popen([sys.executable, "-m", "sltrain.train", *ARGS, "--out", str(killed)], cwd=ENGINE,
                         env=engine_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        e = json.loads(line)
        if e["event"] == "checkpoint" and e["step"] == 10:
            os.kill(p.pid, signal.SIGKILL)
            break
    p.stdout.close()
    assert p.wait(timeout=60) == -signal.SIGKILL
    before = read_events(killed)
    assert not any(e["event"] == "end" for e in before)  # really killed mid-run
    assert not (killed / "exit_code").exists()

    assert train.main([*ARGS, "--out", str(killed), "--resume"]) == 0
    events = read_events(killed)
    ref = read_events(straight)
    for kind, key in (("step", "loss"), ("step", "grad_norm"), ("eval", "loss")):
        assert last_by_step(events, kind, key) == last_by_step(ref, kind, key), (kind, key)
    assert sorted(last_by_step(events, "step")) == list(range(1, 21))
    assert events[-1]["status"] == "completed" and (killed / "exit_code").read_text().strip() == "0"


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    out = tmp_path / "run"
    args = ["--steps", "8", "--warmup", "1", "--batch-size", "4", "--seq-len", "64", "--eval-every", "0",
            "--save-every", "4", "--keep-checkpoints", "3", "--num-threads", "1", "--out", str(out)]
    assert train.main(args) == 0
    ref = last_by_step(read_events(out), "step")
    state = out / "checkpoints" / "step-8" / "state.pt"
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])  # a torn write
    (out / "checkpoints" / ".tmp-step-9").mkdir()                       # an interrupted save
    n_before = len(read_events(out))

    assert (out / "exit_code").exists()
    assert train.main([*args, "--resume"]) == 0
    new = read_events(out)[n_before:]
    warnings = [e["message"] for e in new if e["event"] == "warning"]
    assert any("step-8" in w for w in warnings) and any(".tmp-step-9" in w for w in warnings)
    assert [e["step"] for e in new if e["event"] == "step"] == [5, 6, 7, 8]
    assert last_by_step(new, "step") == {s: ref[s] for s in (5, 6, 7, 8)}
    assert not (out / "checkpoints" / ".tmp-step-9").exists()


@pytest.mark.parametrize("extra", [
    ["--method", "galore", "--galore-update-gap", "2"],   # projectors and low-rank moments
    ["--method", "relora", "--relora-reset-every", "2"],   # merges and pruned moments, jagged lr
    ["--method", "sltrain", "--per-layer", "--grad-accum", "2"],  # one optimizer per parameter
    ["--method", "full", "--packing", "--grad-clip", "0.5"],
])
def test_resume_restores_every_method_exactly(tmp_path, extra):
    out = tmp_path / "run"
    args = ["--steps", "6", "--warmup", "1", "--batch-size", "2", "--seq-len", "32", "--eval-every", "0",
            "--save-every", "3", "--keep-checkpoints", "0", "--num-threads", "1", "--out", str(out), *extra]
    assert train.main(args) == 0
    ref = last_by_step(read_events(out), "step")
    shutil.rmtree(out / "checkpoints" / "step-6")
    n_before = len(read_events(out))
    assert train.main([*args, "--resume"]) == 0
    assert last_by_step(read_events(out)[n_before:], "step") == {s: ref[s] for s in (4, 5, 6)}
