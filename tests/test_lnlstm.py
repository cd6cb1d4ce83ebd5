import json
import os
import signal

import pytest
import torch
from tiny import TINY_TRAIN

from charmony.pipeline.training.checkpoint import Checkpoint
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.model.lnlstm import LayerNormLSTM
from charmony.pipeline.model.charmodel import CharModel
from charmony.pipeline.run.config import ModelConfig
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.sampling.sample import sample
from charmony.pipeline.training.train import train

LNLSTM_TRAIN = TINY_TRAIN.with_settings(cell="lnlstm", layers=2, dropout=0.1, recurrent_dropout=0.1)


def normalise(x, gain, shift, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + eps) * gain + shift


def reference_step(layer, x, h, c):
    """TensorFlow's LayerNormBasicLSTMCell written out gate by gate, without dropout."""
    size = layer.hidden_size
    w_in, w_rec = layer.input_weight, layer.recurrent_weight
    gates = []
    for k in range(4):
        rows = slice(k * size, (k + 1) * size)
        pre = x @ w_in[rows].t() + h @ w_rec[rows].t()
        gates.append(normalise(pre, layer.gate_gain[k], layer.gate_shift[k]))
    i, j, f, o = gates
    new_c = c * torch.sigmoid(f + 1.0) + torch.sigmoid(i) * torch.tanh(j)
    new_c = normalise(new_c, layer.cell_gain, layer.cell_shift)
    return torch.tanh(new_c) * torch.sigmoid(o), new_c


def test_every_step_matches_a_gate_by_gate_reference_to_1e_5():
    torch.manual_seed(0)
    model = LayerNormLSTM(5, 8, num_layers=2, dropout=0.3)
    with torch.no_grad():  # gains and shifts away from 1 and 0, so that they are tested too
        for layer in model.layers:
            for p in (layer.gate_gain, layer.gate_shift, layer.cell_gain, layer.cell_shift):
                p.add_(0.5 * torch.randn_like(p))
    model.eval()
    x = torch.randn(3, 7, 5)
    state = (torch.randn(2, 3, 8), torch.randn(2, 3, 8))
    out, (h_n, c_n) = model(x, state)

    inputs = x
    for index, layer in enumerate(model.layers):
        h, c = state[0][index], state[1][index]
        outputs = []
        for t in range(inputs.size(1)):
            h, c = reference_step(layer, inputs[:, t], h, c)
            outputs.append(h)
        inputs = torch.stack(outputs, dim=1)
        torch.testing.assert_close(h_n[index], h, atol=1e-5, rtol=0)
        torch.testing.assert_close(c_n[index], c, atol=1e-5, rtol=0)
    torch.testing.assert_close(out, inputs, atol=1e-5, rtol=0)


def test_the_recurrent_dropout_drops_the_update_only_in_training():
    torch.manual_seed(0)
    model = LayerNormLSTM(4, 6, recurrent_dropout=0.5)
    x = torch.randn(2, 5, 4)
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])
    model.train()
    torch.manual_seed(1)
    first = model(x)[0]
    torch.manual_seed(2)
    assert not torch.allclose(first, model(x)[0])


def test_compiled_training_matches_eager():
    torch.manual_seed(0)
    eager = CharModel(ModelConfig(11, cell="lnlstm", layers=2, hidden=16, embedding=8))
    compiled_copy = CharModel(ModelConfig(11, cell="lnlstm", layers=2, hidden=16, embedding=8))
    compiled_copy.load_state_dict(eager.state_dict())
    compiled = torch.compile(compiled_copy)
    ids = torch.randint(0, 11, (4, 6))
    for model in (eager, compiled):
        logits, _ = model(ids)
        torch.nn.functional.cross_entropy(logits.reshape(-1, 11), ids.roll(-1, 1).reshape(-1)).backward()
    assert "compiled_step" in compiled_copy.rnn.layers[0].__dict__, "the step was compiled on its own"
    torch.testing.assert_close(compiled(ids)[0], eager(ids)[0], atol=1e-5, rtol=1e-4)
    for (name, a), b in zip(eager.named_parameters(), compiled_copy.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_recurrent_dropout_needs_the_lnlstm():
    with pytest.raises(ConfigError, match="--recurrent-dropout works only with --cell lnlstm, not --cell gru"):
        ModelConfig(10, cell="gru", recurrent_dropout=0.2)


def test_an_lnlstm_run_learns_resumes_exactly_and_samples(prepared):
    straight, resumed = prepared("straight"), prepared("resumed")
    config = LNLSTM_TRAIN.with_settings(max_steps=24, eval_every=6, save_every=8, log_every=4)
    train(straight, config)

    def interrupt(step):
        if step == 9:
            os.kill(os.getpid(), signal.SIGINT)

    assert train(resumed, config, on_step=interrupt).step == 9
    train(resumed, Checkpoint.load(resumed.checkpoint_path).train_config, resume=True)
    a, b = (Checkpoint.load(run.checkpoint_path).model for run in (straight, resumed))
    assert a.keys() == b.keys() and any("gate_gain" in name for name in a)
    for name in a:
        assert torch.equal(a[name], b[name]), name

    samples, meta = sample(resumed, SampleConfig(num_samples=3, max_length=40, seed=1, device="cpu"))
    assert meta["step"] == 24 and len(samples) == 3


def test_an_lnlstm_learns_the_rhymes(prepared):
    run = prepared("learns")
    result = train(run, LNLSTM_TRAIN.with_settings(max_steps=150, eval_every=150))
    lines = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
    # An untrained model is near ln(vocabulary size) ~ 3.3 nats; the rhymes are learnt well below 2.
    assert lines[0]["train_loss"] > 3.0
    assert result.best_val_loss < 2.0
