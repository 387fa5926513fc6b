"""--sharding on CPU (gloo): every mode trained by 2 torchrun processes follows the 1-process loss
curve with the same global batch, for full rank and SLTrain; a run killed (-9) after a checkpoint
resumes on another world size (2 -> 1, 1 -> 2) and continues the curve; every combination a mode
cannot train exits 2 before anything is written, naming it."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import torch

from sltrain import export, sharding, train
from test_train_e2e import ENGINE, engine_env, read_events

BASE = ["--warmup", "1", "--seq-len", "64", "--num-threads", "1", "--lr", "1e-3"]
CURVE = [*BASE, "--steps", "3", "--eval-every", "3", "--eval-batches", "2"]


def torchrun(nproc: int, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            "-m", "sltrain.train", *args]


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ENGINE, env=engine_env(OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=600, **kw)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def by_step(events, kind="step", key="loss"):
    """The last value reported for each step (a killed run may have reported some twice)."""
    return {e["step"]: e[key] for e in events if e["event"] == kind}


_REFERENCE: dict = {}


def reference(method: str, tmp_path_factory) -> list[dict]:
    """One process, DDP's plain path, global batch 4: the curve every layout must reproduce."""
    if method not in _REFERENCE:
        out = tmp_path_factory.mktemp(f"ref-{method}")
        assert train.main([*CURVE, "--method", method, "--batch-size", "4", "--out", str(out)]) == 0
        _REFERENCE[method] = read_events(out)
    return _REFERENCE[method]


# Every mode, full rank and SLTrain under both FSDP layouts (resharded after forward or not); zero2
# also accumulates two micro-batches (gradients reduced once per update; 4 eval batches of 1 row per
# rank are the reference's 2 of 4 rows); GaLore under zero1 projects the whole gradients it owns.
CASES = [("full", "zero1", []), ("full", "fsdp", []), ("sltrain", "zero2", ["--grad-accum", "2", "--eval-batches", "4"]),
         ("sltrain", "zero3", []), ("galore", "zero1", [])]


@pytest.mark.parametrize("method,mode,extra", CASES, ids=[f"{m}-{s}" for m, s, _ in CASES])
def test_two_processes_follow_the_one_process_curve(tmp_path, tmp_path_factory, method, mode, extra):
    ref = reference(method, tmp_path_factory)
    batch = "1" if extra else "2"  # x grad-accum x 2 processes = 4 rows per update, as the reference
    out = tmp_path / "run"
    r = run(torchrun(2, [*CURVE, *extra, "--method", method, "--sharding", mode, "--batch-size", batch,
                         "--out", str(out)]))
    assert r.returncode == 0, r.stderr[-3000:]
    ev = read_events(out)
    assert ev[0]["world_size"] == 2 and ev[0]["config"]["sharding"] == mode
    assert [e["event"] for e in ev] == [e["event"] for e in ref]  # rank 0 alone reports
    for kind in ("step", "eval"):
        got, want = by_step(ev, kind), by_step(ref, kind)
        assert list(got) == list(want)
        assert list(got.values()) == pytest.approx(list(want.values()), abs=1e-4), kind
    assert by_step(ev, key="tokens") == by_step(ref, key="tokens")
    # Rank 0 reports; the fullest rank's peak comes with every step of a multi-process run.
    assert all(e["mem_peak_max_rank_bytes"] >= e["mem_peak_bytes"] for e in ev if e["event"] == "step")
    ckpt = out / "checkpoints" / "step-3"
    shards = sorted(p.name for p in ckpt.glob("*.distcp"))
    # FSDP modes write one shard file per rank; ddp-style modes one state.pt with everything.
    assert shards == (["__0_0.distcp", "__1_0.distcp"] if sharding.is_fsdp(mode) else [])
    if sharding.is_fsdp(mode):  # export joins the shards into the dense model one process trained
        ref_dir = Path([e for e in ref if e["event"] == "checkpoint"][-1]["path"]).parents[1]
        got_w, want_w = exported(out, tmp_path / "hf"), exported(ref_dir, tmp_path / "hf-ref")
        assert got_w.keys() == want_w.keys()
        for k in want_w:
            assert torch.allclose(got_w[k], want_w[k], atol=1e-5), k


