"""`python -m sltrain.train`: pretrain a LLaMA model with full-rank, low-rank, ReLoRA, GaLore or SLTrain.

Run directory OUT: events.jsonl (the event stream, see events.py), config.json (resolved config),
checkpoints/step-N, pid (written at start) and exit_code (written at exit, always). Bad input is
rejected before OUT is created; if OUT already existed (a launcher made it for the log), the error
event and exit_code are still written there and nothing else is touched.

Exit codes: 0 completed, or stopped by SIGTERM/SIGINT (the current step finishes, a checkpoint is
written, `end` has status "stopped"; during start-up or model building the stop is immediate, and
before OUT is written the exit is 128+signal with nothing written); 2 bad input; 3 diverged
(NaN/inf loss); 4 OUT is held by a live engine (nothing written there, see runlock.py); 1 any other
failure.
A reader that goes away (closed stdout/stderr pipe) does not stop the run: events.jsonl goes on.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import resource
import signal
import sys
import time
import traceback
from contextlib import nullcontext
from pathlib import Path

import torch

from . import checkpoint, data, dist, dist_checkpoint, methods, pathchoice, runconfig, runlock, sharding, trackers
from .errors import EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_FAILED, EXIT_OK, ConfigError, MissingDependency
from .folders import check_writable
from .events import EventLog, Progress
from .measure import check_fits, param_counts
from .methods import build_model
from .optim import build_optimizer, default_impl
from .tokenizer import load_tokenizer

DTYPES = {"bf16": torch.bfloat16, "mixed": torch.float32, "fp32": torch.float32}


def memory_bytes(device: torch.device) -> tuple[int, int]:
    """(now, peak): allocator bytes on CUDA; resident set size of this process on the CPU."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device), torch.cuda.max_memory_allocated(device)
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _rng_state() -> dict:
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(s: dict) -> None:
    random.setstate(s["python"])
    torch.set_rng_state(s["torch"])
    if s.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


