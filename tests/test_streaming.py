"""Corpora larger than memory: pieces, parts, streaming prepare, memmapped training data, changed sources."""

import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny import TINY_TRAIN

from charmony.corpora.text import separator
from charmony.pipeline.system import sources
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.data.split import HeldOut
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.system.sources import read_pieces, split_pieces
from charmony.pipeline.training.train import train

# Characters that matter at piece boundaries: line ends, a BOM, and 2-, 3- and 4-byte UTF-8.
TRICKY = st.text(alphabet=["a", " ", "\n", "\r", "é", "ж", "€", "𝄞", "\ufeff"], max_size=60)


@settings(max_examples=150, deadline=None)
@given(text=TRICKY, size=st.integers(1, 9))
def test_pieces_join_to_the_whole_normalised_text(tmp_path_factory, text, size):
    path = tmp_path_factory.mktemp("pieces") / "file.txt"
    path.write_bytes(text.encode("utf-8"))
    pieces = list(read_pieces(path, size))
    assert "".join(pieces) == text.removeprefix("\ufeff").replace("\r\n", "\n")
    assert all(pieces), "no empty pieces"


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_bad_bytes_in_a_later_piece_name_their_file_offset(tmp_path, size):
    path = tmp_path / "mixed.txt"
    path.write_bytes("ab€cd".encode() + b"\xe9fg")  # the € is 3 bytes, so 0xe9 is at offset 7
    with pytest.raises(CorpusError, match=r"not UTF-8 \(byte 0xe9 at offset 7\)"):
        list(read_pieces(path, size))
    path.write_bytes(b"abcdefgh\0")
    with pytest.raises(CorpusError, match=r"NUL byte at offset 8"):
        list(read_pieces(path, size))
    path.write_bytes("ab€".encode()[:-1])  # cut inside the last character
    with pytest.raises(CorpusError, match=r"byte 0xe2 at offset 2"):
        list(read_pieces(path, size))


def documents_from_parts(parts) -> list[str]:
    documents, current = [], ""
    for text, continues in parts:
        current += text
        if not continues:
            documents.append(current)
            current = ""
    return [d for d in documents if d.strip()]


# Words, each followed by a separator-like string of at most 3 characters.
WORDS = st.lists(
    st.tuples(st.sampled_from(["tune", "poem", "x"]), st.sampled_from(["", "\n", " ", "%%", "\n\n", "\n \n", "\n\n\n"])).map("".join),
    max_size=40,
)


@pytest.fixture(scope="module")
def small_parts():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "PART_CHARS", 12)
        patch.setattr(sources, "SEPARATOR_CHARS", 4)
        yield


@settings(max_examples=200, deadline=None)
@given(words=WORDS, spec=st.sampled_from(["none", "blank", "%%", r"re:\n\n+", r"re:^x$"]), size=st.integers(1, 7))
def test_split_parts_give_the_documents_of_the_whole_text(small_parts, words, spec, size):
    text = "".join(words)
    pattern = separator(spec)
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    parts = list(split_pieces(pieces, pattern))
    whole = [text] if pattern is None else pattern.split(text)
    assert documents_from_parts(parts) == [d for d in whole if d.strip()]
    assert all(len(part) <= 12 + 4 + size for part, _ in parts), "no part is much longer than PART_CHARS"


def test_selection_sampling_holds_out_exactly_and_uniformly():
    chosen = np.zeros(10)
    for seed in range(2000):
        held_out = HeldOut(10, 3, seed)
        splits = [held_out.next() for _ in range(10)]
        assert splits.count("val") == 3
        chosen += [s == "val" for s in splits]
    assert np.allclose(chosen / 2000, 0.3, atol=0.04), "every document is as likely to be held out"


def test_one_document_larger_than_a_part_is_prepared_in_parts_exactly(monkeypatch, tmp_path, runs_dir):
    monkeypatch.setattr(sources, "READ_BYTES", 64)
    monkeypatch.setattr(sources, "PART_CHARS", 100)
    monkeypatch.setattr(sources, "SEPARATOR_CHARS", 10)
    text = "".join(f"line {i}: ça va\r\n" for i in range(500))
    source = tmp_path / "big.txt"
    source.write_bytes(text.encode())
    run = Run(runs_dir / "big")
    manifest = prepare(run, PrepareConfig("text", [source], val_fraction=0.1))
    vocab = run.vocabulary()
    assert manifest.split == "contiguous" and manifest.documents == {"train": 1, "val": 1}
    joined = vocab.decode(run.tokens("train").tolist()) + vocab.decode(run.tokens("val").tolist())
    assert joined == text.replace("\r\n", "\n") + "<eod>"


def test_prepare_memory_does_not_grow_with_one_huge_document(monkeypatch, tmp_path, runs_dir):
    monkeypatch.setattr(sources, "READ_BYTES", 1 << 16)
    monkeypatch.setattr(sources, "PART_CHARS", 1 << 16)
    source = tmp_path / "huge.txt"
    line = "the quick brown fox jumps over the lazy dog, ça va?\n"
    with source.open("w") as handle:
        for _ in range(8):
            handle.write(line * 20_000)  # 8 x 1 MB
    tracemalloc.start()
    try:
        manifest = prepare(Run(runs_dir / "huge"), PrepareConfig("text", [source], val_fraction=0.05))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert manifest.tokens["train"] + manifest.tokens["val"] == len(line) * 160_000 + 1
    # An 8 MB document held whole would take 8 MB as a str, and 4 bytes a character as code points.
    assert peak < 8 * (1 << 20), f"prepare held {peak / (1 << 20):.1f} MiB at its peak"


def test_training_reads_the_memmaps_without_loading_them(rhymes_file, runs_dir, monkeypatch):
    run = Run(runs_dir / "mapped")
    prepare(run, PrepareConfig("text", [rhymes_file], options={"split": "blank"}))
    handed = []
    real = Run.tokens

    def tokens(self, split):
        handed.append(real(self, split))
        return handed[-1]

    monkeypatch.setattr(Run, "tokens", tokens)
    result = train(run, TINY_TRAIN.with_settings(max_steps=20, eval_every=10))
    assert result.step == 20 and result.best_val_loss < 3.0, "it trained (an untrained model scores about ln 30 = 3.4)"
    assert handed and all(isinstance(array, np.memmap) for array in handed), "every split was read through a memmap"


def test_a_source_that_changes_after_prepare_is_named_by_train(rhymes_file, runs_dir):
    run = Run(runs_dir / "changed")
    prepare(run, PrepareConfig("text", [rhymes_file], options={"split": "blank"}))
    original = rhymes_file.read_bytes()
    config = TINY_TRAIN.with_settings(max_steps=2)

    rhymes_file.write_bytes(original[:-100])
    with pytest.raises(CorpusError, match=re.escape(f"{rhymes_file} shrank from {len(original):,} to {len(original) - 100:,} bytes")):
        train(run, config)
    rhymes_file.write_bytes(original.replace(b"star", b"moon"))
    with pytest.raises(CorpusError, match=re.escape("changed since it was prepared (its SHA-256 differs); prepare run 'changed' again")):
        train(run, config)
    rhymes_file.write_bytes(original)  # the same bytes with a new modification time
    assert train(run, config).step == 2
    rhymes_file.unlink()  # the token files are all training needs
    assert train(run, config, restart=True).step == 2
