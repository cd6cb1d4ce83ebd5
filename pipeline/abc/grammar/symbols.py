"""The ABC grammar's constants: the header phases, the body lexer's positions and the character sets they read."""

from __future__ import annotations

from charmony.pipeline.plugin.constraint import UNREACHABLE

INF = UNREACHABLE
LENGTH_CHARS = frozenset("0123456789/")
# Characters the tokenizer would take into a barline just written (`|:`, `|]`, `|1`...): none may start the next token.
AFTER_BARLINE = frozenset(":|]0123456789")
NOTE_LETTERS = frozenset("ABCDEFGabcdefg")
ACCIDENTAL_STARTS = frozenset("^_=")
STANDARD_ORDER = "XTCRMLQVK"
MOST_DECORATIONS = 2
MOST_CHORD_NOTES = 4
MOST_GRACE_NOTES = 4
TEXT_MARGIN = 16  # free-text header values may be this much longer than the corpus' longest
BROKEN = frozenset("<>")  # broken rhythms it writes: one sign, between two notes or chords

# Header phases, then the positions of the body's lexer.
H_LETTER, H_COLON, H_VALUE, BODY, END = range(5)
ITEM, ACC, OCT, LEN, BAR, BRACKET, FIELD, CHORD, C_ACC, C_OCT, DECO, DONE, PAREN, TUPLE, CONT, GRACE, G_ACC, G_OCT = range(18)
EMPTY_BARLINES = frozenset(["|:", "||", "|"])  # may open a line with no music before them (after a line that ended `:|`)
EVENT_TAIL = LENGTH_CHARS | frozenset(",'") | BROKEN  # characters that may still belong to a note being written
ONE = (1, 1)  # a length factor as (numerator, denominator): plain ints hash fast, and keys are hashed a lot