def exported(run_dir: Path, hf: Path) -> dict:
    from safetensors.torch import load_file

    assert export.main([str(run_dir), str(hf)]) == 0
    return load_file(str(hf / "model.safetensors"))


RESUME = [*BASE, "--steps", "14", "--save-every", "4", "--eval-every", "0", "--method", "sltrain",
          "--sharding", "fsdp"]


def test_kill_9_then_resume_on_another_world_size(tmp_path):
    """2 processes killed after a checkpoint, resumed on 1, killed again, resumed on 2: one curve."""
    ref_out = tmp_path / "ref"
    assert train.main([*RESUME[:-2], "--batch-size", "4", "--out", str(ref_out)]) == 0  # 1 process, ddp
    ref = by_step(read_events(ref_out))
    out = tmp_path / "run"

    def cmd(nproc, extra=()):
        args = [*RESUME, "--batch-size", str(4 // nproc), "--out", str(out), *extra]
        return torchrun(nproc, args) if nproc > 1 else [sys.executable, "-m", "sltrain.train", *args]

    def kill_after_next_checkpoint(argv) -> int:
        p = subprocess.Popen(argv, cwd=ENGINE, env=engine_env(OMP_NUM_THREADS="1"), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        for line in p.stdout:
            if line.startswith("{") and json.loads(line)["event"] == "checkpoint":
                for pid in [*children(p.pid), p.pid]:  # torchrun starts its workers in sessions of their own
                    os.kill(pid, signal.SIGKILL)
                break
        p.stdout.close()
        p.wait(timeout=60)
        ev = read_events(out)
        assert ev[-1]["event"] != "end"  # really killed mid-run
        return max(e["step"] for e in ev if e["event"] == "checkpoint")

    first = kill_after_next_checkpoint(cmd(2))
    second = kill_after_next_checkpoint(cmd(1, ["--resume"]))  # 2 -> 1
    assert first < second < 14
    r = run(cmd(2, ["--resume"]))  # 1 -> 2
    assert r.returncode == 0, r.stderr[-3000:]
    ev = read_events(out)
    starts = [e for e in ev if e["event"] == "start"]
    assert [(e["world_size"], e["resume"]) for e in starts] == [(2, False), (1, True), (2, True)]
    got = by_step(ev)
    assert sorted(got) == list(range(1, 15))
    assert list(got.values()) == pytest.approx([ref[s] for s in sorted(got)], abs=1e-4)


REFUSED = [
    (["--per-layer"], "zero1", "--sharding zero1 with --per-layer"),
    (["--method", "galore"], "zero3", "--sharding zero3 with --method galore"),
    (["--method", "apollo"], "fsdp", "--sharding fsdp with --method apollo"),
    (["--method", "relora"], "zero1", "--sharding zero1 with --method relora"),
    (["--optimizer", "adam8bit"], "zero2", "--sharding zero2 with --optimizer adam8bit"),
]


@pytest.mark.parametrize("extra,mode,message", REFUSED, ids=[m for _, m, _ in REFUSED])
def test_refused_combinations_exit_2_naming_them(tmp_path, capsys, extra, mode, message):
    out = tmp_path / "run"
    assert train.main([*BASE, "--steps", "2", *extra, "--sharding", mode, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "use " in err.split(message, 1)[1]  # what is wrong, then what to do
    assert not out.exists()


def test_the_fit_check_counts_each_process_s_shard_of_the_weights(monkeypatch, tmp_path):
    """A model whose whole weights exceed one process's free memory but whose shards do not is not refused."""
    from sltrain import measure, runconfig
    from sltrain.errors import ConfigError

    cfg, _ = runconfig.resolve(["--model", "llama_20m", "--precision", "fp32", "--out", str(tmp_path / "r")])
    weights = measure.weight_elements(cfg.model_config(), cfg.method_config()) * 4
    logits = cfg.batch_size * cfg.seq_len * cfg.model_config().vocab_size * 4
    monkeypatch.setattr(measure, "available_bytes", lambda device: logits + 0.6 * weights + (1 << 24))
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="needs at least"):
        measure.check_fits(cfg)  # ddp: every process holds all weights
    cfg.sharding = "zero3"
    measure.check_fits(cfg)
