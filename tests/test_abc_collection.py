from charmony.pipeline.abc.collection import split_tunes

COLLECTION = """%abc-2.1
% a file header

X:1
T:One
K:C
CDEF|

X:2
T:Two
K:G
GABc|
"""


def test_split_tunes_gives_each_tune_with_its_line():
    tunes = split_tunes(COLLECTION)
    assert [t.line for t in tunes] == [4, 9]
    assert tunes[0].text == "X:1\nT:One\nK:C\nCDEF|\n"
    assert tunes[1].text.startswith("X:2\nT:Two")


def test_a_file_without_x_is_one_piece_and_an_empty_one_none():
    assert [t.text for t in split_tunes("T:No number\nK:C\nCDEF|\n")] == ["T:No number\nK:C\nCDEF|\n"]
    assert split_tunes("") == [] and split_tunes("% only a comment\n\n") == []
