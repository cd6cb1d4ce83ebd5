"""The `sample` stage: many samples in one batch, with temperature, top-k, top-p and a prime."""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import torch

from charmony.pipeline.atomic import write_json
from charmony.pipeline.checkpoint import check_vocabulary, load_checkpoint
from charmony.pipeline.device import autocast, resolve_device
from charmony.pipeline.constraint import ConstrainedBatch
from charmony.pipeline.corpus import CorpusPlugin, SampleContext
from charmony.pipeline.errors import CharmonyError, ConfigError, PluginError, check_seed
from charmony.pipeline.model import CharModel, ModelConfig
from charmony.pipeline.plugins import get_corpus, get_outputs
from charmony.pipeline.rendering import apply_outputs, summarise
from charmony.pipeline.runs import Run
from charmony.pipeline.vocabulary import Vocabulary


# Dividing logits by a smaller temperature overflows to inf; such temperatures mean "greedy" anyway.
GREEDY_BELOW = 1e-6


@dataclass
class SampleConfig:
    """How many samples to draw and how."""

    num_samples: int = 1
    max_length: int = 1000  # tokens generated after the prime, at most
    temperature: float = 1.0  # 0 (or below GREEDY_BELOW) always picks the most likely token
    top_k: int | None = None  # keep only the k most likely tokens
    top_p: float | None = None  # keep the fewest tokens whose probabilities reach p
    prime: str | None = None  # text to start from; None uses the corpus' default
    seed: int | None = None  # None draws one, which samples.json records
    checkpoint: str = "best"  # best, latest, or a path
    device: str = "auto"
    render: list[str] = field(default_factory=list)  # output plugins to run on each sample, besides the corpus' checks
    free: bool = False  # sample without the corpus' constraint, even where it has one
    options: dict[str, str] = field(default_factory=dict)  # the corpus' sample-time options (--option KEY=VALUE)

    def __post_init__(self) -> None:
        if self.num_samples < 1 or self.max_length < 1:
            raise ConfigError("--num-samples and --max-length must be at least 1")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ConfigError(f"--temperature must be at least 0 and finite, not {self.temperature}")
        if self.seed is not None:
            check_seed(self.seed)
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"--top-k must be at least 1, not {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:  # also refuses NaN
            raise ConfigError(f"--top-p must be above 0 and at most 1, not {self.top_p}")


@dataclass
class Sample:
    """One generated document."""

    text: str
    finished: bool  # ended with the end-of-document token rather than at max_length


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Scale by temperature and mask everything outside the top-k and the top-p nucleus with -inf."""
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, torch.topk(logits, top_k, dim=-1).indices, True)
        logits = logits.masked_fill(~keep, float("-inf"))
    if top_p is not None and top_p < 1:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        # Drop a token when the more likely ones already reach top_p; the first is always kept.
        drop = probs.cumsum(dim=-1) - probs >= top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


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
    banned: list[int] = (),
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
    done = torch.zeros(num_samples, dtype=torch.bool, device=device)
    banned_ids = torch.tensor(list(banned), dtype=torch.long, device=device)
    greedy = config.temperature < GREEDY_BELOW
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


def check_sample_options(corpus: CorpusPlugin, options: dict[str, str]) -> None:
    """Refuse a sample option the corpus does not have, listing the ones it has."""
    unknown = sorted(set(options) - set(corpus.sample_options))
    if unknown:
        offered = ", ".join(sorted(corpus.sample_options)) or "none"
        raise ConfigError(f"corpus {corpus.name!r} has no sample option {unknown[0]!r}; its sample options: {offered}")


def constrained_batch(run: Run, corpus: CorpusPlugin, vocab: Vocabulary, config: SampleConfig, prime: str,
                      device: torch.device) -> ConstrainedBatch | None:
    """The grammar states of a batch sampled under the corpus' constraint; None for free sampling."""
    check_sample_options(corpus, config.options)
    if config.free:
        if config.options:
            raise ConfigError("sample options work through the corpus' constraint; drop --free, or drop the --option")
        return None
    context = SampleContext(list(vocab.tokens), run.profile(), dict(config.options), dict(run.manifest().get("options", {})))
    try:
        constraint = corpus.constraint(context)
    except CharmonyError:
        raise
    except Exception as error:
        raise PluginError(f"corpus plugin {corpus.name!r} failed to make its constraint: {type(error).__name__}: {error}") from error
    if constraint is None:
        if config.options:
            raise ConfigError(f"this run of corpus {corpus.name!r} has no constraint, so its sample options cannot apply; "
                              "prepare the run again with this version of charmony")
        return None
    tokens = list(corpus.tokenize(prime)) if prime else []
    return ConstrainedBatch(constraint, vocab.tokens, vocab.eod_id, config.num_samples, config.max_length, tokens, device)


