"""Corpora, the byte tokenizer, the train/validation split and training batches.

A corpus is one flat uint8 array. Models see raw UTF-8 bytes, so the vocabulary is fixed at 256 and
no tokenizer state has to be saved with a run; the corpus fingerprint is what makes two runs comparable.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where batches are built, so the dashboard can load corpora without it
    import torch

__all__ = [
    "BUILTIN_CORPORA",
    "VOCAB_SIZE",
    "Batches",
    "Corpus",
    "CorpusError",
    "ValidationSet",
    "decode",
    "encode",
    "load_corpus",
    "split_corpus",
]


class CorpusError(ValueError):
    """A problem the user caused (bad spec, unreadable file, too little data); str() is one line."""


VOCAB_SIZE = 256
BUILTIN_CORPORA = ("pydoc", "stdlib")

TEXT_SUFFIXES = (".txt", ".md", ".jsonl")
DOC_SEPARATOR = b"\n\n"
# Pruned anywhere under the stdlib root: installed packages and the test suites (mostly fixtures).
_STDLIB_SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"})


def encode(text: str) -> list[int]:
    """UTF-8 bytes; bytes that were not UTF-8 on the command line (Python keeps them as surrogates)
    come back as they were: the tokenizer is bytes, any byte is a token."""
    return list(text.encode("utf-8", errors="surrogateescape"))


def decode(ids: Sequence[int]) -> str:
    # A model may emit a byte sequence that is not valid UTF-8 (e.g. half of a multi-byte character).
    return bytes(ids).decode("utf-8", errors="replace")


# eq=False: the generated __eq__/__hash__ would compare ndarrays, which is ambiguous; compare fingerprints.
@dataclass(frozen=True, eq=False)
class Corpus:
    spec: str
    name: str
    data: np.ndarray  # (N,) uint8, read-only
    fingerprint: str
    n_documents: int

    def __repr__(self) -> str:
        return (f"Corpus(spec={self.spec!r}, name={self.name!r}, bytes={self.data.size}, "
                f"n_documents={self.n_documents}, fingerprint={self.fingerprint[:12]}...)")


def _make_corpus(spec: str, name: str, documents: list[bytes]) -> Corpus:
    data = np.frombuffer(DOC_SEPARATOR.join(documents), dtype=np.uint8)  # read-only view of the bytes
    return Corpus(spec=spec, name=name, data=data, fingerprint=hashlib.sha256(data).hexdigest(),
                  n_documents=len(documents))


def load_corpus(spec: str) -> Corpus:
    """Load 'pydoc', 'stdlib' or 'text:PATH' (a UTF-8 file, or a folder of .txt/.md/.jsonl files)."""
    key = spec.strip()
    if key == "pydoc":
        return _make_corpus(spec, "pydoc", _pydoc_documents())
    if key == "stdlib":
        return _make_corpus(spec, "stdlib", _stdlib_documents())
    if key.startswith("text:"):
        raw_path = key[len("text:"):].strip()
        if not raw_path:
            raise CorpusError(f"corpus spec {spec!r} has no path: use text:PATH with a file or folder")
        path = Path(os.path.expanduser(raw_path))
        return _make_corpus(spec, path.name or str(path), _text_documents(path))
    raise CorpusError(f"unknown corpus {key!r}: use pydoc, stdlib or text:PATH")


def _pydoc_documents() -> list[bytes]:
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise CorpusError("corpus 'pydoc' needs the pydoc_data module, which this Python lacks; "
                          "use stdlib or text:PATH") from None
    return [topics[key].strip().encode("utf-8") for key in sorted(topics)]


def _stdlib_documents() -> list[bytes]:
    root = Path(os.__file__).parent
    documents = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Pruning in place stops os.walk descending; sorting in place fixes the visiting order.
        dirnames[:] = sorted(d for d in dirnames if d not in _STDLIB_SKIP_DIRS)
        for filename in sorted(filenames):
            if not filename.endswith(".py") or filename.startswith("test_"):
                continue
            path = Path(dirpath, filename)
            header = f"# file: {path.relative_to(root).as_posix()}\n".encode("utf-8")
            documents.append(header + path.read_bytes().strip())
    if not documents:
        raise CorpusError(f"found no standard library sources under {root}; use pydoc or text:PATH")
    return documents


def _text_documents(path: Path) -> list[bytes]:
    if path.is_file():
        documents = _read_text_file(path)
        if not documents:
            raise CorpusError(f"file {path} is empty (or only whitespace); add text to it or use another corpus")
        return documents
    if path.is_dir():
        files = _text_files_under(path)
        if not files:
            raise CorpusError(f"folder {path} has no .txt, .md or .jsonl files; add some or point text: at a file")
        # Empty files inside a folder are skipped; only an entirely empty folder corpus is an error.
        documents = [doc for file in files for doc in _read_text_file(file)]
        if not documents:
            raise CorpusError(f"folder {path} holds only empty files; add text to them or use another corpus")
        return documents
    if path.exists():
        raise CorpusError(f"corpus path {path} is neither a file nor a folder; use text:PATH with a file or folder")
    raise CorpusError(f"corpus path {path} does not exist; check the path given after text:")


def _text_files_under(folder: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        # Hidden folders (.git, .ipynb_checkpoints) hold tooling files or copies, not corpus text.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath, f) for f in sorted(filenames)
                     if not f.startswith(".") and f.lower().endswith(TEXT_SUFFIXES))
    return files


def _read_text_file(path: Path) -> list[bytes]:
    """The file's non-blank documents as UTF-8 bytes: one per file, or one per line of a .jsonl."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read {path} ({e.strerror}); check that it is a readable file") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):   # NUL bytes, but text
        raise CorpusError(f"file {path} is UTF-16 text, not UTF-8; convert it (e.g. `iconv -f UTF-16 "
                          "-t UTF-8`) or remove it from the corpus")
    if b"\x00" in raw:
        raise CorpusError(f"file {path} is not UTF-8 text (looks binary: it contains NUL bytes); "
                          "convert it to UTF-8 text or remove it from the corpus")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        # no NUL byte: most likely text in another encoding (Latin-1, Shift_JIS), not a binary file
        raise CorpusError(f"file {path} is not UTF-8 text (invalid byte at offset {e.start}: another "
                          "encoding, such as Latin-1 or Shift_JIS?); convert it to UTF-8 (e.g. "
                          "`iconv -f SHIFT_JIS -t UTF-8`) or remove it from the corpus") from None
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if path.suffix.lower() == ".jsonl":
        return _jsonl_documents(path, raw)
    return [raw] if raw.strip() else []


