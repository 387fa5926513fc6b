"""Hostile and careless input to the engine: every bound of limits.json, settings files that are not
regular files, and stops during start-up. Each refusal is a ConfigError (exit 2) naming what is wrong."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from sltrain import export, limits, measure, runconfig
from sltrain.config import PRESETS, MethodConfig, load_model_config, llama_config_from_dict
from sltrain.errors import ConfigError
from sltrain.methods import build_model
from test_train_e2e import ENGINE, SMALL, engine_env

TINY = PRESETS["llama_tiny"]["config"]
# Within every bound, yet 280 TB of weights: no machine can build it, so it must be refused unbuilt.
HUGE = {**TINY, "num_hidden_layers": limits.MODEL["num_hidden_layers"], "hidden_size": 65536,
        "intermediate_size": limits.MODEL["intermediate_size"], "num_attention_heads": 64,
        "num_key_value_heads": 64, "vocab_size": limits.MODEL["vocab_size"]}
GIB = 2**30


def _json_file(tmp_path, name, value):
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return path


# --- settings files -------------------------------------------------------------------------------

def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    result = []

    def read():
        try:
            limits.read_json_file(fifo, "--config")
        except ConfigError as e:
            result.append(str(e))

    t = threading.Thread(target=read, daemon=True)  # a blocking open would hang here, not the suite
    t.start()
    t.join(60)
    assert not t.is_alive(), "reading a FIFO blocked"
    assert result and "is a FIFO" in result[0] and str(fifo) in result[0]


@pytest.mark.parametrize("path,needle", [("/dev/zero", "is a device"), ("/dev/urandom", "is a device"),
                                         ("{tmp}", "is a directory"), ("{tmp}/nope.json", "no such file")])
def test_non_regular_files_are_refused(tmp_path, path, needle):
    with pytest.raises(ConfigError, match=needle):
        limits.read_json_file(path.replace("{tmp}", str(tmp_path)), "--config")


@pytest.mark.parametrize("content,needle", [
    (b" " * (limits.CONFIG_BYTES + 1), "above the limit of 1048576 bytes"),
    (b'{"lr": "\xff\xfe"}', "is not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64 levels"),  # RecursionError in the parser
    (b"[" * 65 + b"]" * 65, "nested deeper than 64 levels"),  # parses, one level too deep
    (b'{"lr": NaN}', "NaN is not a number JSON allows"),
    (b'{"steps": ' + b"9" * 5000 + b"}", "cannot read it as JSON"),  # int() refuses 5000 digits
    (b'{"a": 1,\n oops}', "line 2, column 2"),
])
def test_bad_settings_files(tmp_path, content, needle):
    path = tmp_path / "run.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=needle) as e:
        limits.read_json_file(path, "--config")
    assert str(path) in str(e.value)


def test_the_depth_limit_is_inclusive(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * limits.JSON_DEPTH + "]" * limits.JSON_DEPTH)
    assert limits.read_json_file(path, "--config") == json.loads(path.read_text())


def test_model_config_file_goes_through_the_same_reader(tmp_path):
    with pytest.raises(ConfigError, match="--model /dev/zero: is a device"):
        load_model_config("/dev/zero")
    (tmp_path / "config.json").write_bytes(b"\x80" + json.dumps(TINY).encode())
    with pytest.raises(ConfigError, match="is not UTF-8"):
        load_model_config(str(tmp_path))


# --- model sizes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("field", list(limits.MODEL))
def test_each_model_size_is_bounded(field):
    limit = limits.MODEL[field]
    raw = {**TINY, field: limit + 1}
    if field == "num_attention_heads":  # must still divide hidden_size and be divided by kv heads
        raw.update(hidden_size=(limit + 1) * 2, num_key_value_heads=1)
    if field == "num_key_value_heads":
        raw.update(num_attention_heads=limits.MODEL["num_attention_heads"],
                   hidden_size=limits.MODEL["num_attention_heads"] * 2)
    with pytest.raises(ConfigError, match=f"'{field}' is {limit + 1}, above the limit of {limit}"):
        llama_config_from_dict(raw, "config.json")


@pytest.mark.parametrize("raw", [
    # Llama 2 70B and Llama 3.1 405B (rope_scaling left out: not supported for other reasons)
    dict(hidden_size=8192, intermediate_size=28672, num_attention_heads=64, num_key_value_heads=8,
         num_hidden_layers=80, vocab_size=32000, max_position_embeddings=4096, bos_token_id=1, eos_token_id=2),
    dict(hidden_size=16384, intermediate_size=53248, num_attention_heads=128, num_key_value_heads=8,
         num_hidden_layers=126, vocab_size=128256, max_position_embeddings=131072, rope_theta=500000.0),
])
def test_real_large_models_are_within_the_bounds(raw):
    llama_config_from_dict({"model_type": "llama", **raw})


@pytest.mark.parametrize("change,needle", [
    ({"rope_theta": 1e400}, "'rope_theta' must be a positive number"),  # json reads 1e400 as inf
    ({"bos_token_id": 10**12}, "'bos_token_id' is 1000000000000"),
    ({"pad_token_id": -5}, "'pad_token_id' is -5"),
    ({"max_position_embeddings": 0}, "'max_position_embeddings' must be a positive integer"),
])
def test_other_model_numbers(change, needle):
    with pytest.raises(ConfigError, match=needle):
        llama_config_from_dict({**TINY, **change})


# --- run settings ---------------------------------------------------------------------------------

RUN_CASES = {
    "lr 1e308": (["--lr", "1e308"], r"--lr 1e\+308 is outside \(0, 1\]"),
    "lr nan": (["--lr", "nan"], "--lr nan is outside"),
    "lr inf": (["--lr", "inf"], "--lr inf is outside"),
    "grad clip inf": (["--grad-clip", "inf"], "--grad-clip must be a finite number"),
    "weight decay 1e9": (["--weight-decay", "1e9"], r"--weight-decay 1000000000.0 is outside \[0, 10\]"),
    "min lr ratio nan": (["--min-lr-ratio", "nan"], r"--min-lr-ratio must be in \[0, 1\]"),
    "batch 1e8": (["--batch-size", "100000000"], "--batch-size 100000000 is above the limit of 65536"),
    "grad accum 1e9": (["--grad-accum", "1000000000"], "--grad-accum 1000000000 is above the limit of 16384"),
    "steps 1e10": (["--steps", "10000000000"], "--steps 10000000000 is above the limit of 1000000000"),
    "save every 1e10": (["--save-every", "10000000000"], "--save-every 10000000000 is above the limit"),
    "eval batches 1e6": (["--eval-batches", "1000000"], "--eval-batches 1000000 is above the limit of 10000"),
    "threads 100000": (["--num-threads", "100000"], f"--num-threads 100000 is above the limit of {limits.max_threads()}"),
    "seed -1": (["--seed", "-1"], "--seed must be an integer >= 0"),
    "seed 2**64": (["--seed", str(2**64)], "--seed 18446744073709551616 is above the limit"),
    "alpha inf": (["--alpha", "inf"], "alpha must be positive and at most 1e\\+06"),
    "delta nan": (["--delta", "nan"], r"delta must be in \(0, 1\)"),
    "galore scale inf": (["--method", "galore", "--galore-scale", "inf"], "galore_scale must be positive and at most"),
    "empty out": (["--out", ""], "--out '' is empty"),
    "blank out": (["--out", "  "], "--out '  ' is empty"),
}


@pytest.mark.parametrize("name", list(RUN_CASES))
def test_each_run_number_is_bounded(name, tmp_path):
    argv, needle = RUN_CASES[name]
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "run")]
    with pytest.raises(ConfigError, match=needle):
        runconfig.resolve(["--steps", "10", "--warmup", "0", *argv])


def test_run_file_values_meet_the_same_bounds(tmp_path):
    path = _json_file(tmp_path, "run.json", {"lr": 1e308, "out": str(tmp_path / "run")})
    with pytest.raises(ConfigError, match="--lr 1e\\+308 is outside"):
        runconfig.resolve(["--config", str(path)])


def test_the_largest_allowed_values_are_accepted(tmp_path):
    cfg, _ = runconfig.resolve(["--steps", str(int(limits.RUN["steps"])), "--grad-accum", str(limits.RUN["grad_accum"]),
                                "--num-threads", str(limits.max_threads()), "--lr", "1", "--out", str(tmp_path)])
    assert cfg.grad_accum == limits.RUN["grad_accum"] and cfg.num_threads == limits.max_threads()


# --- memory: refused before anything is built -----------------------------------------------------

@pytest.mark.parametrize("method", ["full", "galore", "lowrank", "relora", "sltrain"])
def test_weight_elements_match_the_built_model(method):
    model_cfg = load_model_config("llama_tiny")
    mcfg = MethodConfig(method=method, rank=32, delta=0.03)
    model = build_model(model_cfg, mcfg, seed=0, device="meta")
    assert measure.weight_elements(model_cfg, mcfg) == measure.param_counts(model)["total"]


def test_a_model_no_machine_holds_is_refused_unbuilt(tmp_path):
    path = _json_file(tmp_path, "config.json", HUGE)
    cfg, _ = runconfig.resolve(["--model", str(path), "--method", "full", "--out", str(tmp_path / "run")])
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"needs at least \d+\.\d GiB on cpu \(weights .*GiB is free"):
        measure.check_fits(cfg)
    assert time.perf_counter() - t0 < 5  # arithmetic, not allocation
    measure.check_fits(runconfig.resolve(["--out", str(tmp_path / "run")])[0])  # the debug preset fits


def test_measure_refuses_bad_input_with_exit_2(tmp_path, capsys):
    path = _json_file(tmp_path, "config.json", HUGE)
    assert measure.main(["--model", str(path), "--method", "full"]) == 2
    assert "needs at least" in capsys.readouterr().err
    assert measure.main(["--lr", "1e308"]) == 2
    assert "--lr 1e+308 is outside" in capsys.readouterr().err


def _peak_rss(argv) -> tuple[int, str, int]:
    """(exit code, stderr, peak resident bytes) of one engine process, from its own rusage."""
    p = subprocess.Popen([sys.executable, *argv], cwd=ENGINE, env=engine_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, err, usage.ru_maxrss * 1024  # Linux reports KiB


@pytest.fixture(scope="module")
def baseline_rss() -> int:
    """Peak RSS of an engine process that only imports itself (torch alone is most of a GiB)."""
    code, err, rss = _peak_rss(["-c", "import sltrain.train, sltrain.measure"])
    assert code == 0, err
    return rss


@pytest.mark.parametrize("module,argv,needle", [
    ("sltrain.train", ["--model", "{layers}"], "'num_hidden_layers' is 1000000000, above the limit"),
    ("sltrain.measure", ["--model", "{huge}", "--method", "full", "--num-threads", "100000"],
     "--num-threads 100000 is above the limit"),  # torch crashed on 100000 threads
    ("sltrain.train", ["--model", "{huge}", "--method", "sltrain"], "needs at least"),
])
def test_refused_huge_inputs_stay_small(tmp_path, baseline_rss, module, argv, needle):
    files = {"{layers}": str(_json_file(tmp_path, "layers.json", {**TINY, "num_hidden_layers": 10**9})),
             "{huge}": str(_json_file(tmp_path, "huge.json", HUGE))}
    argv = [files.get(a, a) for a in argv]
    code, err, rss = _peak_rss(["-m", module, *argv, "--out", str(tmp_path / "run")] if module.endswith("train")
                               else ["-m", module, *argv])
    assert code == 2 and needle in err and "Traceback" not in err, err
    assert rss < baseline_rss + GIB // 4, f"peak RSS {rss / GIB:.2f} GiB, imports alone {baseline_rss / GIB:.2f} GiB"
    assert not (tmp_path / "run").exists()


# --- stops before the training loop ---------------------------------------------------------------

def test_sigint_during_start_up_writes_nothing(tmp_path, capsys, monkeypatch):
    from sltrain import train
    out = tmp_path / "run"
    out.mkdir()  # a launcher made it for its log: the engine must leave it as it is
    (out / "log").write_text("launcher log\n")
    real = train.Trainer.__init__

    def slow_start(self, cfg):  # the stop arrives while data and tokenizer are being opened
        os.kill(os.getpid(), signal.SIGINT)
        real(self, cfg)

    monkeypatch.setattr(train.Trainer, "__init__", slow_start)
    before = signal.getsignal(signal.SIGINT)
    assert train.main(["--out", str(out), *SMALL]) == 128 + signal.SIGINT
    assert sorted(p.name for p in out.iterdir()) == ["log"]
    captured = capsys.readouterr()
    assert "stopped by SIGINT before the run started" in captured.err and "Traceback" not in captured.err
    assert json.loads(captured.out.splitlines()[-1])["status"] == "stopped"
    assert signal.getsignal(signal.SIGINT) is before  # main() leaves the caller's handlers as they were


def test_sigterm_during_model_building_stops_at_once(tmp_path):
    # 1024 narrow layers: valid and small (0.2 GB) but seconds to build on a CPU.
    path = _json_file(tmp_path, "slow.json", {**TINY, "num_hidden_layers": 1024, "hidden_size": 64,
                                               "intermediate_size": 128, "num_attention_heads": 1,
                                               "num_key_value_heads": 1})
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "sltrain.train", "--model", str(path), "--rank", "16",
                          "--steps", "5", "--warmup", "0", "--out", str(out), *SMALL],
                         cwd=ENGINE, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not (out / "config.json").exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # config.json is written right before the model is built
    assert p.poll() is None, p.stderr.read()
    p.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    err = p.communicate(timeout=180)[1]
    waited = time.monotonic() - t0
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert p.returncode == 0 and "Traceback" not in err, err
    assert events[-1]["event"] == "end" and events[-1]["status"] == "stopped" and events[-1]["step"] == 0
    assert "step" not in {e["event"] for e in events}  # the stop did not wait for a training step
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())
    assert (out / "exit_code").read_text().strip() == "0"
    assert waited < 30, f"took {waited:.1f} s to stop"  # generous: the loaded build itself takes longer


# --- export arguments -----------------------------------------------------------------------------

def test_export_refuses_bad_destinations_before_reading(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (tmp_path / "a-file").write_text("keep me\n")
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "config.json").write_text("mine\n")
    cases = {str(tmp_path / "a-file"): "exists and is not a directory",
             str(run): "is the run folder itself",
             str(foreign): "non-empty folder that holds no earlier export",
             "/proc/sltrain-export": "cannot write there",
             "": "OUT_DIR is empty"}
    for dest, needle in cases.items():
        assert export.main([str(run), dest]) == 2, dest
        err = capsys.readouterr().err
        assert err.startswith("error: ") and needle in err and "Traceback" not in err, (dest, err)
    assert export.main([str(tmp_path / "nope"), str(tmp_path / "hf")]) == 2
    assert "RUN_DIR" in capsys.readouterr().err
    assert (tmp_path / "a-file").read_text() == "keep me\n" and (foreign / "config.json").read_text() == "mine\n"
    assert (run / "config.json").read_text() == "{}" and not (tmp_path / "hf").exists()