def load_model(run: Run, which: str, device: torch.device) -> tuple[CharModel, dict, Path]:
    """The run's model from its best or latest checkpoint (or a path), on `device`."""
    path = {"best": run.best_path, "latest": run.checkpoint_path}.get(which, Path(which))
    if which == "best" and not path.exists() and run.checkpoint_path.exists():
        path = run.checkpoint_path
    checkpoint = load_checkpoint(path)
    check_vocabulary(checkpoint, run.vocabulary(), path)
    model = CharModel(ModelConfig(**checkpoint["model_config"]))
    model.load_state_dict(checkpoint["model"])
    return model.to(device), checkpoint, path


def prime_ids(run: Run, vocab: Vocabulary, prime: str) -> list[int]:
    """The prime's token ids, or a ConfigError naming the characters the vocabulary lacks."""
    if not prime:
        return []
    corpus = get_corpus(run.manifest()["corpus"])
    try:
        tokens = list(corpus.tokenize(prime))
    except Exception as error:
        raise PluginError(f"corpus plugin {corpus.name!r} failed to tokenize --prime: {type(error).__name__}: {error}") from error
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
    corpus = get_corpus(manifest["corpus"])
    outputs = list(dict.fromkeys([*corpus.checks, *config.render]))
    get_outputs(outputs)  # unknown names fail before any work
    prime = manifest.get("prime", "") if config.prime is None else config.prime
    prefix = [vocab.eod_id] + prime_ids(run, vocab, prime)  # <eod> marks the start of a new document
    model, checkpoint, path = load_model(run, config.checkpoint, device)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    generator = torch.Generator(device=device).manual_seed(seed)
    banned = [vocab.unk_id] if vocab.unk_id is not None else []
    constrained = constrained_batch(run, corpus, vocab, config, prime, device)
    out, lengths = generate(model, prefix, config.num_samples, config.max_length, vocab.eod_id, config, generator, device,
                            banned, constrained)
    samples = [
        Sample(corpus.finish(prime + vocab.decode(row[:length].tolist()), number), finished=length < config.max_length)
        for number, (row, length) in enumerate(zip(out.cpu(), lengths.cpu().tolist()), start=1)
    ]
    metadata = {
        "run": run.name,
        "corpus": manifest["corpus"],
        "checkpoint": str(path),
        "step": checkpoint["step"],
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


def write_samples(samples: list[Sample], metadata: dict, out_dir: Path, extension: str, render: list[str],
                  profile: dict | None = None) -> dict:
    """Write each sample to `out_dir/sample_NNN<ext>`, run the output plugins, and write samples.json.

    The checkers judge the samples as samples of a run with `profile` (see `OutputPlugin.for_run`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    plugins = [plugin.for_run(profile) for plugin in get_outputs(render)]
    _remove_earlier_samples(out_dir)
    entries = []
    for number, item in enumerate(samples):
        path = out_dir / f"sample_{number:03d}{extension}"
        path.write_text(item.text, encoding="utf-8")
        entries.append({
            "file": path.name,
            "characters": len(item.text),
            "finished": item.finished,
            "outputs": apply_outputs(plugins, path, out_dir),
        })
    report = dict(metadata, samples=entries, summary=summarise([e["outputs"] for e in entries], plugins))
    write_json(out_dir / "samples.json", report)
    return report


def _remove_earlier_samples(out_dir: Path) -> None:
    """Delete the files an earlier `write_samples` listed in this folder's samples.json, and nothing else."""
    try:
        earlier = json.loads((out_dir / "samples.json").read_text(encoding="utf-8"))["samples"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for entry in earlier:
        names = [entry.get("file")] + [f for r in entry.get("outputs", {}).values() for f in r.get("files", [])]
        for name in names:
            if isinstance(name, str) and Path(name).name == name:
                (out_dir / name).unlink(missing_ok=True)


def new_samples_dir(run: Run, step: int, seed: int) -> Path:
    """A folder under the run for samples printed without --out, never one already used."""
    base = run.samples_dir / f"step{step:06d}-seed{seed}"
    path, number = base, 1
    while path.exists():
        number += 1
        path = base.with_name(f"{base.name}-{number}")
    return path
