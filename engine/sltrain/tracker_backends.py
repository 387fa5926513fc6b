"""One class per tracker of trackers.NAMES: `__init__(run, saved)` opens (or, with `saved`, the state
trackers.json kept for it, continues) the tracker run, `.state` is what trackers.json keeps,
`log(kind, step, values)` writes one step or eval, `close(status)` finishes, `link()` says where to look
at the run (the `tracker` event's url, path and command). Each imports its package here, on first use;
any exception is handled (and the tracker dropped) by trackers.Reporter."""
from __future__ import annotations

import json
import os
import shlex
import struct
import time
import uuid
from pathlib import Path

from .trackers import DEFAULT_PROJECT, METRICS, MLFLOW_DIR, TENSORBOARD_DIR


def _summary(run: dict) -> dict[str, float]:
    """Parameter counts and the predicted peak: one value per run, not a curve."""
    values = {f"params/{k}": float(v) for k, v in run["params"].items() if isinstance(v, (int, float))}
    if run["predicted_peak_bytes"] is not None:
        values["memory/predicted_peak_bytes"] = float(run["predicted_peak_bytes"])
    return values


class TensorBoard:
    def __init__(self, run: dict, saved: dict | None):
        import tensorboard  # noqa: F401 - torch's writer needs it; a clear ImportError when it is missing
        from torch.utils.tensorboard import SummaryWriter

        logdir = Path(saved["logdir"]) if saved and saved.get("logdir") else Path(run["out"]) / TENSORBOARD_DIR
        self.state = {"logdir": str(logdir.resolve())}
        self.writer = None
        self._open = lambda purge_step=None: SummaryWriter(str(logdir), purge_step=purge_step)
        if saved is None:  # purge 1: a run started again in a folder its failed first try left
            self.writer = self._open(purge_step=1)
            self.writer.add_text("config", "```json\n" + json.dumps(run["config"], indent=2) + "\n```", 0)
            for k, v in _summary(run).items():
                self.writer.add_scalar(k, v, 0)
            self.writer.flush()

    # A resumed run re-logs from its first step on, and the purge step it opens with makes TensorBoard's
    # readers drop what the killed run had logged from there (and whatever it lost).
    purges = True

    def log(self, kind: str, step: int, values: dict) -> None:
        if self.writer is None:
            self.writer = self._open(purge_step=step)
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)

    def close(self, status) -> None:
        if self.writer is not None:
            self.writer.close()

    def link(self) -> dict:
        logdir = self.state["logdir"]
        return {"path": logdir, "command": f"tensorboard --logdir {shlex.quote(logdir)}"}


class WandB:
    def __init__(self, run: dict, saved: dict | None):
        import wandb  # WANDB_MODE (offline), WANDB_API_KEY, WANDB_ENTITY... are W&B's own

        project = (saved or {}).get("project") or run["project"] or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT
        run_id = (saved or {}).get("id") or uuid.uuid4().hex[:12]
        self.run = wandb.init(project=project, name=run["name"], id=run_id, resume="allow", dir=str(run["out"]),
                              config=run["config"], reinit="create_new",
                              settings=wandb.Settings(console="off", silent=True))
        if saved is None:
            self.run.summary.update(_summary(run))
        self.state = {"id": self.run.id, "project": project, "url": self.run.url}

    def last_step(self) -> dict:
        """Online, W&B's resumed step; offline, the steps this run's earlier offline files hold (W&B's
        service buffers them, and dies with a killed run before writing them all)."""
        if not self.run.offline:
            return {"step": self.run.starting_step - 1, "eval": self.run.starting_step - 1}
        mine = Path(self.run.settings.sync_dir).resolve()
        files = [f for f in Path(self.run.dir).parents[1].glob(f"offline-run-*-{self.run.id}/run-{self.run.id}.wandb")
                 if f.parent.resolve() != mine]
        return wandb_logged(files)

    def log(self, kind: str, step: int, values: dict) -> None:
        self.run.log(values, step=step)

    def close(self, status) -> None:
        self.run.finish(exit_code=0 if status in ("completed", "stopped") else 1)

    def link(self) -> dict:
        if not self.run.offline and self.run.url:
            return {"url": self.run.url}
        sync_dir = str(Path(self.run.settings.sync_dir).resolve())  # offline: uploaded later by `wandb sync`
        return {"path": sync_dir, "command": f"wandb sync {shlex.quote(sync_dir)}"}


