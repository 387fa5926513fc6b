"""`python -m sltrain.export RUN_DIR OUT_DIR`: the run's newest checkpoint as a dense Hugging Face
folder of the model's own family (config.json + model.safetensors) that `transformers.AutoModelForCausalLM
.from_pretrained` loads; config.json keeps model_type, architectures and every field the run's config gave. Factored weights become W = s*B*A + S (ReLoRA: W + s*B*A). The tokenizer travels along:
`save_pretrained` for an hf: tokenizer, a short tokenizer_note.json for the byte tokenizer.
Exit codes: 0 done, 2 bad input (no checkpoint, missing package), 1 other failure."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from . import checkpoint, dist_checkpoint, runconfig
from .config import llama_config_from_dict
from .errors import EXIT_BAD_INPUT, ConfigError, MissingDependency
from .folders import check_writable
from .merge import dense_state_dict
from .methods import build_model
from .tokenizer import load_tokenizer

DTYPE_NAMES = {"bf16": "bfloat16", "mixed": "float32", "fp32": "float32"}
EXPORT_NOTE = "sltrain_export.json"  # written last: marks a folder as an export of ours


def _load_newest(run_dir: Path):
    """(path, state, run config, model config, model) of the newest checkpoint that verifies and
    builds; older ones are tried after a warning. The run folder is only read: a live run may be
    writing its next checkpoint there."""
    ckpt_dir, built = run_dir / "checkpoints", []

    def apply(path: Path, st: dict) -> None:
        cfg = runconfig.from_dict(st["config"])
        model_cfg = llama_config_from_dict(st["model_config"], f"{path / checkpoint.STATE_FILE} model_config")
        dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float32
        model = build_model(model_cfg, cfg.method_config(), seed=cfg.seed, device="cpu", dtype=dtype)
        dist_checkpoint.load_whole(path, st, model)  # one state.pt, or the shards of an FSDP run
        built[:] = [cfg, model_cfg, model]

    found = checkpoint.load_latest(ckpt_dir, lambda m: sys.stderr.write(f"warning: {m}\n"), apply)
    if found is None:
        raise ConfigError(f"{run_dir}: no readable checkpoint in {ckpt_dir}")
    return (*found, *built)


def export(run_dir: Path, out_dir: Path) -> Path:
    try:
        from safetensors.torch import save_file
    except ImportError as e:
        raise MissingDependency("export needs the 'safetensors' package: pip install safetensors") from e
    path, st, cfg, model_cfg, model = _load_newest(Path(run_dir))
    tensors = {k: v.contiguous() for k, v in dense_state_dict(model).items()}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    hf = model_cfg.to_hf_dict()
    hf["torch_dtype"] = DTYPE_NAMES[cfg.precision]
    tok = load_tokenizer(cfg.tokenizer)
    pad = hf.get("pad_token_id")
    if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad < model_cfg.vocab_size:
        # the papers' -1 (or null) means "none"; name the tokenizer's real one
        hf["pad_token_id"] = tok.pad_id
    (out_dir / "config.json").write_text(json.dumps(hf, indent=2) + "\n")
    tok.save(out_dir)
    (out_dir / EXPORT_NOTE).write_text(json.dumps(
        {"checkpoint": str(path), "step": st["step"], "run_config": st["config"]}, indent=2) + "\n")
    return out_dir


def check_args(run_dir: str, out_dir: str) -> tuple[Path, Path]:
    """Refuses, before any checkpoint is read, an export that could not be written or would
    overwrite what the user has: a file, a foreign non-empty folder, the run folder itself."""
    if not run_dir.strip() or not Path(run_dir).is_dir():
        raise ConfigError(f"RUN_DIR {run_dir!r} is not a directory; give a run folder (the --out of a training run)")
    if not out_dir.strip():
        raise ConfigError("OUT_DIR is empty; give the folder to write the Hugging Face model into")
    run, out = Path(run_dir), Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"OUT_DIR {out} exists and is not a directory; give a new folder to export into")
    if out.resolve() == run.resolve():
        raise ConfigError(f"OUT_DIR {out} is the run folder itself; its config.json would be overwritten: "
                          "give another folder, e.g. RUN_DIR/hf")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_NOTE).is_file():
        raise ConfigError(f"OUT_DIR {out} is a non-empty folder that holds no earlier export; give a new or "
                          "empty folder so nothing in it is overwritten")
    check_writable(out, "OUT_DIR")
    return run, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sltrain.export", description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("out_dir")
    args = p.parse_args(argv)
    try:
        out = export(*check_args(args.run_dir, args.out_dir))
    except (ConfigError, MissingDependency) as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_BAD_INPUT
    except OSError as e:  # the disk filled up or a path became unwritable while writing
        sys.stderr.write(f"error: cannot write the export to {args.out_dir}: {e.strerror or e} "
                         f"({e.filename or args.out_dir}); free space or choose another folder\n")
        return EXIT_BAD_INPUT
    sys.stderr.write(f"exported {args.run_dir} to {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