class Trainer:
    """Owns model, optimizer, data and the step counter (= optimizer updates done)."""

    def __init__(self, cfg):
        self.cfg, self.step, self.tokens = cfg, 0, 0
        self.model_cfg = cfg.model_config()
        self.mcfg, self.method = cfg.method_config(), methods.get(cfg.method)
        self.tok = load_tokenizer(cfg.tokenizer)
        self.warnings = []
        if self.tok.vocab_size > self.model_cfg.vocab_size:
            msg = (f"--tokenizer {cfg.tokenizer} has {self.tok.vocab_size} ids but the model's vocab_size is "
                   f"{self.model_cfg.vocab_size}")
            if not hasattr(self.tok, "limit"):
                raise ConfigError(msg + "; use a matching model or tokenizer")
            self.tok.limit(self.model_cfg.vocab_size)
            self.warnings.append(msg + "; larger ids are mapped to the unknown token")
        self.train_src, self.val_src = data.open_sources(
            cfg.data, text_field=cfg.text_field, seq_len=cfg.seq_len,
            byte_tokenizer=cfg.tokenizer == "byte", seed=cfg.seed)

    def setup(self, d: dist.Dist, log: EventLog, resume: bool) -> None:
        cfg = self.cfg
        self.d, self.log = d, log
        self._build()
        self.stream = data.RowStream(self.train_src, self.tok, cfg.seq_len, cfg.packing, d.rank, d.world)
        self.val = data.validation_batches(self.val_src, self.tok, seq_len=cfg.seq_len, packing=cfg.packing,
                                           batch_size=cfg.batch_size, batches=cfg.eval_batches,
                                           rank=d.rank, world=d.world)
        log.emit("start", config=runconfig.as_dict(cfg), params=param_counts(self.model),
                 device=str(d.device), world_size=d.world, resume=resume)
        for msg in self.warnings:
            log.emit("warning", message=msg, code="tokenizer")
        # With --layer-path measured each SLTrain layer shape's faster path is measured at its first
        # forward (a layer_path event).
        pathchoice.configure(cfg.out if d.main else None, emit=lambda **f: log.emit(pathchoice.EVENT, **f),
                             warn=lambda m: log.emit("warning", message=m, code=pathchoice.EVENT),
                             enabled=pathchoice.apply_option(self.model, cfg.layer_path))
        if resume:
            self._restore()

    def _build(self) -> None:
        cfg, mcfg, d = self.cfg, self.cfg.method_config(), self.d
        self.model = build_model(self.model_cfg, mcfg, seed=cfg.seed, device=d.device, dtype=DTYPES[cfg.precision])
        self.model.gradient_checkpointing = cfg.grad_ckpt
        # Sharded before the optimizer is built: FSDP replaces the parameters by their DTensor shards.
        self.ddp = sharding.wrap(self.model, cfg.sharding, cfg.precision, d)
        self.opt = sharding.shard_optimizer(
            build_optimizer(self.model, mcfg, optimizer=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                            betas=(0.9, 0.999), per_layer=cfg.per_layer, impl=default_impl(d.device)),
            cfg.sharding)

    def _restore(self) -> None:
        """Continue from the newest checkpoint that fits this run; with none, start at step 0 here."""
        ckpt_dir = Path(self.cfg.out) / "checkpoints"
        fresh_rng, fresh_data = _rng_state(), self.stream.state_dict()

        def warn(message: str) -> None:
            self.log.emit("warning", message=message, code="checkpoint")

        def apply(path: Path, st: dict) -> None:
            try:
                if st["config"].get("method") != self.cfg.method:
                    raise checkpoint.CheckpointError(f"it was saved by a --method {st['config'].get('method')} "
                                                     f"run; this run is --method {self.cfg.method}")
                dist_checkpoint.load(path, st, self.model, self.opt, self.cfg.sharding)
                self.stream.load_state_dict(st["data"])
                _set_rng_state(st["rng"])
                self.step, self.tokens = st["step"], st["tokens"]
            except Exception:
                # load_state_dict copies what fits before it raises: rebuild, so neither the previous
                # checkpoint nor a fresh start inherits half of this one.
                self._build()
                _set_rng_state(fresh_rng)
                self.stream.load_state_dict(fresh_data)
                self.step = self.tokens = 0
                raise

        checkpoint.remove_partial(ckpt_dir, warn)
        refused = []
        found = checkpoint.load_latest(ckpt_dir, warn, apply, refused)
        dist.barrier(self.d)  # every rank has read its checkpoint before rank 0 renames any
        for path in refused if self.d.main else []:
            kept = checkpoint.set_aside(path)
            warn(f"kept the skipped checkpoint as {kept}: this run will not overwrite or prune it")
        if found is None:
            warn(f"no usable checkpoint in {ckpt_dir}; --resume starts this run from step 0 in {self.cfg.out}")
            return
        self.progress_note = f"resumed from {found[0]} at step {self.step}"

    def _save(self) -> None:
        # Each rank stops reading after its own last row, so the rank furthest along holds the global
        # position: every rank (of this world size or another) resumes from there, none re-reads a row.
        data_state = max(dist.gather_objects(self.stream.state_dict(), self.d), key=lambda s: s["row"])
        state = {"step": self.step, "tokens": self.tokens, "data": data_state,
                 "rng": _rng_state(), "config": runconfig.as_dict(self.cfg),
                 "model_config": dataclasses.asdict(self.model_cfg)}
        path = dist_checkpoint.save(Path(self.cfg.out) / "checkpoints", self.step, state, self.model, self.opt,
                                    self.cfg.sharding, self.d, self.cfg.keep_checkpoints)
        if self.d.main:
            self.log.emit("checkpoint", step=self.step, path=str(path.resolve()))
        dist.barrier(self.d)

    def _autocast(self):
        if self.cfg.precision != "mixed":
            return nullcontext()
        return torch.autocast(device_type=self.d.device.type, dtype=torch.bfloat16)

    def lr(self, step: int) -> float:
        return self.method.lr(step, self.cfg)  # ReLoRA: a short re-warmup after every merge

    def train_step(self) -> tuple[float, float | None, int]:
        """One optimizer update over grad_accum micro-batches; returns (loss, grad_norm, tokens).

        The loss is the token-weighted mean over the whole global batch: each micro-batch's mean is
        rescaled by its share of the global token count, so padding, accumulation and the world
        size do not change the gradient. DDP averages gradients over ranks, hence the * world.
        """
        c, d = self.cfg, self.d
        batches = [self.stream.next_batch(c.batch_size) for _ in range(c.grad_accum)]
        counts = [int((y[:, 1:] != -100).sum()) for _, y in batches]
        n_global = sum(counts)
        if d.world > 1:
            n_global = int(dist.all_reduce_sum(torch.tensor(float(n_global), device=d.device), d).item())
        self.opt.zero_grad(set_to_none=True)
        self.opt.begin_update(len(batches))
        loss_sum = torch.zeros((), device=d.device)
        for i, ((x, y), n) in enumerate(zip(batches, counts)):
            last = i == len(batches) - 1
            with sharding.no_sync(self.ddp, c.sharding, d.world, last):
                with self._autocast():
                    logits, loss = self.ddp(x.to(d.device), y.to(d.device))
                if n == 0:  # an all-padding micro-batch: mean loss is 0/0, contribute nothing
                    loss = logits.float().sum() * 0.0
                (loss * (n * d.world / max(1, n_global))).backward()
            loss_sum += loss.detach().float() * n
        grad_norm = self._grad_norm()
        self.opt.step()
        loss_sum = dist.all_reduce_sum(loss_sum, d)
        return (loss_sum / max(1, n_global)).item(), grad_norm, n_global

    def _grad_norm(self) -> float | None:
        """Global L2 norm of the gradients, computed on the device (and clipped if asked)."""
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:  # per-layer updates: gradients are consumed and freed inside backward
            return None
        if self.cfg.grad_clip > 0:
            params = [p for p in self.model.parameters() if p.grad is not None]
            return sharding.full_value(torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip))
        if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6
            return sharding.full_value(torch.nn.utils.get_total_norm(grads))
        return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))

    @torch.no_grad()
    def evaluate(self) -> None:
        """Token-weighted mean loss over the fixed held-out set (all ranks' shares together)."""
        tot = torch.zeros(2, dtype=torch.float64, device=self.d.device)
        for x, y in self.val:
            with self._autocast():
                _, loss = self.model(x.to(self.d.device), y.to(self.d.device))
            n = int((y[:, 1:] != -100).sum())
            if n:
                tot[0] += loss.double() * n
                tot[1] += n
        tot = dist.all_reduce_sum(tot, self.d)
        loss = (tot[0] / tot[1]).item() if tot[1] > 0 else float("nan")
        ppl = math.exp(loss) if loss < 700 else float("inf")
        self.log.emit("eval", step=self.step, loss=loss, ppl=ppl)

    def _stop(self, stop: dict) -> bool:
        flag = stop["requested"]
        if self.d.world > 1:  # every rank must leave the loop at the same step
            t = dist.all_reduce_max(torch.tensor([float(flag)], device=self.d.device), self.d)
            flag = bool(t.item())
        return flag

    def fit(self, progress: Progress, stop: dict) -> tuple[int, str]:
        c = self.cfg
        progress.start = self.step
        if getattr(self, "progress_note", None):
            progress.note(self.progress_note)
        while self.step < c.steps:
            lr = self.lr(self.step)
            for g in self.opt.param_groups:
                g["lr"] = lr
            self.method.before_update(self.model, self.opt, self.step, c, self.mcfg)
            t0 = time.perf_counter()
            loss, grad_norm, ntok = self.train_step()
            dt = time.perf_counter() - t0
            self.step += 1
            self.tokens += ntok
            mem, peak = memory_bytes(self.d.device)
            ranks = {}
            if self.d.world > 1:  # rank 0 reports; a sharded run's fullest rank may be another one
                top = dist.all_reduce_max(torch.tensor([float(peak)], dtype=torch.float64, device=self.d.device), self.d)
                ranks["mem_peak_max_rank_bytes"] = int(top.item())
            self.log.emit("step", step=self.step, loss=loss, lr=lr, grad_norm=grad_norm, tokens=self.tokens,
                          tokens_per_s=ntok / dt, step_time_s=dt, mem_allocated_bytes=mem, mem_peak_bytes=peak, **ranks)
            if not math.isfinite(loss):
                msg = f"loss is {loss} at step {self.step}: training diverged; lower --lr or set --grad-clip"
                progress.note(f"error: {msg}")
                self.log.emit("error", message=msg, code="diverged")
                return EXIT_DIVERGED, "failed"
            progress.update(self.step, loss, lr)
            self.method.after_update(self.model, self.opt, self.step, c, self.mcfg)
            last = self.step == c.steps
            if c.eval_every and (self.step % c.eval_every == 0 or last):
                self.evaluate()
            stopping = self._stop(stop)
            if last or stopping or (c.save_every and self.step % c.save_every == 0):
                self._save()
            if stopping:
                progress.note(f"stopped at step {self.step} (SIGTERM); resume with --resume")
                return EXIT_OK, "stopped"
        return EXIT_OK, "completed"


