"""torchrun with 2 CPU processes (gloo) follows the same loss curve as 1 process with the same
global batch (batch-size x grad-accum x world); events come from rank 0 alone."""
import subprocess
import sys

import pytest

from sltrain import train
from test_train_e2e import ENGINE, engine_env, read_events

BASE = ["--steps", "4", "--warmup", "1", "--seq-len", "64", "--eval-every", "4", "--eval-batches", "2",
        "--num-threads", "1", "--method", "sltrain"]


@pytest.mark.parametrize("packing", [True, False])
def test_two_process_ddp_matches_one_process(tmp_path, packing):
    pack = ["--packing"] if packing else []
    one, two = tmp_path / "one", tmp_path / "two"
    assert train.main([*BASE, *pack, "--batch-size", "4", "--out", str(one)]) == 0
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        "-m", "sltrain.train", *BASE, *pack, "--batch-size", "2", "--out", str(two)],
                       cwd=ENGINE, env=engine_env(OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = read_events(one), read_events(two)
    assert b[0]["world_size"] == 2 and {e["rank"] for e in b} == {0}
    assert [e["event"] for e in a] == [e["event"] for e in b]  # one stream, no duplicated events
    for kind in ("step", "eval"):
        la = [e["loss"] for e in a if e["event"] == kind]
        lb = [e["loss"] for e in b if e["event"] == kind]
        assert lb == pytest.approx(la, abs=1e-5), kind
    ta = [e["tokens"] for e in a if e["event"] == "step"]
    assert ta == [e["tokens"] for e in b if e["event"] == "step"]
