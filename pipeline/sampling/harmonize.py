"""The `harmonize` stage: four-part harmonisations of a melody, the soprano given and the lower voices sampled.

A harmonisation is written as the four-voice chorales are (`abc/four_parts.py`): the header, then per line
the soprano's bars (`[V:1] ...`), then the alto's, tenor's and bass's lines for the same bars. Each sample
of the batch goes through the same plan of segments at its own pace: a forced segment (the header, a soprano
line, the `[V:2] ` prefix) is fed to the model and the grammar a token a step; a sampled segment (a lower
voice's bars) is drawn under the grammar until its line ends, which the grammar allows only where the
soprano's line ended, so the voices stay aligned bar by bar. A run whose tunes were all moved to the tonic C
(bach's transpose=tonic) harmonises the melody moved there, and its harmonisations are moved back to the melody's key.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from charmony.pipeline.abc.layout import WRITER_LAYOUT
from charmony.pipeline.abc.four_parts import LOWER_PREFIXES, Melody, check_known, four_part_header, read_melody, soprano_lines
from charmony.pipeline.abc.tonic import key_sharps, moved, shift_to_c
from charmony.pipeline.model.charmodel import CharModel
from charmony.pipeline.plugin.corpus import CorpusPlugin, SampleInfo, check_options
from charmony.pipeline.plugin.manager import corpus_call, get_outputs
from charmony.pipeline.run.config import GREEDY_BELOW, HarmonizeConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.manifest import get_run_corpus, run_checks
from charmony.pipeline.run.vocabulary import Vocabulary
from charmony.pipeline.sampling.constrained import ConstrainedBatch
from charmony.pipeline.sampling.sample import Sample, filter_logits, load_model, run_constraint
from charmony.pipeline.sampling.stage import draw_to_folder
from charmony.pipeline.system.device import autocast, resolve_device
from charmony.pipeline.system.errors import CharmonyError, ConfigError
from charmony.pipeline.system.sources import read_text
from charmony.pipeline.system.threads import use_threads

REFUSED = "the run's grammar cannot take this melody"


@dataclass(frozen=True)
class Segment:
    """A stretch of a harmonisation: tokens every sample takes, or (`drawn`) a line each sample draws."""

    tokens: tuple[int, ...]  # empty for a drawn line
    label: str  # what it is, for an error: "the header", "soprano line 3"...
    drawn: bool = False


def plan(melody: Melody, layout: str, header: str, encode, eod_id: int) -> list[Segment]:
    """The segments of a harmonisation of `melody` in the run's `layout`: header and soprano lines forced, the lower
    voices' lines drawn."""
    segments = []
    for number, line in enumerate(soprano_lines(melody, layout), start=1):
        label = f"soprano line {number}"
        if number == 1:  # the prefix every sample starts from
            segments.append(Segment(encode(header + line + LOWER_PREFIXES[0]), f"the header or {label}"))
        else:
            segments.append(Segment(encode(line + LOWER_PREFIXES[0]), label))
        for prefix in LOWER_PREFIXES[1:]:
            segments += [Segment((), "a lower voice", drawn=True), Segment(encode(prefix), label)]
        segments.append(Segment((), "the bass", drawn=True))
    segments.append(Segment((eod_id,), "the end of the tune"))
    return segments


def run_melody(run: Run, corpus: CorpusPlugin, path: Path) -> tuple[Melody, int, int | None]:
    """The melody of `path` in the run's keys, the semitones it was moved by to get there (to the tonic C when the
    run's tunes were all moved there, as bach's transpose=tonic, else none), and its own key signature's sharps, to
    spell its harmonisations in when they are moved back."""
    text = read_text(path)
    melody = read_melody(text, path.name)
    with corpus_call(corpus, "to say whether its tunes were moved to C"):
        to_c = corpus.moves_to_c(run.manifest().options)
    shift = shift_to_c(text) if to_c else 0
    if shift == 0:
        return melody, 0, None
    try:
        moved_text = moved(text, shift, melody.unit)
    except CharmonyError as error:
        raise ConfigError(f"{path.name} cannot be moved to C, where the run's tunes are: {error}") from None
    return read_melody(moved_text, path.name), shift, key_sharps(text)