def _check_out_dir(out: Path, resume: bool) -> None:
    """OUT must be creatable and writable; a fresh run never reuses another run's directory, and no
    run (fresh or --resume) starts in a folder a live engine holds."""
    if out.is_dir():
        runlock.check_free(out)  # before the probe below: a live run's folder gets no write at all
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    check_writable(out, "--out")
    # A run that left no checkpoint (killed, or failed, before its first) has nothing to lose: it may be
    # started again here, with or without --resume. A checkpointed one only continues with --resume.
    ckpts = checkpoint.list_checkpoints(out / "checkpoints")
    if resume and not ckpts and not (out / "config.json").exists():
        raise ConfigError(f"--resume: {out} holds no run to continue (no config.json, no checkpoint); "
                          "start without --resume")
    if not resume and ckpts:
        raise ConfigError(f"--out {out} already holds a run; add --resume to continue it or choose another --out")


def _check_optional_deps(cfg) -> None:
    if cfg.optimizer == "adam8bit":
        try:
            import bitsandbytes  # noqa: F401
        except Exception as e:  # noqa: BLE001 - a broken install is as good as a missing one
            raise MissingDependency("--optimizer adam8bit needs the 'bitsandbytes' package: "
                                    f"pip install bitsandbytes ({type(e).__name__}: {e})") from None