def _wandb_records(path: Path):
    """W&B's run file: a 7-byte header, then 32 KiB blocks of records framed as (crc32, length,
    type: 1 full, 2 first, 3 middle, 4 last), each a protobuf Record; a torn tail is ignored."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, buf, block = path.read_bytes(), 7, b"", 32768
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:  # the zero padding of a block
            pos += left
            continue
        if pos + 7 + length > len(data):
            return
        buf, pos = buf + data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(buf)
            buf = b""
            yield record


def wandb_logged(files) -> dict[str, int]:
    """The last step and eval step W&B run files hold."""
    last = {"step": 0, "eval": 0}
    for f in files:
        for r in _wandb_records(f):
            if r.WhichOneof("record_type") == "history":
                keys = {i.key or "/".join(i.nested_key) for i in r.history.item}
                for kind, field in (("step", "loss"), ("eval", "loss")):
                    if METRICS[kind][field] in keys:
                        last[kind] = max(last[kind], r.history.step.num)
    return last


MLFLOW_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


class MLflow:
    def __init__(self, run: dict, saved: dict | None):
        import mlflow  # noqa: F401 - first the package itself: a clear ImportError when it is missing
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        self.Metric = Metric
        uri = (saved or {}).get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # our default, OUT/mlruns: the file store MLflow 3 keeps behind an opt-in
            uri = (Path(run["out"]) / MLFLOW_DIR).resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        # MLflow's default retries a server that is down for minutes, inside the step loop; a tracker that
        # fails is dropped instead (the user's own settings of these win).
        for key, value in MLFLOW_HTTP.items():
            os.environ.setdefault(key, value)
        self.client = MlflowClient(tracking_uri=uri)
        if saved and saved.get("run_id"):
            self.run_id = saved["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            name = run["project"] or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_PROJECT
            exp = self.client.get_experiment_by_name(name)
            exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(name)
            self.run_id = self.client.create_run(exp_id, run_name=run["name"]).info.run_id
            params = [Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in run["config"].items()]
            self.client.log_batch(self.run_id, params=params)
            self._metrics(0, _summary(run))
        self.state = {"run_id": self.run_id, "tracking_uri": uri}
        self.experiment_id = self.client.get_run(self.run_id).info.experiment_id

    def link(self) -> dict:
        uri = self.state["tracking_uri"]
        if uri.startswith(("http://", "https://")):  # a tracking server: its UI shows the run at this address
            return {"url": f"{uri.rstrip('/')}/#/experiments/{self.experiment_id}/runs/{self.run_id}"}
        ui = f"mlflow ui --backend-store-uri {shlex.quote(uri)}"
        if uri.startswith("file://"):
            from urllib.parse import unquote, urlparse

            return {"path": unquote(urlparse(uri).path), "command": ui}
        return {"command": ui}

    def log(self, kind: str, step: int, values: dict) -> None:
        self._metrics(step, values)

    def last_step(self) -> dict:
        history = {kind: self.client.get_metric_history(self.run_id, METRICS[kind][field])
                   for kind, field in (("step", "loss"), ("eval", "loss"))}
        return {kind: max((m.step for m in ms), default=0) for kind, ms in history.items()}

    def _metrics(self, step: int, values: dict) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[self.Metric(k, v, now, step) for k, v in values.items()])

    def close(self, status) -> None:
        ends = {"completed": "FINISHED", "failed": "FAILED"}  # stopped, or a replay of a running run
        self.client.set_terminated(self.run_id, status=ends.get(status, "KILLED"))


class Trackio:
    def __init__(self, run: dict, saved: dict | None):
        import trackio  # its local store: TRACKIO_DIR (default under HF_HOME)

        project = (saved or {}).get("project") or run["project"] or DEFAULT_PROJECT
        name = (saved or {}).get("name") or run["name"]
        self.run = trackio.init(project=project, name=name, config=run["config"],
                                resume="allow" if saved else "never", embed=False,
                                auto_log_gpu=False, auto_log_cpu=False)
        if saved is None and _summary(run):
            self.run.log(_summary(run), step=0)
        self.state = {"project": project, "name": self.run.name}

    def link(self) -> dict:
        return {"command": f"trackio show --project {shlex.quote(self.state['project'])}"}

    def last_step(self) -> dict:
        """What the local store holds: its sender batches every half second, so a kill -9 can lose the last."""
        from trackio.sqlite_storage import SQLiteStorage

        last = SQLiteStorage.get_last_step(self.state["project"], self.state["name"]) or 0
        return {"step": last, "eval": last}

    def log(self, kind: str, step: int, values: dict) -> None:
        self.run.log(values, step=step)

    def close(self, status) -> None:
        import trackio

        if trackio.context_vars.current_run.get() is self.run:
            trackio.finish()  # also forgets it: trackio's exit hook would finish it again, printing on stdout
        else:
            self.run.finish()


BACKENDS = {"tensorboard": TensorBoard, "wandb": WandB, "mlflow": MLflow, "trackio": Trackio}