def melody_plan(run: Run, corpus: CorpusPlugin, vocab: Vocabulary, melody: Melody) -> list[Segment]:
    """The plan of a harmonisation of `melody`, or a one-line ConfigError when the run cannot harmonise it."""
    profile = (run.profile() or {}).get("abc")
    if not profile or not any(sequence.count("V") == 4 for sequence in profile["header"]["sequences"]):
        raise ConfigError(f"run {run.name!r} has no four-part tunes to harmonise with; "
                          "prepare one with `charmony prepare bach --option voices=all`")
    check_known(melody, profile)

    def encode(text: str) -> tuple[int, ...]:
        with corpus_call(corpus, "to tokenize the melody"):
            tokens = list(corpus.tokenize(text))
        unknown = vocab.unknown(tokens)
        if unknown:
            raise ConfigError(f"{REFUSED}: it holds characters the run never saw: {', '.join(repr(t) for t in unknown)}")
        return tuple(vocab.encode(tokens))

    layout = run.manifest().layout or WRITER_LAYOUT
    return plan(melody, layout, four_part_header(melody, profile), encode, vocab.eod_id)


def last_line(text: str) -> str:
    """The last line of a forced text so far, at most 40 characters of it: where the grammar refused it."""
    return text.rstrip("\n").rsplit("\n", 1)[-1][-40:]


class Harmonizer:
    """A batch of harmonisations going through one plan, each sample at its own segment and offset."""

    def __init__(self, segments: Sequence[Segment], constrained: ConstrainedBatch, newline_id: int, eod_id: int):
        self.segments = segments
        self.constrained = constrained
        self.newline_id = newline_id
        self.eod_id = eod_id
        count = len(constrained.states)
        self.segment = [1] * count  # the first segment is the prefix, fed before the first step
        self.offset = [0] * count
        self.done = [False] * count
        self.complete = [False] * count  # ended with the plan, not at a dead end or the length limit

    def step(self, step: int, logits: torch.Tensor, temperature: float, banned: torch.Tensor,
             generator: torch.Generator) -> list[int]:
        """Each sample's next token: its forced one, or one drawn from `logits` under the grammar (<eod> once done)."""
        chosen = [self.eod_id] * len(self.done)
        drawing = [i for i, done in enumerate(self.done) if not done and self.segments[self.segment[i]].drawn]
        if drawing:
            greedy = temperature < GREEDY_BELOW
            rows = logits[drawing].float()
            rows = (rows if greedy else filter_logits(rows, temperature, None, None)).index_fill(1, banned, float("-inf"))
            drawn = self.constrained.draw(step, rows, greedy, generator, drawing).tolist()
            self.constrained.advance(drawn, drawing)
            for sample, token in zip(drawing, drawn):
                chosen[sample] = token
                if token == self.eod_id:
                    self.done[sample] = True  # a dead end of the grammar: the sample stops unfinished
                elif token == self.newline_id:
                    self.segment[sample] += 1
        for sample in range(len(self.done)):
            if not self.done[sample] and sample not in drawing:
                chosen[sample] = self._forced(sample)
        return chosen

    def _forced(self, sample: int) -> int:
        segment = self.segments[self.segment[sample]]
        token = segment.tokens[self.offset[sample]]
        if token == self.eod_id:
            if not self.constrained.constraint.complete(self.constrained.states[sample]):
                raise ConfigError(f"{REFUSED}: its last bar cannot end a tune of the run")
            self.done[sample] = self.complete[sample] = True
            return token
        if not self.constrained.force(sample, token):
            written = "".join(self.constrained.tokens[t] for t in segment.tokens[:self.offset[sample] + 1])
            raise ConfigError(f"{REFUSED}: {segment.label} is refused at the end of {last_line(written)!r}")
        self.offset[sample] += 1
        if self.offset[sample] == len(segment.tokens):
            self.segment[sample] += 1
            self.offset[sample] = 0
        return token


def constraint_of(run: Run, corpus: CorpusPlugin, vocab: Vocabulary, options: dict[str, str]):
    """The corpus' grammar constraint for this run and sample options, or a ConfigError when it has none."""
    check_options(corpus, options, sample=True)
    constraint = run_constraint(run, corpus, vocab, options)
    if constraint is None:
        raise ConfigError(f"run {run.name!r} has no grammar constraint, which harmonising needs; prepare it again")
    return constraint


def start_state(constraint, segment: Segment, tokens: Sequence[str]):
    """The grammar's state after the first segment (the header and first soprano line), or the one-line error."""
    state = constraint.start()
    for end, token in enumerate(segment.tokens, start=1):
        state = constraint.feed(state, tokens[token])
        if state is None:
            written = "".join(tokens[t] for t in segment.tokens[:end])
            raise ConfigError(f"{REFUSED}: {segment.label} is refused at the end of {last_line(written)!r}")
    return state


