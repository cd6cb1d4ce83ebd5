"""The pieces that let `prepare` stream: a JSON list decoded an item at a time, words cut where tokens end."""

from __future__ import annotations

import json
import random

import pytest

from charmony.corpora.words import token_parts, tokenize_words
from charmony.pipeline.system.json_list import NotAJsonList, json_list_items


def in_pieces(text: str, size: int):
    return iter([text[start:start + size] for start in range(0, len(text), size)])


@pytest.mark.parametrize("text", [
    "[]", " [ ]\n", "[1,2,3]", "[1, 23 ,456]\n", '[{"a": [1, 2, {"b": "x]y,"}]}, "s\\"", null, true, 1e5, -0.5]',
    '["\\u00e9", "é"]', "[NaN, Infinity]",
])
@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_a_json_list_in_pieces_gives_the_items_json_loads_gives(text, size):
    assert json.dumps(list(json_list_items(in_pieces(text, size)))) == json.dumps(json.loads(text))


@pytest.mark.parametrize("text", ["[1,]", "[1 2]", "[1]x", '{"a": 1}', "", "[", "[1] [2]", "1"])
@pytest.mark.parametrize("size", [1, 2, 100])
def test_text_that_is_not_one_json_list_is_refused(text, size):
    with pytest.raises(NotAJsonList):
        list(json_list_items(in_pieces(text, size)))


def test_a_number_cut_by_a_piece_is_read_whole():
    assert list(json_list_items(iter(["[12", "34, 5", "6]"]))) == [1234, 56]
    assert list(json_list_items(iter(["[1e", "5, tr", "ue]"]))) == [1e5, True]


def test_words_cut_where_tokens_end_give_the_tokens_of_the_whole_text():
    rng = random.Random(0)
    words = ["a", "bb", " ", "  ", "\n", "\t", " \n", "ccc", "Σ"]
    for _ in range(2000):
        text = "".join(rng.choice(words) for _ in range(rng.randint(0, 60)))
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(0, 5))))
        pieces = [text[start:end] for start, end in zip([0, *cuts], [*cuts, len(text)])]
        parts = list(token_parts([(piece, number < len(pieces) - 1) for number, piece in enumerate(pieces)], rng.randint(1, 8)))
        assert "".join(part for part, _ in parts) == text
        assert [continues for _, continues in parts] == [True] * (len(parts) - 1) + [False]
        assert [token for part, _ in parts for token in tokenize_words(part)] == tokenize_words(text), (text, parts)


def test_one_long_line_of_words_comes_in_bounded_parts():
    line = "word " * 100_000
    parts = list(token_parts([(line[:250_000], True), (line[250_000:], False)], size=10_000))
    assert max(len(part) for part, _ in parts) <= 10_000 and "".join(part for part, _ in parts) == line
