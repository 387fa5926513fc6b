"""Training and validation data: document sources -> fixed-length rows -> per-rank batches.

Sources (`--data`):
  embedded      the Shakespeare corpus shipped in sltrain/data/ (see its README)
  PATH.txt      plain text; like the embedded corpus, the last 5 % of lines are held out and the rest
                is cut into passages of whole lines (seq_len-2 characters for the byte tokenizer,
                4*seq_len for others) so that one passage fills about one row
  PATH.jsonl    one JSON object per line, the document in `--text-field` (default "text");
                the last 5 % of documents are held out
  PATH (dir) or hf:PATH   a dataset written by `datasets` save_to_disk: "train"/"validation" splits
                if it is a DatasetDict, else the last 5 % of rows are held out
  hf:NAME[:CONFIG]        a Hugging Face hub dataset (e.g. hf:allenai/c4:en as the papers) or a local
                folder of data files, streamed with load_dataset(streaming=True); validation = the
                start of its "validation" split

Rows (the papers' way): each document becomes one row, truncated or padded to seq_len, labels -100 on
padding. With `--packing` documents are concatenated and cut into full rows with no padding.
The row stream is global and deterministic for a seed; rank r of W takes rows r, r+W, r+2W, ...
so any world size sees the same global batches. In-memory sources are reshuffled every epoch
(seeded); streamed ones are read in order. `state_dict()` is the position of the next global row.
"""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import torch

from .errors import ConfigError, MissingDependency

EMBEDDED = Path(__file__).with_name("data") / "shakespeare.txt.gz"
HELD_OUT = 0.05


def _passages(lines: list[str], max_chars: int) -> list[str]:
    """Greedy groups of consecutive lines of at most max_chars (a longer line stands alone)."""
    out, cur, size = [], [], 0
    for line in lines:
        if cur and size + len(line) + 1 > max_chars:
            out.append("\n".join(cur).strip())
            cur, size = [], 0
        cur.append(line)
        size += len(line) + 1
    if cur:
        out.append("\n".join(cur).strip())
    return [p for p in out if p]


def _split_lines(text: str, max_chars: int, what: str):
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ConfigError(f"--data {what}: the file holds no text")
    cut = max(1, int(len(lines) * (1 - HELD_OUT)))
    train, val = _passages(lines[:cut], max_chars), _passages(lines[cut:], max_chars)
    if not train or not val:
        raise ConfigError(f"--data {what}: too little text to hold out a validation part; add more lines")
    return train, val


def _split_docs(docs: list[str], what: str):
    docs = [d for d in docs if d.strip()]
    if len(docs) < 2:
        raise ConfigError(f"--data {what}: need at least 2 non-empty documents (one is held out), found {len(docs)}")
    cut = min(len(docs) - 1, int(len(docs) * (1 - HELD_OUT)))
    return docs[:cut], docs[cut:]


def _read_jsonl(path: Path, field: str) -> list[str]:
    docs = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"--data {path}: line {n} is not JSON ({e.msg})") from e
            if not isinstance(rec, dict) or not isinstance(rec.get(field), str):
                raise ConfigError(f"--data {path}: line {n} has no string field {field!r}; set --text-field")
            docs.append(rec[field])
    return docs


def _datasets():
    try:
        import datasets
    except ImportError as e:
        raise MissingDependency("--data hf:... needs the 'datasets' package: pip install datasets") from e
    return datasets


def _column(ds, field: str, what: str):
    if field not in ds.column_names:
        raise ConfigError(f"--data {what}: no column {field!r} (columns: {ds.column_names}); set --text-field")
    return ds[field]


def _from_disk(path: Path, field: str, what: str):
    datasets = _datasets()
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:  # noqa: BLE001 - any failure here means "not a saved dataset"
        raise ConfigError(f"--data {what}: not a dataset saved with save_to_disk ({e})") from e
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise ConfigError(f"--data {what}: the DatasetDict has no 'train' split ({list(ds)})")
        if "validation" in ds:
            return list(_column(ds["train"], field, what)), list(_column(ds["validation"], field, what))
        ds = ds["train"]
    return _split_docs(list(_column(ds, field, what)), what)