@torch.no_grad()
def draw_harmonizations(model: CharModel, segments: list[Segment], constrained: ConstrainedBatch, vocab: Vocabulary,
                        config: HarmonizeConfig, generator: torch.Generator, device: torch.device) -> tuple[list[list[int]], list[bool]]:
    """Each sample's tokens after the first <eod> (the harmonisation, its own <eod> left out), and whether it ended."""
    model.eval()
    first = list(segments[0].tokens)
    count = config.num_samples
    with autocast(device):
        logits, state = model(torch.tensor([[vocab.eod_id, *first]] * count, device=device))
    harmonizer = Harmonizer(segments, constrained, vocab.index["\n"], vocab.eod_id)
    banned = torch.tensor([vocab.unk_id] if vocab.unk_id is not None else [], dtype=torch.long, device=device)
    written: list[list[int]] = [list(first) for _ in range(count)]
    for step in range(config.max_length - len(first)):
        chosen = harmonizer.step(step, logits[:, -1], config.temperature, banned, generator)
        for sample, token in enumerate(chosen):
            if token != vocab.eod_id:
                written[sample].append(token)
        if all(harmonizer.done):
            break
        with autocast(device):
            logits, state = model(torch.tensor(chosen, device=device)[:, None], state)
    return written, harmonizer.complete


def harmonize(run: Run, config: HarmonizeConfig) -> tuple[list[Sample], dict]:
    """Draw `num_samples` harmonisations of the melody in one batch; return them and the metadata for samples.json."""
    manifest = run.manifest()
    vocab = run.vocabulary()
    corpus = get_run_corpus(manifest)
    outputs = list(dict.fromkeys([*run_checks(manifest), *config.render]))
    get_outputs(outputs)  # unknown names fail before any work
    melody, shift, home_sharps = run_melody(run, corpus, config.melody)
    segments = melody_plan(run, corpus, vocab, melody)
    if len(segments[0].tokens) >= config.max_length:
        raise ConfigError(f"--max-length {config.max_length} is shorter than the melody's header and first line")
    constraint = constraint_of(run, corpus, vocab, config.options)
    state = start_state(constraint, segments[0], vocab.tokens)
    device = resolve_device(config.device)
    if device.type == "cpu":
        use_threads(config.threads)
    constrained = ConstrainedBatch(constraint, vocab.tokens, vocab.eod_id, config.num_samples, config.max_length,
                                   state, device)
    model, checkpoint, path = load_model(run, config.checkpoint, device)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    generator = torch.Generator(device=device).manual_seed(seed)
    written, complete = draw_harmonizations(model, segments, constrained, vocab, config, generator, device)
    samples, left_in_c = [], []
    for number, (ids, ended) in enumerate(zip(written, complete), start=1):
        raw = vocab.decode(ids)
        with corpus_call(corpus, f"to finish harmonisation {number}"):
            text = corpus.finish(raw, SampleInfo(number=number, run=run.name, step=checkpoint.step, seed=seed,
                                                   layout=manifest.layout))
        if shift and not ended:  # cut off: the writer would pad its voices and close it, so it is kept as drawn, in C
            left_in_c.append(number)
        elif shift:
            try:
                text = moved(text, -shift, melody.unit, home_sharps)
            except CharmonyError:  # one the writer cannot read: kept as drawn, in C
                left_in_c.append(number)
        samples.append(Sample(text, finished=ended, raw=raw if raw != text else None))
    metadata = {
        "run": run.name, "corpus": manifest.corpus, "checkpoint": str(path), "step": checkpoint.step, "seed": seed,
        "temperature": config.temperature, "max_length": config.max_length, "mode": "harmonized",
        "melody": str(config.melody), "melody_title": melody.title, "outputs": outputs,
    }
    if config.options:
        metadata["options"] = dict(config.options)
    if shift:
        metadata["moved_by"] = shift  # semitones the melody was moved to the run's tonic C, and the harmonisations back
        if left_in_c:
            metadata["left_in_c"] = left_in_c
    if constrained.dead_ends:
        metadata["constraint_dead_ends"] = constrained.dead_ends
    return samples, metadata


def harmonize_to_folder(run: Run, config: HarmonizeConfig, out_dir: Path | None = None) -> tuple[list[Sample], dict, Path]:
    """Draw harmonisations and write them as a sample set (samples.json and all) into `out_dir` or a new folder
    under the run, as `sample` writes samples; scored against the run with `config.evaluate`."""
    return draw_to_folder(run, "harmonize", lambda: harmonize(run, config), config.evaluate, out_dir)
