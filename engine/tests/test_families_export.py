"""A run of each family exports as that family: config.json keeps model_type, architectures and every
field the run's config.json gave, and transformers' own class reproduces the run's validation loss."""
import json

import pytest
import torch

from sltrain import data, export, runconfig, train
from sltrain.families import FAMILIES
from sltrain.tokenizer import load_tokenizer
from test_train_e2e import SMALL, read_events

BYTE_VOCAB = 259  # the byte tokenizer's ids, which SMALL's runs use
GIVEN = dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
             vocab_size=BYTE_VOCAB, max_position_embeddings=128, rope_theta=10000.0, note_for_export="kept as given")
FAMILY_FIELDS = {
    "llama": dict(head_dim=16, attention_bias=True, tie_word_embeddings=True,
                  rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                    original_max_position_embeddings=32)),
    "mistral": dict(sliding_window=16),
    "qwen2": dict(use_sliding_window=True, sliding_window=16, max_window_layers=1, torch_dtype="bfloat16"),
    "qwen3": dict(head_dim=16, tie_word_embeddings=True),
}


@pytest.mark.parametrize("family", FAMILY_FIELDS)
def test_export_keeps_the_family_and_its_loss(tmp_path, family):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("safetensors")
    given = {"model_type": family, **GIVEN, **FAMILY_FIELDS[family]}
    (tmp_path / "config.json").write_text(json.dumps(given))
    run, out = tmp_path / "run", tmp_path / "hf"
    assert train.main(["--model", str(tmp_path / "config.json"), "--method", "sltrain", "--rank", "4",
                       "--steps", "3", "--warmup", "1", "--eval-every", "3", "--out", str(run), *SMALL]) == 0
    last_eval = [e for e in read_events(run) if e["event"] == "eval"][-1]
    assert export.main([str(run), str(out)]) == 0

    written = json.loads((out / "config.json").read_text())
    assert written["architectures"] == [FAMILIES[family]["architecture"]]
    for key, value in given.items():
        if key != "torch_dtype":  # names the dtype of the tensors written, which the run decides
            assert written[key] == value, key
    model = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    assert type(model).__name__ == FAMILIES[family]["architecture"]
    model.config._attn_implementation = "eager"
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
