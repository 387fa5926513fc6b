"""Event log and progress output (pure, no training)."""
import io
import json

from sltrain.events import EventLog, Progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_event_lines_go_to_file_and_stdout_with_the_common_fields(tmp_path):
    out = io.StringIO()
    log = EventLog(tmp_path / "events.jsonl", rank=0, stdout=out)
    log.emit("step", step=1, loss=float("nan"), grad_norm=float("inf"))
    log.emit("end", status="failed", step=1)
    log.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert lines == out.getvalue().splitlines()
    first = json.loads(lines[0])
    assert first["v"] == 1 and first["event"] == "step" and first["rank"] == 0 and first["time"] > 1.6e9
    assert first["loss"] is None and first["grad_norm"] is None  # JSON has no NaN


def test_only_rank_0_writes(tmp_path):
    out = io.StringIO()
    log = EventLog(tmp_path / "events.jsonl", rank=1, stdout=out)
    log.emit("step", step=1)
    log.close()
    assert out.getvalue() == "" and not (tmp_path / "events.jsonl").exists()


def test_progress_bar_on_a_terminal_and_lines_otherwise():
    tty, plain = Tty(), io.StringIO()
    for stream in (tty, plain):
        p = Progress(4, stream=stream)
        for s in range(1, 5):
            p.update(s, 2.0, 1e-3)
    assert "\r[" in tty.getvalue() and "eta" in tty.getvalue() and tty.getvalue().endswith("\n")
    assert "\r" not in plain.getvalue() and plain.getvalue().splitlines()[-1].startswith("step 4/4")
