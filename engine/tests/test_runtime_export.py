"""`sltrain.export`: the dense Hugging Face folder loads in transformers and reproduces the run's
last validation loss on the same held-out set."""
import json

import pytest
import torch

from sltrain import data, export, runconfig, train
from sltrain.tokenizer import load_tokenizer
from test_train_e2e import SMALL, read_events


@pytest.mark.parametrize("method", ["sltrain", "relora"])
def test_export_round_trip_through_transformers(tmp_path, method):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("safetensors")
    run, out = tmp_path / "run", tmp_path / "hf"
    assert train.main(["--method", method, "--relora-reset-every", "2", "--steps", "5", "--warmup", "1",
                       "--eval-every", "5", "--out", str(run), *SMALL]) == 0
    last_eval = [e for e in read_events(run) if e["event"] == "eval"][-1]
    assert export.main([str(run), str(out)]) == 0
    assert {"config.json", "model.safetensors", "tokenizer_note.json"} <= {p.name for p in out.iterdir()}

    model = transformers.LlamaForCausalLM.from_pretrained(str(out)).eval()
    cfg = runconfig.from_dict(json.loads((run / "config.json").read_text()))
    tok = load_tokenizer(cfg.tokenizer)
    _, val = data.open_sources(cfg.data, text_field=cfg.text_field, seq_len=cfg.seq_len,
                               byte_tokenizer=True, seed=cfg.seed)
    total = count = 0.0
    with torch.no_grad():
        for x, y in data.validation_batches(val, tok, seq_len=cfg.seq_len, packing=cfg.packing,
                                            batch_size=cfg.batch_size, batches=cfg.eval_batches):
            n = int((y[:, 1:] != -100).sum())
            total += float(model(input_ids=x, labels=y).loss) * n
            count += n
    assert total / count == pytest.approx(last_eval["loss"], abs=1e-4)


def test_export_without_checkpoint_is_bad_input(tmp_path, capsys):
    assert export.main([str(tmp_path), str(tmp_path / "hf")]) == 2
    assert "no readable checkpoint" in capsys.readouterr().err
