"""Mutated ABC tunes for fuzzing the checker, and a long run to look for crashes.

The tests run a few hundred mutants (tests/test_abc_fuzz.py); a long run looks for more:
    python -m charmony.tests.abc_fuzz --seconds 600
It prints each input that raises, with its traceback, and exits 1 when one did.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator

from charmony.tests.abc_tunes import FOLK, FOUR_VOICES, SOPRANO

SEEDS = [*SOPRANO, *FOUR_VOICES, *FOLK]
# ABC tokens, well and badly formed, that a mutation inserts.
TOKENS = (
    "|", "||", "|]", "[|", "|:", ":|", "::", ":|:", "[1", "[2", "|1", ":|2", "[1,3", "[1-2", "[1-2-3", "|1-2-3",
    ":|1-2-3", "[1,2-3-4", "[0", "[99999999999", "(3", "(3:2", "(3:2:4", "(3::", "(0", "(9999999999", "(", ")",
    "{", "{/", "}", "[", "]", "]2", "&", "&&", "!trill!", "!", "!nonsense!", "+fermata+", "+", '"', '"Am"', '"^text"',
    "[K:", "[K:D]", "[K:C#m]", "[M:3/4]", "[M:0/4]", "[M:99999/4]", "[L:1/8]", "[L:0]", "[Q:1/4=120]", "[V:2]",
    "[V:]", "Z", "Z4", "Z0", "X99999999999", "z", "z/", "z0", "x2", "/", "//", "///", "3/", "/0", "0", "99999999999",
    ">", ">>>", "<", "-", "^", "^^", "_", "__", "=", ",", ",,,,,,,,,,", "'", "''''''''", "%", "\\", "\n", "\n\n",
    "X:", "X:2\n", "K:", "K:G\n", "M:", "M:6/8\n", "L:1/16\n", "Q:", "V:1\n", "V:2 clef=bass\n", "U:W=!trill!\n",
    "T:Title\n", "%%score 1 2\n", "w:la la\n", "P:A\n", "y", "`", "$", "#", "@", "\u00e9", "\u0663", "\t", " ",
)
MUSIC_TOKEN = re.compile(r"\[[A-Za-z]:[^\]\n]*\]|![^!\n]*!|\"[^\"\n]*\"|\(\d(?::\d*){0,2}|[_^=]*[A-Ga-gzZxX][,']*\d*/*\d*|.", re.S)


def mutate(text: str, draw: random.Random) -> str:
    """`text` changed in one place: a character or an ABC token deleted, inserted, duplicated or swapped."""
    kind = draw.randrange(8)
    if not text:
        return draw.choice(TOKENS)
    at = draw.randrange(len(text) + 1)
    if kind == 0:  # delete a character
        return text[:at] + text[at + 1:]
    if kind == 1:  # insert a character
        return text[:at] + draw.choice(text + "|:[]{}()&!\"/,'^_=<>-0123456789\n") + text[at:]
    if kind == 2:  # insert a token
        return text[:at] + draw.choice(TOKENS) + text[at:]
    if kind == 3:  # swap two neighbouring characters
        return text[:at] + text[at + 1:at + 2] + text[at:at + 1] + text[at + 2:] if at + 1 < len(text) else text
    tokens = [match.group() for match in MUSIC_TOKEN.finditer(text)]
    index = draw.randrange(len(tokens))
    if kind == 4:  # delete a token
        del tokens[index]
    elif kind == 5:  # duplicate a token, up to 40 times
        tokens[index:index] = [tokens[index]] * draw.randint(1, 40)
    elif kind == 6:  # swap two tokens
        other = draw.randrange(len(tokens))
        tokens[index], tokens[other] = tokens[other], tokens[index]
    else:  # duplicate or drop a line
        lines = text.split("\n")
        line = draw.randrange(len(lines))
        if draw.random() < 0.5:
            lines.insert(line, lines[line])
        else:
            del lines[line]
        return "\n".join(lines)
    return "".join(tokens)


def mutants(seed: int) -> Iterator[str]:
    """An endless stream of tunes, each a seed tune (or two run together) with one to six mutations."""
    draw = random.Random(seed)
    while True:
        text = draw.choice(SEEDS)
        if draw.random() < 0.1:
            text += draw.choice(["", "\n"]) + draw.choice(SEEDS)
        for _ in range(draw.randint(1, 6)):
            text = mutate(text, draw)
        yield text


def check_everything(text: str) -> None:
    """Run the checker, the parser, the features and the normaliser on `text`; each must not raise."""
    from charmony.pipeline.abc.check import check_abc
    from charmony.pipeline.abc.collection import split_tunes
    from charmony.pipeline.abc.features import tune_features
    from charmony.pipeline.abc.normalise import normalise_tune
    from charmony.pipeline.abc.parser import parse_tune

    check_abc(text)
    for piece in split_tunes(text):
        tune_features(parse_tune(piece.text, piece.line))
        normalised = normalise_tune(piece.text)
        if normalised is not None:
            check_abc(normalised)


def find_crashes(seconds: float, seed: int, test: Callable[[str], None] = check_everything) -> int:
    """Test mutants for `seconds`; print each that raises. Returns how many raised."""
    crashes = tested = 0
    end = time.monotonic() + seconds
    for text in mutants(seed):
        if time.monotonic() > end:
            break
        tested += 1
        try:
            test(text)
        except Exception:  # the point: anything at all that escapes
            crashes += 1
            print(f"--- input {tested}: {text!r}\n{traceback.format_exc()}", flush=True)
    print(f"{tested} inputs, {crashes} raised", flush=True)
    return crashes


def main() -> None:
    """Fuzz the checker for a while."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    sys.exit(1 if find_crashes(arguments.seconds, arguments.seed) else 0)


if __name__ == "__main__":
    main()
