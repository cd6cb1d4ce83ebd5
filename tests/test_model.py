import json
import re
import math

import pytest
import torch
from tiny import TINY_TRAIN, lfsr_bits

from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.model.charmodel import CharModel
from charmony.pipeline.run.config import ModelConfig
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.training.train import train


def test_model_learns_a_sequence_that_needs_five_steps_of_memory(tmp_path):
    source = tmp_path / "lfsr.txt"
    source.write_text(lfsr_bits(12_000))
    run = Run(tmp_path / "runs" / "lfsr")
    prepare(run, PrepareConfig("text", [source], val_fraction=0.1))
    vocab_size = run.manifest().vocab_size
    config = TINY_TRAIN.with_settings(hidden=64, seq_len=32, batch_size=16, max_steps=800, eval_every=200)
    result = train(run, config)
    # Untrained, the loss is about ln(vocab size); knowing fewer than five previous bits, a model
    # cannot beat ln 2 (0.69) nats per bit. Below 0.2 the model has learned the recurrence.
    first = json.loads(run.metrics_path.read_text().splitlines()[0])
    assert first["step"] == config.log_every and first["train_loss"] > math.log(2) - 0.05, "it started from chance"
    assert vocab_size == 3  # 0, 1 and <eod>
    assert result.best_val_loss < 0.2


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("embedding", [0, 12])
def test_cells_and_inputs_give_logits_and_carry_state(cell, embedding):
    model = CharModel(ModelConfig(vocab_size=11, cell=cell, layers=2, hidden=12, embedding=embedding, dropout=0.1))
    ids = torch.randint(0, 11, (3, 5))
    logits, state = model(ids)
    assert logits.shape == (3, 5, 11)
    assert len(state) == (2 if cell == "lstm" else 1) and state[0].shape == (2, 3, 12)
    model.eval()
    whole, _ = model(ids)
    first, carried = model(ids[:, :2])
    rest, _ = model(ids[:, 2:], carried)
    assert torch.allclose(torch.cat([first, rest], dim=1), whole, atol=1e-5), "state carries the sequence on"


def test_weight_tying_shares_one_matrix():
    model = CharModel(ModelConfig(vocab_size=9, hidden=16, embedding=16, tie_weights=True))
    assert model.head.weight is model.embed.weight
    with pytest.raises(ConfigError, match="--tie-weights needs --embedding equal to --hidden"):
        ModelConfig(vocab_size=9, hidden=16, embedding=8, tie_weights=True)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "lnlstm"])
@pytest.mark.parametrize(("embedding", "tie"), [(0, False), (12, False), (16, True)])
def test_the_parameter_count_is_told_before_the_model_is_built(cell, embedding, tie):
    from charmony.pipeline.model.size import parameter_count

    config = ModelConfig(cell=cell, layers=3, hidden=16, embedding=embedding, tie_weights=tie).resolved(11, False)
    built = CharModel(config)
    assert parameter_count(config) == sum(p.numel() for p in built.parameters())


def test_training_that_cannot_fit_in_memory_is_refused_before_the_model_is_built(prepared, monkeypatch):
    from charmony.pipeline.model import size

    run = prepared("huge")
    monkeypatch.setattr(size, "available_memory", lambda device: 2**30)
    built = []
    monkeypatch.setattr("charmony.pipeline.training.train.CharModel", lambda *args: built.append(args))
    config = TINY_TRAIN.with_settings(layers=4, hidden=4096, max_steps=1)  # 4 x 4 x 4096 x 8192 weights: 8 GiB to train
    with pytest.raises(ConfigError, match=r"training a model of [\d,]+ parameters on batches of .* needs at least "
                                          r"[\d.]+ GiB, and this machine has 1.0 GiB free; lower --hidden"):
        train(run, config)
    assert not built and not run.checkpoint_path.exists()
    monkeypatch.setattr(size, "available_memory", lambda device: None)  # unknown: nothing is refused
    size.check_training_fits(config.model.resolved(50, False), 1, 1, 1, torch.device("cpu"))


@pytest.mark.parametrize(("settings", "message"), [
    ({"layers": 101}, "--layers must be from 1 to 100, not 101"),
    ({"hidden": 2**63}, f"--hidden must be from 1 to 65,536, not {2**63:,}"),
    ({"embedding": 65_537}, "--embedding must be from 0 to 65,536"),
    ({"init_scale": 1e9}, "--init-scale must be above 0 and at most 10"),
])
def test_model_shapes_have_upper_bounds(settings, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        ModelConfig(**settings)
