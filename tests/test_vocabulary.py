from collections import Counter

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from charmony.pipeline.run.vocabulary import EOD, UNK, Vocabulary


@given(st.text(min_size=1))
def test_encode_decode_round_trips(text):
    vocab = Vocabulary.from_counts(Counter(text))
    assert vocab.decode(vocab.encode(text)) == text


@given(st.text(min_size=1))
def test_json_round_trip_keeps_ids_and_hash(tmp_path_factory, text):
    vocab = Vocabulary.from_counts(Counter(text), max_tokens=3)
    path = tmp_path_factory.mktemp("vocab") / "vocab.json"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded.tokens == vocab.tokens
    assert loaded.sha256 == vocab.sha256
    assert loaded.encode(text) == vocab.encode(text)


def test_ids_follow_frequency_with_reserved_end_of_document():
    vocab = Vocabulary.from_counts(Counter("aaabbc"))
    assert vocab.tokens == [EOD, "a", "b", "c"]
    assert vocab.eod_id == 0 and vocab.unk_id is None


def test_max_vocab_keeps_most_frequent_and_maps_the_rest_to_unk():
    vocab = Vocabulary.from_counts(Counter("aaaabbbccd"), max_tokens=2)
    assert vocab.tokens == [EOD, UNK, "a", "b"]
    assert vocab.decode(vocab.encode("abcd")) == "ab" + UNK * 2
    assert list(vocab.token_lengths()) == [1, 1, 1, 1], "<unk> stands for one character"
    assert Vocabulary.from_counts(Counter("aabbc"), max_tokens=3).tokens == [EOD, "a", "b", "c"]


def test_dtype_is_the_smallest_that_fits():
    small = Vocabulary.from_counts(Counter({chr(0x4E00 + i): 1 for i in range(255)}))
    large = Vocabulary.from_counts(Counter({chr(0x4E00 + i): 1 for i in range(256)}))
    assert (len(small), small.dtype) == (256, np.uint8)
    assert (len(large), large.dtype) == (257, np.uint16)


def test_multi_character_tokens_count_their_characters():
    vocab = Vocabulary.from_counts(Counter(["^c'", "|:", "a"]))
    lengths = dict(zip(vocab.tokens, vocab.token_lengths()))
    assert lengths == {EOD: 1, "^c'": 3, "a": 1, "|:": 2}
    assert vocab.decode(vocab.encode(["|:", "^c'", "a"])) == "|:^c'a"
