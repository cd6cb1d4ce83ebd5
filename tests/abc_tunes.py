"""Small ABC tunes in the writer's style, one voice and four, for runs made in the tests."""

SOPRANO = [
    """X:1
T:First
C:Test
M:4/4
L:1/4
V:1 name="Soprano" clef=treble
K:G
[V:1] D | G A B c | d2 Hd B |: c B A G | A3 :| d | B G A F | HG3 |]
""",
    """X:1
T:Second
C:Test
M:3/4
L:1/4
V:1 name="Soprano" clef=treble
K:Dm
[V:1] A | d e f | e2 d | ^c2 d | HA2 A |
[V:1] B A G | F E/F/ G | A2- A/G/ | HF2 |]
""",
    """X:1
T:Third
C:Test
M:6/8
L:1/8
Q:1/4=80
V:1 name="Soprano" clef=treble
K:F
[V:1] c | f3 e2 d | c3 A2 c | B2 G A2 F | HG3 z2 c |
[V:1] [M:3/4] d2 c2 B2 | A4 G2 | [M:6/8] F3 [Ac]2 A | HF5 |]
""",
    """X:1
T:Fourth
C:Test
M:4/4
L:1/4
V:1 name="Soprano" clef=treble
K:Bb
[V:1] F G A B | c2 !trill!B A | G F/E/ D E | HF4 |
[V:1] d c B A | G3/2A/ B G | F =E F2 | HB,4 |]
""",
    """X:1
T:Fifth
C:Test
M:3/2
L:1/4
V:1 name="Soprano" clef=treble
K:A
[V:1] c2 B A B c | d3 c B2 | A2 ^G F E2 | HA6 |
[V:1] e2 f e d c | B2 c d e2 | c B A B c2 | HA6 |]
""",
    """X:1
T:Sixth
C:Test
M:4/4
L:1/8
V:1 name="Soprano" clef=treble
K:Em
[V:1] B2 | e2 f2 g2 f2 | e4 d2 B2 | c2 B2 A2 G2 | HF6 B2 |
[V:1] A2 G2 F2 E2 | ^D4 E2 F2 | G2 F2 E2 ^D2 | HE6 |]
""",
]

FOUR_VOICES = [
    """X:1
T:Chorale one
C:Test
M:4/4
L:1/4
V:1 name="Soprano" clef=treble
V:2 name="Alto" clef=treble
V:3 name="Tenor" clef=treble-8 octave=-1 middle=B,
V:4 name="Bass" clef=bass
K:C
[V:1] G | c B A G | A2 G2 | e d c B | Hc3 |]
[V:2] E | E D C E | F2 E2 | G F E D | HE3 |]
[V:3] c | G G A B | c2 c2 | c B A G | HG3 |]
[V:4] C, | C, G,, A,, E,, | F,,2 C,2 | C, D, E, G,, | HC,3 |]
""",
    """X:1
T:Chorale two
C:Test
M:3/4
L:1/4
V:1 name="Soprano" clef=treble
V:2 name="Alto" clef=treble
V:3 name="Tenor" clef=treble-8 octave=-1 middle=B,
V:4 name="Bass" clef=bass
K:G
[V:1] B A G | A2 B | c B A | HG3 |
[V:2] G F E | F2 G | A G F | HD3 |
[V:3] [K:D] d d c | d2 d | e d c | HB3 |
[V:4] G, D, E, | D,2 G, | C, D, D, | HG,,3 |
[V:1] d c B | A G A | B A2 | HG3 |]
[V:2] G A G | F E F | G F2 | HD3 |]
[V:3] B e d | d B d | d d c | HB3 |]
[V:4] G, A, G, | D, E, D, | G,, D,2 | HG,,3 |]
""",
    """X:1
T:Chorale three
C:Test
M:4/4
L:1/4
V:1 name="Soprano" clef=treble
V:2 name="Alto" clef=treble
V:3 name="Tenor" clef=treble-8 octave=-1 middle=B,
V:4 name="Bass" clef=bass
K:Dm
[V:1] A | d e f e | d2 ^c2 | d A B G | HA3 :|
[V:2] F | F G A A | A2 A2 | A F G E | HE3 :|
[V:3] d | A c d ^c | d2 e2 | f d d B | H^c3 :|
[V:4] D, | D, C, D, A,, | B,,2 A,,2 | D, D, G,, G,, | HA,,3 :|
[V:1] z | f e d2 | c B A2 | G F E2 | HD4 |]
[V:2] z | A G F2 | E D ^C2 | D D ^C2 | HA,4 |]
[V:3] z | d c B2 | A G E2 | B A A2 | HF4 |]
[V:4] z | D, E, F,2 | F, G, A,2 | B, A, A,,2 | HD,4 |]
""",
    """X:1
T:Chorale four
C:Test
M:4/4
L:1/4
V:1 name="Soprano" clef=treble
V:2 name="Alto" clef=treble
V:3 name="Tenor" clef=treble-8 octave=-1 middle=B,
V:4 name="Bass" clef=bass
K:D
[V:1] A | d c B A || [M:3/4] B2 A | HA3 || [M:4/4] d2 c2 | Hd4 |]
[V:2] F | F A G F || [M:3/4] G2 F | HE3 || [M:4/4] F2 E2 | HF4 |]
[V:3] d | a a d d || [M:3/4] d2 d | H^c3 || [M:4/4] a2 a2 | Ha4 |]
[V:4] D, | D, F, G, D, || [M:3/4] G,,2 A,, | HA,,3 || [M:4/4] A,,2 A,,2 | HD,4 |]
""",
]

# Folk tunes as the folk collections write them: broken rhythm, triplets, slurs, grace notes, a line
# continued with `\`, lines that start `|:` or a space, lines that break inside a bar, and tunes that
# end `:|`, `||` or with no barline rather than `|]`.
FOLK = [
    """X:1
T:Test Jig
R:jig
M:6/8
L:1/8
K:D
|:A|dfa afd|(3efg f cBA|dfa agf|e2c d2:|
|:f|{a}gfg ecA|(3Bcd e dcB|\\
dfa agf|e2c d2:|
d6|]
""",
    """X:2
T:Test Reel
R:reel
M:C|
L:1/8
K:G
(3DEF|G>AB>c d>Bg>d|(ef)g>e d2 (3BcA|
 G>AB>c d>Bg>d|e>cA>F G2 z2:|
""",
    """X:3
T:Test Lied
M:3/4
L:1/8
K:F
C2 | F2 F2 A2 | c4 A2 | G2
 E2 C2 | F6 ||
""",
    """X:4
T:Test Song
M:2/4
L:1/8
K:G
D2 | G2 A2 | B4 | A2
 G2 | F2 D2 | G4
""",
]
