"""Tokenizers: the built-in byte tokenizer and Hugging Face tokenizers.

Contract shared by both: `encode(text) -> list[int]` returns the ids of one document *with* the
special tokens the tokenizer adds around a document (byte: bos ... eos; T5: ... eos), `pad_id`,
`vocab_size`, and `save(dir)`.

Byte tokenizer ids: 0 bos, 1 eos, 2 pad, byte b -> b + 3; vocab 259 (matches the llama_tiny preset).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import ConfigError, MissingDependency


class ByteTokenizer:
    bos_id, eos_id, pad_id = 0, 1, 2
    offset = 3
    vocab_size = 259
    spec = "byte"

    def encode(self, text: str) -> list[int]:
        return [self.bos_id] + [b + self.offset for b in text.encode("utf-8")] + [self.eos_id]

    def decode(self, ids) -> str:
        data = bytes(i - self.offset for i in ids if i >= self.offset)
        return data.decode("utf-8", errors="replace")

    def save(self, out_dir: str | os.PathLike) -> None:
        """Writes a note, not a transformers tokenizer: the byte scheme is three lines of code."""
        note = {
            "tokenizer": "sltrain-byte",
            "vocab_size": self.vocab_size,
            "special_tokens": {"bos": self.bos_id, "eos": self.eos_id, "pad": self.pad_id},
            "encoding": "utf-8 byte b -> id b + 3; a document is [bos] + bytes + [eos]",
        }
        Path(out_dir, "tokenizer_note.json").write_text(json.dumps(note, indent=2) + "\n")


class HFTokenizer:
    """A transformers tokenizer (`hf:t5-base` as the papers, or `hf:/local/dir`)."""

    def __init__(self, name: str):
        try:
            from transformers import AutoTokenizer
        except ImportError as e:
            raise MissingDependency(
                f"--tokenizer hf:{name} needs the 'transformers' package: pip install transformers") from e
        try:
            self.tok = AutoTokenizer.from_pretrained(name)
        except Exception as e:  # noqa: BLE001 - hub, network and file errors all mean "cannot load"
            raise ConfigError(f"--tokenizer hf:{name}: cannot load it ({type(e).__name__}: {e}); "
                              "pass a local tokenizer directory or a reachable hub name") from e
        self.spec = f"hf:{name}"
        self.name = name
        # T5 has a pad token; GPT-style tokenizers do not, and their eos is the usual stand-in.
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        if pad is None:
            raise ConfigError(f"--tokenizer hf:{name} has neither a pad nor an eos token")
        self.pad_id = int(pad)
        self.vocab_size = len(self.tok)

    def limit(self, vocab_size: int) -> None:
        """Map ids >= vocab_size to unk: t5-base has 32100 ids (100 sentinels that plain text never
        produces) while the papers' models have 32000 embeddings."""
        unk = self.tok.unk_token_id if self.tok.unk_token_id is not None else self.tok.eos_token_id
        if unk is None or unk >= vocab_size or self.pad_id >= vocab_size:
            raise ConfigError(f"--tokenizer {self.spec}: its special ids do not fit the model's vocab_size {vocab_size}")
        self.max_id, self.unk_id = vocab_size, unk

    def encode(self, text: str) -> list[int]:
        ids = self.tok(text, add_special_tokens=True)["input_ids"]
        if getattr(self, "max_id", None) is not None:
            ids = [i if i < self.max_id else self.unk_id for i in ids]
        return ids

    def decode(self, ids) -> str:
        return self.tok.decode(ids, skip_special_tokens=True)

    def save(self, out_dir: str | os.PathLike) -> None:
        self.tok.save_pretrained(str(out_dir))


def load_tokenizer(spec: str):
    """`byte` or `hf:NAME` (a hub name or a directory written by `save_pretrained`)."""
    if spec == "byte":
        return ByteTokenizer()
    if spec.startswith("hf:") and len(spec) > 3:
        return HFTokenizer(spec[3:])
    raise ConfigError(f"--tokenizer {spec!r}: use 'byte' or 'hf:NAME' (e.g. hf:t5-base or hf:/path/to/dir)")