def _saved_dataset(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


class StreamDocs:
    """A streamed hub dataset split: re-opened from a document offset (resume) or from the start."""

    def __init__(self, name: str, config: str | None, split: str, field: str):
        datasets = _datasets()
        self.field, self.what = field, f"hf:{name}"
        try:
            self.ds = datasets.load_dataset(name, config, split=split, streaming=True)
        except Exception as e:  # noqa: BLE001 - network, auth and name errors all mean "cannot open"
            raise ConfigError(f"--data hf:{name}: cannot open split {split!r} ({type(e).__name__}: {e})") from e

    def iterate(self, epoch: int, start: int):
        for rec in self.ds.skip(start):
            yield rec[self.field]


class ListDocs:
    def __init__(self, docs: list[str], seed: int | None):
        self.docs, self.seed = docs, seed

    def iterate(self, epoch: int, start: int):
        order = list(range(len(self.docs)))
        if self.seed is not None:
            random.Random(self.seed * 1000003 + epoch).shuffle(order)
        for i in order[start:]:
            yield self.docs[i]


def open_sources(spec: str, *, text_field: str, seq_len: int, byte_tokenizer: bool, seed: int):
    """Returns (train source, validation source); raises ConfigError on missing/empty/malformed data."""
    max_chars = seq_len - 2 if byte_tokenizer else 4 * seq_len
    if spec == "embedded":
        train, val = _split_lines(gzip.decompress(EMBEDDED.read_bytes()).decode("utf-8"), max_chars, spec)
    elif spec.startswith("hf:"):
        name, _, config = spec[3:].partition(":")
        if not name:
            raise ConfigError("--data hf:NAME[:CONFIG]: the dataset name is empty")
        if _saved_dataset(Path(name)):
            train, val = _from_disk(Path(name), text_field, spec)
        else:  # a hub name, or a local folder of data files (train.jsonl, validation.jsonl, ...)
            return (StreamDocs(name, config or None, "train", text_field),
                    StreamDocs(name, config or None, "validation", text_field))
    else:
        path = Path(spec)
        if not path.exists():
            raise ConfigError(f"--data {spec}: no such file or directory")
        if path.is_dir():
            if not _saved_dataset(path):
                raise ConfigError(f"--data {spec}: a folder must be a dataset written by save_to_disk "
                                  "(use hf:FOLDER for a folder of data files)")
            train, val = _from_disk(path, text_field, spec)
        elif path.stat().st_size == 0:
            raise ConfigError(f"--data {spec}: the file is empty")
        elif path.suffix == ".jsonl":
            train, val = _split_docs(_read_jsonl(path, text_field), spec)
        else:
            train, val = _split_lines(path.read_text(encoding="utf-8", errors="replace"), max_chars, spec)
    return ListDocs(train, seed), ListDocs(val, None)


class RowStream:
    """Global stream of rows of seq_len ids; this rank keeps every world-th row."""

    def __init__(self, source, tokenizer, seq_len: int, packing: bool, rank: int = 0, world: int = 1):
        self.source, self.tok, self.seq_len, self.packing = source, tokenizer, seq_len, packing
        self.rank, self.world = rank, world
        self.epoch = self.doc = self.offset = self.row = 0
        self._it = self._peek = None  # open iterator over the source, and its current document
        self._ids = None  # token ids of the current document (packing only)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "doc": self.doc, "offset": self.offset, "row": self.row}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.doc, self.offset, self.row = (int(state[k]) for k in ("epoch", "doc", "offset", "row"))
        self._it, self._ids = None, None

    def _text(self) -> str:
        """Text of the current document, opening the next epoch when the source runs out."""
        for _ in range(2):
            if self._it is None:
                self._it = self.source.iterate(self.epoch, self.doc)
                self._peek = next(self._it, None)
            if self._peek is not None:
                return self._peek
            if self.doc == 0:
                break
            self.epoch, self.doc, self._it = self.epoch + 1, 0, None
        raise ConfigError("the data source yielded no documents")

    def _advance(self) -> None:
        self.doc += 1
        self.offset, self._ids = 0, None
        self._peek = next(self._it, None)

    def _next_row(self, keep: bool):
        if not self.packing:
            text = self._text()  # also rolls over into the next epoch for skipped rows
            ids = self.tok.encode(text)[: self.seq_len] if keep else None
            self._advance()
        else:
            ids = []
            while len(ids) < self.seq_len:
                if self._ids is None:
                    self._ids = self.tok.encode(self._text())
                take = self._ids[self.offset: self.offset + self.seq_len - len(ids)]
                ids += take
                self.offset += len(take)
                if self.offset >= len(self._ids):
                    self._advance()
        self.row += 1
        return ids

    def next_rows(self, n: int) -> list[list[int]]:
        """The next n rows of this rank (skipping the other ranks' rows)."""
        out = []
        while len(out) < n:
            keep = self.row % self.world == self.rank
            ids = self._next_row(keep)
            if keep:
                out.append(ids)
        return out

    def next_batch(self, batch_size: int):
        return collate(self.next_rows(batch_size), self.seq_len, self.tok.pad_id)


def collate(rows: list[list[int]], seq_len: int, pad_id: int):
    """-> input_ids (B, T) int64 padded with pad_id, labels (B, T) with -100 on padding."""
    ids = torch.full((len(rows), seq_len), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), seq_len), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        labels[i, : len(r)] = ids[i, : len(r)]
    return ids, labels


def validation_batches(source, tokenizer, *, seq_len: int, packing: bool, batch_size: int,
                       batches: int, rank: int = 0, world: int = 1):
    """The fixed held-out set: the first batches*batch_size*world rows of one pass over the
    validation source (fewer if it is shorter), this rank's share, as a list of (input_ids, labels)."""
    total = batches * batch_size * world
    rows: list[list[int]] = []
    buf: list[int] = []
    for text in source.iterate(0, 0):
        if not packing:
            rows.append(tokenizer.encode(text)[:seq_len])
        else:
            buf += tokenizer.encode(text)
            while len(buf) >= seq_len and len(rows) < total:
                rows.append(buf[:seq_len])
                buf = buf[seq_len:]
        if len(rows) >= total:
            break
    if not rows and buf:
        rows.append(buf)  # a validation part shorter than one row: one padded row
    mine = rows[rank::world]
    return [collate(mine[i: i + batch_size], seq_len, tokenizer.pad_id)
            for i in range(0, len(mine), batch_size)]