def _out_from_argv(argv: list[str]) -> Path | None:
    for i, a in enumerate(argv):
        value = None
        if a == "--out" and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith("--out="):
            value = a[len("--out="):]
        if value is not None:  # a blank --out is refused, and Path("") would be the current directory
            return Path(value) if value.strip() else None
    return None


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # Ctrl-C stops as cleanly as the launcher's SIGTERM


class StopRequested(BaseException):
    """SIGTERM/SIGINT before the training loop: building a large model can take minutes, so the
    handler raises instead of waiting for a step. A BaseException, so no `except Exception` eats it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop_handler(stop: dict):
    def handler(signum, _frame):
        stop["requested"], stop["signum"] = True, signum
        if stop["raise"]:
            stop["raise"] = False  # one raise: a second signal must not interrupt the clean-up
            raise StopRequested(signum)
    return handler


def _stopped_before_start(e: StopRequested, rank: int) -> int:
    """Nothing of this run exists yet: write nothing into OUT and exit as a signal would (128+n),
    which the launcher's exit_code turns into "stopped"."""
    if rank == 0:
        try:
            sys.stderr.write(f"stopped by {e} before the run started; nothing was written\n")
        except (OSError, ValueError):
            pass
    EventLog(None, rank).emit("end", status="stopped", step=0)
    return 128 + e.signum


def _print_traceback() -> None:
    try:
        traceback.print_exc()
    except (OSError, ValueError):  # stderr is gone (closed pipe); the event stream still has the error
        pass


def _error_code(e: Exception) -> str:
    """The error event's code: which package to install is a different fix from which flag to change."""
    return "missing_dependency" if isinstance(e, MissingDependency) else "bad_input"


def _reject(message: str, code: str, out: Path | None, rank: int, exit_code: int = EXIT_BAD_INPUT) -> int:
    """Failure before the run starts: one line on stderr, one error event; OUT is written (events,
    exit_code) only if it already existed and no live engine holds it."""
    if rank == 0:
        try:
            sys.stderr.write(f"error: {message}\n")
        except (OSError, ValueError):
            pass
    existing = out if out is not None and out.is_dir() and rank == 0 and not runlock.is_held(out) else None
    log = EventLog(existing / "events.jsonl" if existing else None, rank)
    log.emit("error", message=message, code=code)
    log.close()
    if existing:
        try:
            (existing / "exit_code").write_text(f"{exit_code}\n")
        except OSError:
            pass
    return exit_code


