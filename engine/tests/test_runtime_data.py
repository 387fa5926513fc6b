"""Data loaders: text, jsonl, saved and streamed HF datasets with a local HF tokenizer; rows, padding
labels, packing, determinism, sharding and resume positions."""
import json

import pytest
import torch

from sltrain import data
from sltrain.errors import ConfigError
from sltrain.tokenizer import ByteTokenizer, load_tokenizer

BYTE = ByteTokenizer()


def _open(spec, seq_len=32, **kw):
    return data.open_sources(spec, text_field=kw.pop("text_field", "text"), seq_len=seq_len,
                             byte_tokenizer=kw.pop("byte", True), seed=kw.pop("seed", 0))


def test_byte_tokenizer_ids():
    assert BYTE.encode("Ab") == [0, 65 + 3, 98 + 3, 1]
    assert BYTE.decode(BYTE.encode("héllo")) == "héllo"
    assert (BYTE.vocab_size, BYTE.pad_id) == (259, 2)


def test_embedded_corpus_split_and_rows():
    train, val = _open("embedded", seq_len=256)
    assert len(train.docs) > 5000 and len(val.docs) > 100
    assert not set(train.docs) & set(val.docs) or len(set(train.docs) & set(val.docs)) < 5
    x, y = data.RowStream(train, BYTE, 256, packing=False).next_batch(8)
    assert x.shape == (8, 256) and x.dtype == torch.long
    assert bool((x[:, 0] == BYTE.bos_id).all())
    pad = x == BYTE.pad_id
    assert bool((y[pad] == -100).all()) and bool((y[~pad] == x[~pad]).all())


def test_txt_and_padding_labels(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("\n".join(f"line {i} " + "x" * (i % 7) for i in range(200)))
    train, val = _open(str(f), seq_len=40)
    rows = data.RowStream(train, BYTE, 40, packing=False).next_rows(5)
    assert all(len(r) <= 40 for r in rows)
    x, y = data.collate([[0, 5, 6, 1]], 6, BYTE.pad_id)
    assert x.tolist() == [[0, 5, 6, 1, 2, 2]] and y.tolist() == [[0, 5, 6, 1, -100, -100]]
    vb = data.validation_batches(val, BYTE, seq_len=40, packing=False, batch_size=4, batches=2)
    assert 1 <= len(vb) <= 2


def test_jsonl_text_field_and_errors(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps({"body": f"doc {i}"}) for i in range(40)) + "\n")
    train, val = _open(str(f), text_field="body")
    assert len(train.docs) == 38 and val.docs == ["doc 38", "doc 39"]
    with pytest.raises(ConfigError, match="text-field"):
        _open(str(f))
    (tmp_path / "e.txt").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        _open(str(tmp_path / "e.txt"))
    with pytest.raises(ConfigError, match="no such file"):
        _open(str(tmp_path / "missing.txt"))


def test_packing_fills_rows_without_padding():
    train, _ = _open("embedded", seq_len=64)
    x, y = data.RowStream(train, BYTE, 64, packing=True).next_batch(6)
    assert bool((y != -100).all()) and int((x == BYTE.eos_id).sum()) >= 1


def test_deterministic_for_a_seed_and_reshuffled_per_epoch():
    a, _ = _open("embedded", seed=3)
    b, _ = _open("embedded", seed=3)
    c, _ = _open("embedded", seed=4)
    first = lambda src: data.RowStream(src, BYTE, 32, False).next_rows(4)
    assert first(a) == first(b) and first(a) != first(c)
    assert list(a.iterate(0, 0))[:3] != list(a.iterate(1, 0))[:3]


@pytest.mark.parametrize("packing", [False, True])
def test_sharding_partitions_the_global_stream(packing):
    train, _ = _open("embedded", seq_len=48)
    full = data.RowStream(train, BYTE, 48, packing).next_rows(8)
    r0 = data.RowStream(train, BYTE, 48, packing, rank=0, world=2).next_rows(4)
    r1 = data.RowStream(train, BYTE, 48, packing, rank=1, world=2).next_rows(4)
    assert r0 == full[0::2] and r1 == full[1::2]


@pytest.mark.parametrize("packing", [False, True])
def test_resume_position_continues_the_stream(packing):
    train, _ = _open("embedded", seq_len=48)
    s = data.RowStream(train, BYTE, 48, packing)
    s.next_rows(5)
    state = s.state_dict()
    rest = s.next_rows(3)
    t = data.RowStream(train, BYTE, 48, packing)
    t.load_state_dict(json.loads(json.dumps(state)))
    assert t.next_rows(3) == rest


def test_stream_wraps_into_the_next_epoch():
    src = data.ListDocs(["a", "b", "c"], seed=0)
    s = data.RowStream(src, BYTE, 8, packing=False)
    rows = s.next_rows(7)
    assert len(rows) == 7 and s.state_dict()["epoch"] == 2


def make_hf_tokenizer(directory):
    """An 11-id word-level tokenizer (pad 0, eos 1, unk 2) saved with save_pretrained."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["the quick brown fox jumps over the lazy dog"] * 3,
                            trainers.WordLevelTrainer(special_tokens=["<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="module")
def hf_tokenizer_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    return make_hf_tokenizer(tmp_path_factory.mktemp("tok"))


def test_local_hf_dataset_and_tokenizer(tmp_path, hf_tokenizer_dir):
    datasets = pytest.importorskip("datasets")
    words = "the quick brown fox jumps over the lazy dog".split()
    docs = [" ".join(words[: 2 + i % 8]) for i in range(30)]
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": docs}),
                          "validation": datasets.Dataset.from_dict({"text": docs[:4]})}).save_to_disk(str(tmp_path / "ds"))
    tok = load_tokenizer(f"hf:{hf_tokenizer_dir}")
    assert tok.pad_id == 0 and tok.encode("the fox")[-1] == 1
    for spec in (str(tmp_path / "ds"), f"hf:{tmp_path / 'ds'}"):
        train, val = _open(spec, byte=False)
        assert len(train.docs) == 30 and val.docs == docs[:4]
        x, y = data.RowStream(train, tok, 12, packing=False).next_batch(4)
        assert bool((y[x == 0] == -100).all()) and x.shape == (4, 12)


def test_streamed_hf_dataset_from_local_data_files(tmp_path, hf_tokenizer_dir):
    pytest.importorskip("datasets")
    folder = tmp_path / "files"
    folder.mkdir()
    for split, n in (("train", 20), ("validation", 5)):
        (folder / f"{split}.jsonl").write_text(
            "\n".join(json.dumps({"text": f"the quick fox {i}"}) for i in range(n)) + "\n")
    train, val = _open(f"hf:{folder}", byte=False)
    assert isinstance(train, data.StreamDocs)
    tok = load_tokenizer(f"hf:{hf_tokenizer_dir}")
    s = data.RowStream(train, tok, 8, packing=False)
    s.next_rows(3)
    state = s.state_dict()
    rest = s.next_rows(2)
    t = data.RowStream(train, tok, 8, packing=False)
    t.load_state_dict(state)
    assert t.next_rows(2) == rest
    assert len(data.validation_batches(val, tok, seq_len=8, packing=False, batch_size=2, batches=10)) == 3
