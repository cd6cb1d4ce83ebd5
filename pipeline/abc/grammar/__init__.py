"""The ABC constraint: a character grammar under which every sampled tune is complete and passes the checker.

It reads ABC as the checker does (the token kinds of `tokens.py`, the field values of `fields.py`, the
bar rules of `bars.py`) and writes only what a run's training tunes use (`profile.py`): their header
fields in their order and with their values, their note and rest lengths, barlines, decorations and
inline fields, one voice per `[V:id] ` line in blocks of bars aligned across the voices.

Time is exact: a note whose length would overrun the bar is refused, a barline comes only where the bar's
duration is one the checker accepts (a whole bar, a pickup, the short bar that completes a pickup at a
repeat, a short last bar), and every voice after the first writes, bar for bar, the durations, barlines
and meter changes the first voice wrote in the block. `cost` is the length of the shortest completion
(rests to fill the bar, the barlines, the other voices' bars, `|]`), which is how the sampler makes a
tune finish before `--max-length`; where a later bar could be cut short to complete a pickup at a
section's end, it counts that bar whole, so it may be a few characters more than the shortest, never
less than one the constraint can write.

Where the profile records the form of the corpus' tunes, a tune has no fewer bars than all but the shortest
twentieth of them (their 5th percentile) and no more than the longest, and writes `||` and bars of rests no
more often than the one with the most; a short bar closes with `||`, `|:`, `::` or `:|` only where one in
twenty of them closes a short bar with that sign; with `--option final=corpus` its first voice ends on a scale
degree they end on, until their median length (past it, on any note). With `--option crossing=no`, in a
tune of several voices, a voice starts a note only at or below the note the voice written before it sounds at
that moment (its `octave=` counted; a rest, a chord or a tie's continuation sets no bound); the cost then counts
the bars of every voice after the first in rests (a note may need octave marks, or give way to a rest, under the voice
above; a rest never does), so it may be well above the shortest completion, never below one the constraint can write
(where the corpus' rest lengths cannot fill a bar, it counts notes, and may be low). With `--option
harmony=chords`, in a tune of several voices, a note of a voice after the first that sounds on a quarter-note beat
(beats counted as `pipeline/abc/harmony.py` counts them, from the end of the first voice's first bar) makes, with the
pitch classes the voices written before it sound on that beat, one of harmony.py's FITTING sets (a triad or seventh
chord, or part of one); notes between beats, a tie's continuation, chords and rests are free, and so is a beat whose
earlier voices already fit no chord. `harmony=strict` adds: no parallel fifth or octave (harmony.py's `is_parallel`,
from the beat before, across barlines and lines) with any voice written before it. With either, where the profile
records them, the last voice ends on a degree one in twenty of the training tunes' last voices end on after a first
voice ending on the same degree (else on one they end on at all); its last note, so placed, need only make a chord, and
not even that where no such degree would. A rest is always allowed where a note would break these rules; until
the last voice's last note is on its degree, the cost adds what that note may need beyond a rest's one character (an
accidental and octave marks), so that a tune cut short by `--max-length` still reaches its `|]`. With crossing=no too,
that note must also start at or under the note the voice above sounds then: the cost counts the last voice's last bar
as rests and then such a note lasting to the bar's end (`ending`), and calls impossible a state that leaves none room,
from the voice above's notes in that bar (its last note too low for any such degree under it) and through the last
voice's last line, and from the first voice's `|]` (its `|` where only `|]` may close the bar: at `--option bars=N` or
the corpus' most bars): where a one-bar last line starts with a tie's note held from the line before (a longer way,
notes before that note or a tie into it within the line, is not counted) and, in a tune of two voices, where the first
voice's own last bar is the voice above's; there, where only `|]` may close that bar, from the note too low (its
shortest length counted, the rest of the bar as rests, ending there, at a whole bar, or where it completes a pickup or
a short bar).

What it writes, abc2midi plays without an error or a bar of the wrong length (the "second opinion" of the
tests): a tie joins two notes of one pitch as abc2midi hears them (it holds a bar's accidental in every
octave), never round a repeat, and goes on in its voice's next line; bars are counted as abc2midi counts them
(`count`: it carries a short bar closed by `||`, `|:`, `:|` or `::` into the next, which must then complete it,
and follows the repeats), so none draws a warning on its first pass; a second repeated section opens with `|:`; no
meter change inside a repeated section; a key change holds for its voice only; a one-character decoration
comes straight before its note; no roll or trill on a chord, a rest or a tied note; two groups of grace notes
have a note between them; a broken rhythm joins notes written equally long; no tune is called a hornpipe
(abc2midi refuses one outside 2/4 and 4/4, and swings its eighths, which a broken rhythm off the beat breaks).

The folk idioms (tuplets, broken rhythm, slurs, grace notes, lines broken inside a bar or continued with
a backslash, tunes ending `|` or `:|`) come in only where the run's profile shows the corpus uses them.

The package, each module importing only those listed before it:

1. `symbols`: the header phases, the lexer's positions, the character sets;
2. `words`: `Words`, a set of strings looked up by prefix;
3. `lengths`: tuplet signs, and the fewest characters of notes and rests for a duration;
4. `count`: abc2midi's count of the bars, what it carries from one bar to the next;
5. `state`: `AbcState` and what it holds (`Frame`, `Target`, `Block`);
6. `pitch`: a note's pitch from its text, the key signature and the bar's accidentals;
7. `compiled`: `CompiledGrammar`, made once from the run's profile and the sample options, with the `Form`
   the corpus' tunes keep (their bar range, final degrees, most `||` and bars of rests);
8. `cache`: `Memo`, every memo table the constraint fills;
9. `measure`: bars and lengths in ticks, memoised;
10. `voicing`: the harmony rules: where the beats fall, what the voices before sound there, the last voice's ending;
11. `ending`: with crossing=no and harmony=, where the last voice's last note can go under the voice above;
12. `keys`: the cache key of a state;
13. `bars`: where a bar may close, and what a line's end starts;
14. `header`: the header automaton and its cost;
15. `lexer`: the body's characters;
16. `cost`: the body's shortest completion;
17. `constraint`: `AbcConstraint`, the `Constraint` the ABC corpora give.
"""
