import hashlib
import json
import re

import numpy as np
import pytest
import torch

from dcpoc.data import (
    BUILTIN_CORPORA,
    VOCAB_SIZE,
    Batches,
    Corpus,
    CorpusError,
    decode,
    encode,
    load_corpus,
    split_corpus,
)


def corpus_of(data: bytes, name: str = "tiny") -> Corpus:
    array = np.frombuffer(data, dtype=np.uint8)
    return Corpus(spec=f"text:{name}", name=name, data=array,
                  fingerprint=hashlib.sha256(data).hexdigest(), n_documents=1)


def assert_one_line_naming(excinfo: pytest.ExceptionInfo, needle: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, message
    assert needle in message, message
    return message


@pytest.fixture(scope="module")
def stdlib_corpus() -> Corpus:
    return load_corpus("stdlib")


# --- tokenizer ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "hello, world\n", "naïve café — 東京 🐍"], ids=["empty", "ascii", "non-ascii"])
def test_encode_decode_round_trip(text):
    ids = encode(text)
    assert ids == list(text.encode("utf-8"))
    assert all(0 <= i < VOCAB_SIZE for i in ids)
    assert decode(ids) == text


def test_decode_replaces_invalid_utf8():
    # The first byte of a two-byte character alone, as a model might sample it.
    assert decode([0x68, 0xC3]) == "h\ufffd"


# --- built-in corpora --------------------------------------------------------------------------------

def test_builtin_names():
    assert BUILTIN_CORPORA == ("pydoc", "stdlib")


def test_pydoc_corpus_is_large_and_fingerprint_stable():
    from pydoc_data.topics import topics

    first, second = load_corpus("pydoc"), load_corpus("pydoc")
    assert first.name == "pydoc" and first.spec == "pydoc"
    assert first.data.dtype == np.uint8 and first.data.ndim == 1
    assert first.data.size > 100_000
    assert first.n_documents == len(topics)
    assert first.fingerprint == second.fingerprint
    assert first.fingerprint == hashlib.sha256(first.data.tobytes()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", first.fingerprint)
    # Documents are joined in sorted-key order, so the first topic opens the corpus.
    first_topic = topics[sorted(topics)[0]].strip()
    assert first.data[:200].tobytes().decode("utf-8", "ignore").startswith(first_topic[:100])


def test_stdlib_corpus_has_sources_without_tests(stdlib_corpus):
    text = stdlib_corpus.data.tobytes().decode("utf-8", errors="replace")
    headers = re.findall(r"^# file: (.+)$", text, flags=re.MULTILINE)
    paths = [h for h in headers if h.endswith(".py")]
    assert "os.py" in paths and "json/__init__.py" in paths
    assert stdlib_corpus.n_documents == len(paths) > 100
    for path in paths:
        parts = path.split("/")
        assert not {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"} & set(parts), path
        assert not parts[-1].startswith("test_"), path
    assert len(paths) == len(set(paths))
    assert stdlib_corpus.fingerprint == hashlib.sha256(stdlib_corpus.data.tobytes()).hexdigest()


# --- text: corpora -----------------------------------------------------------------------------------

def test_text_file_loads(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Zwölf Boxkämpfer jagen Viktor.\n", encoding="utf-8")
    corpus = load_corpus(f"text:{path}")
    assert corpus.data.tobytes() == path.read_bytes()
    assert corpus.name == "notes.txt" and corpus.spec == f"text:{path}"
    assert corpus.n_documents == 1


def test_text_file_strips_utf8_bom(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhello")
    assert load_corpus(f"text:{path}").data.tobytes() == b"hello"


def test_text_path_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "home.md").write_text("# at home\n", encoding="utf-8")
    assert load_corpus("text:~/home.md").data.tobytes() == b"# at home\n"


def test_text_folder_loads_txt_md_jsonl_recursively_in_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a.txt").write_text("alpha", encoding="utf-8")
    (tmp_path / "b" / "c.md").write_text("gamma", encoding="utf-8")
    (tmp_path / "b" / "d.jsonl").write_text(
        json.dumps({"text": "delta one", "id": 1}) + "\n\n" + json.dumps({"text": "délta two"}) + "\n",
        encoding="utf-8")
    (tmp_path / "ignored.csv").write_text("not,corpus", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "copy.txt").write_text("hidden", encoding="utf-8")

    corpus = load_corpus(f"text:{tmp_path}")
    assert corpus.data.tobytes().decode("utf-8") == "alpha\n\ngamma\n\ndelta one\n\ndélta two"
    assert corpus.n_documents == 4
    assert load_corpus(f"text:{tmp_path}").fingerprint == corpus.fingerprint


def test_folder_skips_empty_files(tmp_path):
    (tmp_path / "a.txt").write_text("", encoding="utf-8")
    (tmp_path / "b.txt").write_text("beta", encoding="utf-8")
    corpus = load_corpus(f"text:{tmp_path}")
    assert corpus.data.tobytes() == b"beta" and corpus.n_documents == 1


# --- errors ------------------------------------------------------------------------------------------

def test_missing_path(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"text:{path}")
    assert "does not exist" in assert_one_line_naming(excinfo, str(path))


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"], ids=["empty", "whitespace"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"text:{path}")
    assert "empty" in assert_one_line_naming(excinfo, str(path))


def test_folder_of_empty_files(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"text:{tmp_path}")
    assert_one_line_naming(excinfo, str(tmp_path))


@pytest.mark.parametrize("content", [b"text\x00with nul", b"caf\xe9 latin-1", b"\x89PNG\r\n\x1a\n\x00\x00"],
                         ids=["nul", "latin1", "png"])
def test_binary_or_non_utf8_file(tmp_path, content):
    path = tmp_path / "blob.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"text:{path}")
    said = assert_one_line_naming(excinfo, str(path))
    assert "is not UTF-8 text" in said
    assert ("looks binary" in said) == (b"\x00" in content)     # Latin-1 text is not called binary


def test_a_utf16_file_is_named_as_such_not_binary(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes("メモ text".encode("utf-16"))
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"text:{path}")
    assert "is UTF-16 text, not UTF-8" in assert_one_line_naming(excinfo, str(path))


def test_binary_file_inside_folder_is_named(tmp_path):
    (tmp_path / "good.txt").write_text("fine", encoding="utf-8")
    bad = tmp_path / "sub" / "bad.md"
    bad.parent.mkdir()
    bad.write_bytes(b"\xff\xfe\x00h")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"text:{tmp_path}")
    assert_one_line_naming(excinfo, str(bad))


def test_folder_without_text_files(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"text:{tmp_path}")
    assert ".jsonl" in assert_one_line_naming(excinfo, str(tmp_path))


@pytest.mark.parametrize("bad_line", ['{"body": "no text"}', '{"text": 3}', "[1, 2]", "{not json"],
                         ids=["no-field", "not-string", "not-object", "malformed"])
def test_bad_jsonl_line(tmp_path, bad_line):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "ok"}\n' + bad_line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"text:{path}")
    assert "line 2" in assert_one_line_naming(excinfo, str(path))


@pytest.mark.parametrize("spec", ["foo", "", "text:", "PYDOC"])
def test_unknown_or_incomplete_spec(spec):
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(spec)
    assert_one_line_naming(excinfo, "text:PATH")


def test_unknown_spec_message():
    with pytest.raises(CorpusError, match=r"^unknown corpus 'foo': use pydoc, stdlib or text:PATH$"):
        load_corpus("foo")


def test_corpus_error_is_value_error():
    assert issubclass(CorpusError, ValueError)


# --- split -------------------------------------------------------------------------------------------

def test_split_interleaves_blocks_deterministically():
    data = bytes(range(256)) * 40  # 10240 bytes = 40 blocks of 256
    corpus = corpus_of(data)
    train, val = split_corpus(corpus, val_fraction=0.1, block_bytes=256)
    again_train, again_val = split_corpus(corpus, val_fraction=0.1, block_bytes=256)
    assert np.array_equal(train, again_train) and np.array_equal(val, again_val)
    assert train.dtype == val.dtype == np.uint8
    assert train.size + val.size == len(data)
    assert val.size == 4 * 256  # blocks 9, 19, 29, 39

    positions = corpus_of(np.arange(len(data), dtype=np.int64).tobytes())  # 8 bytes per position
    pos_train, pos_val = split_corpus(positions, val_fraction=0.1, block_bytes=256 * 8)
    val_pos = set(pos_val.view(np.int64).tolist())
    assert val_pos == {p for block in (9, 19, 29, 39) for p in range(block * 256, (block + 1) * 256)}
    assert val_pos.isdisjoint(pos_train.view(np.int64).tolist())


def test_split_partial_last_block():
    corpus = corpus_of(b"x" * (20 * 100 + 37))  # 21 blocks, the last one short
    train, val = split_corpus(corpus, val_fraction=0.1, block_bytes=100)
    assert val.size == 200 and train.size == 20 * 100 + 37 - 200


def test_split_small_corpus_falls_back_to_tail():
    data = bytes(range(100))
    train, val = split_corpus(corpus_of(data), val_fraction=0.1, block_bytes=8192)
    assert train.tobytes() == data[:90] and val.tobytes() == data[90:]


def test_split_rejects_too_small_and_bad_args():
    with pytest.raises(CorpusError):
        split_corpus(corpus_of(b"a"))
    with pytest.raises(ValueError):
        split_corpus(corpus_of(b"abc" * 100), val_fraction=0.0)
    with pytest.raises(ValueError):
        split_corpus(corpus_of(b"abc" * 100), block_bytes=0)


def test_split_of_real_corpus_is_representative():
    corpus = load_corpus("pydoc")
    train, val = split_corpus(corpus)
    assert train.size + val.size == corpus.data.size
    assert 0.08 < val.size / corpus.data.size < 0.12


# --- batches -----------------------------------------------------------------------------------------

@pytest.fixture
def split_bytes():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, 5000, dtype=np.uint8), rng.integers(0, 256, 700, dtype=np.uint8)


def test_train_batch_shapes_and_shift(split_bytes):
    train, val = split_bytes
    batches = Batches(train, val, seq_len=16, batch_size=8, seed=1)
    x, y = batches.train_batch(0)
    assert x.shape == y.shape == (8, 16)
    assert x.dtype == y.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    # Every row is a real window of the training data.
    for row_x, row_y in zip(x.tolist(), y.tolist()):
        window = bytes(row_x + row_y[-1:])
        assert window in train.tobytes()


def test_train_batch_reproducible_per_step(split_bytes):
    train, val = split_bytes
    uninterrupted = Batches(train, val, seq_len=16, batch_size=8, seed=7)
    resumed = Batches(train, val, seq_len=16, batch_size=8, seed=7)
    for step in range(3):
        uninterrupted.train_batch(step)
    x_run, y_run = uninterrupted.train_batch(3)
    x_res, y_res = resumed.train_batch(3)  # fresh object, jumps straight to step 3
    assert torch.equal(x_run, x_res) and torch.equal(y_run, y_res)
    assert not torch.equal(uninterrupted.train_batch(4)[0], x_run)
    other_seed = Batches(train, val, seq_len=16, batch_size=8, seed=8)
    assert not torch.equal(other_seed.train_batch(3)[0], x_run)


def test_validation_is_the_whole_split_in_non_overlapping_windows(split_bytes):
    train, val = split_bytes
    a = Batches(train, val, seq_len=16, batch_size=4, seed=1).validation(10**9)
    b = Batches(train, val, seq_len=16, batch_size=4, seed=2).validation(10**9)
    n = (val.size - 1) // 16
    assert a.x.shape == (n, 16) and a.x.dtype == torch.long
    assert a.tokens == a.split_tokens == n * 16 and a.whole
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)      # the same for every seed
    # Window i starts at byte i * 16: the windows tile the split without overlap.
    assert torch.equal(a.x.reshape(-1), torch.from_numpy(val[:n * 16].astype(np.int64)))
    assert torch.equal(a.y.reshape(-1), torch.from_numpy(val[1:n * 16 + 1].astype(np.int64)))
    chunks = a.batches(4)
    assert sum(x.shape[0] for x, _ in chunks) == n and all(x.shape[0] <= 4 for x, _ in chunks)