def main(argv: list[str] | None = None) -> int:
    # Installed first: a stop during start-up or model building must not wait for the first step.
    stop = {"requested": False, "raise": True, "signum": None}
    previous = {sig: signal.signal(sig, _stop_handler(stop)) for sig in STOP_SIGNALS}
    try:
        return _main(argv, stop)
    except StopRequested as e:  # arrived while a refusal was being reported: exit as the signal would
        return 128 + e.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main(argv: list[str] | None, stop: dict) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rank = int(os.environ.get("RANK", "0"))
    d = None
    try:
        cfg, resume = runconfig.resolve(argv, dist.world_size())
        sharding.check(cfg)
        # every rank validates the same way, then all meet below
        d = dist.setup(cfg.device, group_of_one=sharding.needs_group(cfg.sharding))
        torch.set_num_threads(cfg.num_threads)
        check_fits(cfg)  # an impossible model fails now, not after minutes of allocation
        _check_optional_deps(cfg)
        trackers.check(cfg)
        trainer = Trainer(cfg)  # tokenizer and data sources are opened (and checked) here
        out = Path(cfg.out)
        _check_out_dir(out, resume)
        stop["raise"] = False  # OUT is about to be written: a stop now is acted on once it is complete
    except StopRequested as e:
        if d is not None:
            dist.shutdown()
        return _stopped_before_start(e, rank)
    except runlock.RunBusy as e:
        if d is not None:
            dist.shutdown()
        return _reject(str(e), "busy", None, rank, runlock.EXIT_BUSY)
    except (ConfigError, MissingDependency) as e:
        if d is not None:
            dist.shutdown()
        return _reject(str(e), _error_code(e), _out_from_argv(argv), rank)
    except Exception as e:  # noqa: BLE001 - still one error event and an exit code
        _print_traceback()
        return _reject(f"{type(e).__name__}: {e}", "internal", _out_from_argv(argv), rank, EXIT_FAILED)

    dist.barrier(d)  # no rank checks OUT after rank 0 has started writing it
    run_lock = None
    if d.main:
        try:  # held until exit; taken before anything is written into OUT
            run_lock = runlock.acquire(out)
        except runlock.RunBusy as e:  # another engine took OUT since the check above
            dist.shutdown()
            return _reject(str(e), "busy", None, rank, runlock.EXIT_BUSY)
        (out / "exit_code").unlink(missing_ok=True)  # a resumed run is running again
        (out / "pid").write_text(f"{os.getpid()}\n")
        (out / "config.json").write_text(runconfig.to_json(cfg))
    dist.barrier(d)
    log = EventLog(out / "events.jsonl", d.rank)
    if d.main:  # only rank 0 reports; the trackers see the start event and every event after it
        log.sink = trackers.live(cfg, out, log)
    progress = Progress(cfg.steps, enabled=d.main)
    code, status = EXIT_FAILED, "failed"
    try:
        stop["raise"] = True
        if stop["requested"]:
            raise StopRequested(stop["signum"])
        trainer.setup(d, log, resume=resume)
        stop["raise"] = False  # in the loop the current step finishes and a checkpoint is written
        code, status = trainer.fit(progress, stop)
    except StopRequested as e:
        progress.note(f"stopped by {e} before the first step")
        code, status = EXIT_OK, "stopped"
    except (ConfigError, MissingDependency) as e:  # e.g. a package a checkpoint's optimizer needs
        log.emit("error", message=str(e), code=_error_code(e))
        progress.note(f"error: {e}")
        code = EXIT_BAD_INPUT
    except Exception as e:  # noqa: BLE001 - every failure ends in an error event and exit code 1
        log.emit("error", message=f"{type(e).__name__}: {e}", code="internal")
        _print_traceback()
    finally:
        stop["raise"] = False
        log.emit("end", status=status, step=trainer.step)
        log.close()
        if d.main:
            (out / "exit_code").write_text(f"{code}\n")
            run_lock.release()
        dist.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
