"""The `sample` stage: many samples in one batch, with temperature, top-k, top-p and a prime."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from charmony.pipeline.training.checkpoint import Checkpoint
from charmony.pipeline.run.config import GREEDY_BELOW, SampleConfig
from charmony.pipeline.system.device import autocast, resolve_device
from charmony.pipeline.plugin.constraint import Constraint
from charmony.pipeline.sampling.constrained import ConstrainedBatch, primed
from charmony.pipeline.plugin.corpus import CorpusPlugin, SampleContext, SampleInfo, check_options
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.model.charmodel import CharModel
from charmony.pipeline.plugin.manager import corpus_call, get_outputs
from charmony.pipeline.run.manifest import get_run_corpus, run_checks
from charmony.pipeline.run.folder import Run
from charmony.pipeline.system.threads import use_threads
from charmony.pipeline.run.vocabulary import Vocabulary


@dataclass
class Sample:
    """One generated document."""

    text: str  # as saved: after the corpus plugin's `finish` (which may renumber, title and credit it)
    finished: bool  # ended with the end-of-document token rather than at max_length
    raw: str | None = None  # the text as the model wrote it, when `finish` changed it


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Scale by temperature and mask everything outside the top-k and the top-p nucleus with -inf."""
    logits = logits.float()
    if top_k is not None and top_k < logits.size(-1):
        # chosen before scaling, which keeps the order but can round distinct logits into ties
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, torch.topk(logits, top_k, dim=-1).indices, True)
        logits = logits.masked_fill(~keep, float("-inf"))
    logits = logits / temperature
    if top_p is not None and top_p < 1:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        # Drop a token when the more likely ones already reach top_p; the first is always kept.
        drop = probs.cumsum(dim=-1) - probs >= top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def truncates(config: SampleConfig) -> bool:
    """Whether the settings cut tokens out of the distribution (as top-k and top-p do) rather than only scale it.

    Constrained sampling draws a token first and checks it after (`ConstrainedBatch.draw`) only where nothing is
    cut; otherwise the grammar's mask comes first. An option added to `filter_logits` that cuts tokens is named here.
    """
    return config.top_k is not None or config.top_p is not None