def test_validation_of_a_large_split_is_a_fixed_sample_of_the_stated_size():
    val = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)
    train = np.zeros(100, dtype=np.uint8)
    a = Batches(train, val, seq_len=10, batch_size=4, seed=1).validation(200)
    b = Batches(train, val, seq_len=10, batch_size=4, seed=9).validation(205)
    assert a.tokens == b.tokens == 200 and a.split_tokens == 4990 and not a.whole
    assert torch.equal(a.x, b.x)                              # fixed: seed-independent
    starts = [val.tobytes().index(bytes(row.tolist())) for row in a.x]
    assert starts == sorted(starts) and all(s % 10 == 0 for s in starts)
    assert len(set(starts)) == 20                             # distinct windows, no overlap


def test_validation_subset_is_evenly_spaced_and_capped():
    val = np.arange(200, dtype=np.uint8)
    full = Batches(np.arange(100, dtype=np.uint8), val, seq_len=10, batch_size=4,
                   seed=0).validation(10**6)
    assert full.tokens == 190                                 # 19 windows of 10: the last byte is a target
    part = full.subset(4)
    assert part.x[:, 0].tolist() == [0, 60, 120, 180] and part.split_tokens == 190
    assert torch.equal(part.y, part.x + 1)
    assert full.subset(100) is full
    with pytest.raises(ValueError):
        full_batches = Batches(np.arange(100, dtype=np.uint8), val, seq_len=10, batch_size=4, seed=0)
        full_batches.validation(5)


def test_small_validation_raises_corpus_error():
    train, val = np.zeros(1000, dtype=np.uint8), np.zeros(10, dtype=np.uint8)
    with pytest.raises(CorpusError) as excinfo:
        Batches(train, val, seq_len=32, batch_size=2, seed=0, corpus_name="tiny.txt")
    message = assert_one_line_naming(excinfo, "tiny.txt")
    assert "10 bytes of validation data" in message and "seq_len" in message


def test_batches_accept_read_only_corpus_data():
    corpus = corpus_of(bytes(range(256)) * 4)
    assert not corpus.data.flags.writeable
    batches = Batches(corpus.data, corpus.data, seq_len=8, batch_size=2, seed=0)
    x, y = batches.train_batch(0)
    assert torch.equal(y, (x + 1) % 256)


@pytest.mark.parametrize("seq_len, batch_size", [(0, 4), (8, 0)])
def test_batches_reject_bad_sizes(split_bytes, seq_len, batch_size):
    train, val = split_bytes
    with pytest.raises(ValueError):
        Batches(train, val, seq_len=seq_len, batch_size=batch_size, seed=0)