def _jsonl_documents(path: Path, raw: bytes) -> list[bytes]:
    documents = []
    for line_no, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusError(f"file {path} line {line_no} is not a JSON object with a string \"text\" field; "
                              "fix or remove that line")
        if record["text"].strip():
            documents.append(record["text"].encode("utf-8"))
    return documents


def split_corpus(corpus: Corpus, val_fraction: float = 0.1,
                 block_bytes: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Split into (train, val) uint8 arrays by interleaved blocks, so validation samples the whole corpus.

    Block i goes to validation when i % period == period - 1, period = round(1 / val_fraction). A corpus of
    fewer than 2 * period blocks gives its last val_fraction of bytes to validation instead.
    """
    if not 0.0 < val_fraction <= 0.5:
        raise ValueError(f"val_fraction must be in (0, 0.5], got {val_fraction}")
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be >= 1, got {block_bytes}")
    data = corpus.data
    period = round(1.0 / val_fraction)
    n_blocks = -(-data.size // block_bytes)
    if n_blocks >= 2 * period:
        block_is_val = np.arange(n_blocks) % period == period - 1
        byte_is_val = np.repeat(block_is_val, block_bytes)[:data.size]  # (N,) bool
        train, val = data[~byte_is_val], data[byte_is_val]  # boolean indexing copies
    else:
        n_val = max(1, round(data.size * val_fraction))
        train, val = data[:data.size - n_val].copy(), data[data.size - n_val:].copy()
    if train.size == 0 or val.size == 0:
        raise CorpusError(f"corpus {corpus.name} has {data.size} bytes, too few to split into training and "
                          "validation data; use a larger corpus")
    return train, val


class Batches:
    """Training windows drawn at random per step, and the fixed validation windows (validation()).

    The generator for step k is seeded from (seed, k) alone, so a run resumed at step k sees exactly the
    batches an uninterrupted run would have seen.
    """

    def __init__(self, train: np.ndarray, val: np.ndarray, seq_len: int, batch_size: int, seed: int,
                 *, corpus_name: str = "") -> None:
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.seed = seed
        self.train = self._as_tensor(train, "train")
        self.val = self._as_tensor(val, "val")
        label = f"corpus {corpus_name}" if corpus_name else "the corpus"
        for part, data in (("training", self.train), ("validation", self.val)):
            if data.numel() < seq_len + 1:
                raise CorpusError(f"{label} has {data.numel()} bytes of {part} data; need at least "
                                  f"seq_len+1 = {seq_len + 1}; use a larger corpus or shorter seq_len")
        import torch
        self._offsets = torch.arange(seq_len)  # (T,)

    @staticmethod
    def _as_tensor(array: np.ndarray, what: str) -> torch.Tensor:
        if array.ndim != 1 or array.dtype != np.uint8:
            raise ValueError(f"{what} must be a 1-D uint8 array, got shape {array.shape} dtype {array.dtype}")
        if not array.flags.writeable or not array.flags.c_contiguous:
            array = array.copy()  # torch.from_numpy warns on read-only arrays
        import torch
        return torch.from_numpy(array)  # shares memory, no copy

    def _windows(self, data: torch.Tensor, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        idx = starts[:, None] + self._offsets[None, :]  # (B, T)
        return data[idx].long(), data[idx + 1].long()  # x, y: (B, T) int64

    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x, y int64 (batch_size, seq_len), y[:, t] = x[:, t + 1] within the same window."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        # SeedSequence mixes (seed, step) into a well-spread 64-bit seed; seed*K+step would collide.
        import torch
        mixed = np.random.SeedSequence([self.seed % 2**64, step]).generate_state(1, dtype=np.uint64)[0]
        generator = torch.Generator().manual_seed(int(mixed))
        high = self.train.numel() - self.seq_len  # exclusive: the last window ends at the last byte
        starts = torch.randint(0, high, (self.batch_size,), generator=generator)
        return self._windows(self.train, starts)

    def validation(self, max_tokens: int) -> "ValidationSet":
        """The validation windows every run of a study is scored on; seed-independent.

        Non-overlapping windows tile the validation split (window i starts at i * seq_len). When
        they hold at most max_tokens predicted tokens, all of them are used (the whole split);
        otherwise a fixed sample of max_tokens // seq_len windows, drawn with VAL_SAMPLE_SEED."""
        if max_tokens < self.seq_len:
            raise ValueError(f"max_tokens must be >= seq_len ({self.seq_len}), got {max_tokens}")
        n_all = (self.val.numel() - 1) // self.seq_len    # >= 1: __init__ checked seq_len + 1 bytes
        if n_all * self.seq_len <= max_tokens:
            index = np.arange(n_all)
        else:
            rng = np.random.default_rng(VAL_SAMPLE_SEED)
            index = np.sort(rng.choice(n_all, max_tokens // self.seq_len, replace=False))
        import torch
        x, y = self._windows(self.val, torch.from_numpy(index * self.seq_len))   # (N, T) each
        return ValidationSet(x, y, split_tokens=n_all * self.seq_len)


# The sample of a large validation split is the same for every run (seed-independent).
VAL_SAMPLE_SEED = 20261206


@dataclass(frozen=True, eq=False)
class ValidationSet:
    """Validation windows held as two (N, T) int64 tensors, y[:, t] = x[:, t + 1] in the split.
    split_tokens: what all non-overlapping windows of the split would hold."""
    x: torch.Tensor
    y: torch.Tensor
    split_tokens: int

    @property
    def tokens(self) -> int:
        """Predicted tokens per evaluation (N * T)."""
        return self.x.numel()

    @property
    def whole(self) -> bool:
        """True when every non-overlapping window of the split is used (not a sample)."""
        return self.tokens == self.split_tokens

    def subset(self, n_windows: int) -> "ValidationSet":
        """n_windows evenly spaced windows of this set (all of them when it has fewer): the cheap,
        still seed-independent set for evaluations during training."""
        n = self.x.shape[0]
        if n_windows >= n:
            return self
        import torch
        index = torch.from_numpy(np.linspace(0, n - 1, n_windows).round().astype(np.int64))
        return ValidationSet(self.x[index], self.y[index], self.split_tokens)

    def batches(self, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(x, y) chunks of at most batch_size windows, in order."""
        return list(zip(self.x.split(batch_size), self.y.split(batch_size)))