@torch.no_grad()
def generate(
    model: CharModel,
    prefix: list[int],
    num_samples: int,
    max_length: int,
    eod_id: int,
    config: SampleConfig,
    generator: torch.Generator,
    device: torch.device,
    banned: Sequence[int] = (),
    constrained: ConstrainedBatch | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (num_samples, max_length) continuing `prefix`, and each row's length before <eod>.

    Tokens in `banned` (such as `<unk>`) are never chosen. With `constrained`, the logits of the tokens
    its grammar does not allow are masked before temperature, top-k and top-p.
    """
    model.eval()
    ids = torch.tensor([prefix] * num_samples, device=device)
    with autocast(device):
        logits, state = model(ids)
    out = torch.full((num_samples, max_length), eod_id, dtype=torch.long, device=device)
    lengths = torch.full((num_samples,), max_length, dtype=torch.long, device=device)
    banned_ids = torch.tensor(list(banned), dtype=torch.long, device=device)
    greedy = config.temperature < GREEDY_BELOW
    if constrained is not None and not truncates(config):
        return _generate_checked(model, logits, state, out, lengths, eod_id, config, greedy, generator, banned_ids,
                                 constrained)
    done = torch.zeros(num_samples, dtype=torch.bool, device=device)
    for t in range(max_length):
        last = logits[:, -1].float()
        if constrained is not None:
            last = last.masked_fill(~constrained.masks(t), float("-inf"))
        if not greedy:
            last = filter_logits(last, config.temperature, config.top_k, config.top_p)
        last = last.index_fill(1, banned_ids, float("-inf"))
        if greedy:
            chosen = last.argmax(dim=-1)
        else:
            chosen = torch.multinomial(last.softmax(dim=-1), 1, generator=generator).squeeze(1)
        chosen = chosen.masked_fill(done, eod_id)
        if constrained is not None:
            constrained.advance(chosen.tolist())
        out[:, t] = chosen
        ended = (chosen == eod_id) & ~done
        lengths = torch.where(ended, t, lengths)
        done |= ended
        if t % 32 == 31 and bool(done.all()):
            break
        with autocast(device):
            logits, state = model(chosen[:, None], state)
    return out, lengths


def _generate_checked(model: CharModel, logits: torch.Tensor, state, out: torch.Tensor, lengths: torch.Tensor, eod_id: int,
                      config: SampleConfig, greedy: bool, generator: torch.Generator, banned_ids: torch.Tensor,
                      constrained: ConstrainedBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """`generate` under a constraint without top-k or top-p: tokens drawn, then checked (see ConstrainedBatch.draw).

    A sample that ends leaves the batch, so that the model runs only on the samples still being written:
    a constrained tune cannot stop before it is complete, and a few long ones would otherwise keep the
    whole batch running. (Free sampling keeps every row, so that a seed gives the samples it always gave.)
    """
    active = torch.arange(out.size(0), device=out.device)  # the samples still being written, in batch order
    for t in range(out.size(1)):
        last = logits[:, -1].float()
        last = last if greedy else filter_logits(last, config.temperature, None, None)
        rows = active.tolist()
        chosen = constrained.draw(t, last.index_fill(1, banned_ids, float("-inf")), greedy, generator, rows)
        constrained.advance(chosen.tolist(), rows)
        out[active, t] = chosen
        ended = chosen == eod_id
        if bool(ended.any()):
            lengths[active[ended]] = t
            going = ~ended
            if not bool(going.any()):
                break
            active, chosen = active[going], chosen[going]
            state = tuple(part[:, going] for part in state)
        with autocast(out.device):
            logits, state = model(chosen[:, None], state)
    return out, lengths


def run_constraint(run: Run, corpus: CorpusPlugin, vocab: Vocabulary, options: Mapping[str, str]) -> Constraint | None:
    """The corpus' grammar constraint for this run and these sample options; None where the corpus has none."""
    context = SampleContext(list(vocab.tokens), run.profile(), dict(options), dict(run.manifest().options))
    with corpus_call(corpus, "to make its constraint"):
        return corpus.constraint(context)


def constrained_batch(run: Run, corpus: CorpusPlugin, vocab: Vocabulary, config: SampleConfig, prime: str,
                      device: torch.device) -> ConstrainedBatch | None:
    """The grammar states of a batch sampled under the corpus' constraint; None for free sampling."""
    check_options(corpus, config.options, sample=True)
    if config.free:
        if config.options:
            raise ConfigError("sample options work through the corpus' constraint; drop --free, or drop the --option")
        return None
    constraint = run_constraint(run, corpus, vocab, config.options)
    if constraint is None:
        if config.options:
            raise ConfigError(f"this run of corpus {corpus.name!r} has no constraint, so its sample options cannot apply; "
                              "prepare the run again with this version of charmony")
        return None
    tokens = prime_tokens(corpus, prime)
    return ConstrainedBatch(constraint, vocab.tokens, vocab.eod_id, config.num_samples, config.max_length,
                            primed(constraint, tokens), device)


def load_model(run: Run, which: str, device: torch.device) -> tuple[CharModel, Checkpoint, Path]:
    """The run's model from its best or latest checkpoint (or a path), on `device`."""
    path = run.checkpoint_for(which)
    checkpoint = Checkpoint.load(path)
    checkpoint.check_layout(run.manifest().layout, path)  # first: another layout has another vocabulary, as a rule
    checkpoint.check_vocabulary(run.vocabulary(), path)
    return checkpoint.build_model(path).to(device), checkpoint, path


def prime_tokens(corpus: CorpusPlugin, prime: str) -> list[str]:
    """The prime's tokens as the corpus plugin splits it."""
    if not prime:
        return []
    with corpus_call(corpus, "to tokenize --prime"):
        return list(corpus.tokenize(prime))


def prime_ids(run: Run, vocab: Vocabulary, prime: str) -> list[int]:
    """The prime's token ids, or a ConfigError naming the characters the vocabulary lacks."""
    if not prime:
        return []
    tokens = prime_tokens(get_run_corpus(run.manifest()), prime)
    unknown = vocab.unknown(tokens)
    if unknown:
        raise ConfigError(
            f"--prime holds {len(unknown)} character(s) not in the vocabulary: "
            f"{', '.join(repr(t) for t in unknown)}; use only characters from the corpus"
        )
    return vocab.encode(tokens)


def sample(run: Run, config: SampleConfig) -> tuple[list[Sample], dict]:
    """Draw `num_samples` samples in one batch; return them and the metadata for samples.json."""
    manifest = run.manifest()
    vocab = run.vocabulary()
    device = resolve_device(config.device)
    if device.type == "cpu":
        use_threads(config.threads)
    corpus = get_run_corpus(manifest)
    outputs = list(dict.fromkeys([*run_checks(manifest), *config.render]))
    get_outputs(outputs)  # unknown names fail before any work
    prime = manifest.prime if config.prime is None else config.prime
    prefix = [vocab.eod_id] + prime_ids(run, vocab, prime)  # <eod> marks the start of a new document
    constrained = constrained_batch(run, corpus, vocab, config, prime, device)  # bad options fail before the model loads
    model, checkpoint, path = load_model(run, config.checkpoint, device)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    generator = torch.Generator(device=device).manual_seed(seed)
    banned = [vocab.unk_id] if vocab.unk_id is not None else []
    out, lengths = generate(model, prefix, config.num_samples, config.max_length, vocab.eod_id, config, generator, device,
                            banned, constrained)
    samples = []
    for number, (row, length) in enumerate(zip(out.cpu(), lengths.cpu().tolist()), start=1):
        info = SampleInfo(number=number, run=run.name, step=checkpoint.step, seed=seed, layout=manifest.layout)
        written = prime + vocab.decode(row[:length].tolist())
        with corpus_call(corpus, f"to finish sample {number}"):
            text = corpus.finish(written, info)
        samples.append(Sample(text, finished=length < config.max_length, raw=written if written != text else None))
    metadata = {
        "run": run.name,
        "corpus": manifest.corpus,
        "checkpoint": str(path),
        "step": checkpoint.step,
        "seed": seed,
        "temperature": config.temperature,
        "top_k": config.top_k,
        "top_p": config.top_p,
        "prime": prime,
        "max_length": config.max_length,
        "mode": "constrained" if constrained is not None else "free",
        "options": dict(config.options),
        "outputs": outputs,
    }
    if constrained is not None and constrained.dead_ends:
        metadata["constraint_dead_ends"] = constrained.dead_ends
    return samples, metadata

