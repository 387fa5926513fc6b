"""The run folder lock: a second engine on a live run's folder (fresh, --resume, or with bad input) is
refused with EXIT_BUSY and leaves every file of the live run byte-identical; a dead holder's lock is
taken over; a planted symlink is refused."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sltrain import runlock
from sltrain.errors import ConfigError
from test_train_e2e import ENGINE, SMALL, engine_env, run_cli


def snapshot(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(out.rglob("*"))}


def wait_for_checkpoint(out: Path, proc: subprocess.Popen) -> None:
    deadline = time.time() + 300  # start-up is slow on a loaded 2-core machine; only the upper bound
    while time.time() < deadline:
        events = out / "events.jsonl"
        if events.exists() and '"checkpoint"' in events.read_text():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("the first engine wrote no checkpoint")


@pytest.fixture
def live_run(tmp_path):
    """A real engine that has checkpointed and is then frozen (SIGSTOP) so its files cannot change
    by themselves while the second engine runs; it still holds its lock."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "sltrain.train", *SMALL, "--steps", "100000", "--warmup", "0",
                             "--save-every", "1", "--out", str(out)], cwd=ENGINE, env=engine_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_checkpoint(out, proc)
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.5)  # a checkpoint rename in flight finishes in the kernel before the stop lands
        yield out, proc
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_second_engine_is_refused_and_writes_nothing(live_run):
    out, first = live_run
    before = snapshot(out)
    assert "checkpoints" in before and runlock.LOCK_FILE in before
    for extra in ([], ["--resume"]):  # --resume used to delete the live run's in-progress checkpoint
        r = run_cli([*SMALL, "--steps", "2", "--warmup", "0", "--out", str(out), *extra])
        assert r.returncode == runlock.EXIT_BUSY, r.stderr
        assert f"is in use by a running engine pid {first.pid} on " in r.stderr
        assert "Traceback" not in r.stderr
        event = json.loads(r.stdout.splitlines()[-1])
        assert event["event"] == "error" and event["code"] == "busy"
        assert snapshot(out) == before, f"{extra}: the live run's folder must be byte-identical"
    # Bad input is still reported as such (exit 2), but not into the live run's events or exit_code.
    r = run_cli([*SMALL, "--delta", "2", "--out", str(out)])
    assert r.returncode == 2 and "delta" in r.stderr
    assert snapshot(out) == before


def test_lock_is_exclusive_names_its_holder_and_is_released(tmp_path):
    out = tmp_path / "run"
    held = runlock.acquire(out)
    pid, host, started = (out / runlock.LOCK_FILE).read_text().split()
    assert int(pid) == os.getpid() and host and float(started) > 0
    with pytest.raises(runlock.RunBusy, match=f"engine pid {os.getpid()} on {host}"):
        runlock.acquire(out)
    assert runlock.is_held(out)
    held.release()
    assert not runlock.is_held(out)
    runlock.acquire(out).release()


def test_stale_lock_of_a_dead_engine_is_taken_over(tmp_path):
    out = tmp_path / "run"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out.mkdir()
    (out / runlock.LOCK_FILE).write_text(f"{dead.pid} elsewhere 1.0\n")
    runlock.check_free(out)
    lock = runlock.acquire(out)
    assert (out / runlock.LOCK_FILE).read_text().split()[0] == str(os.getpid())
    lock.release()


def test_engine_killed_with_sigkill_leaves_a_lock_that_the_next_engine_takes(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from sltrain import runlock; runlock.acquire(Path(sys.argv[1])); "
                               "print('held', flush=True); time.sleep(600)", str(out)],
                              cwd=ENGINE, env=engine_env(), stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert runlock.is_held(out)
    holder.kill()
    holder.wait()
    assert not runlock.is_held(out), "the kernel releases a dead holder's flock"
    runlock.acquire(out).release()


def test_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    target = tmp_path / "precious"
    target.write_text("keep\n")
    (out / runlock.LOCK_FILE).symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link"):
        runlock.acquire(out)
    r = run_cli([*SMALL, "--steps", "2", "--warmup", "0", "--out", str(out)])
    assert r.returncode == 2 and "symbolic link" in r.stderr and "Traceback" not in r.stderr
    assert target.read_text() == "keep\n"
