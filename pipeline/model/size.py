"""How big a model is and how much memory training it takes, told from its settings before it is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from charmony.pipeline.run.config import ModelConfig
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.system.memory import available_memory
from charmony.pipeline.system.messages import size

if TYPE_CHECKING:
    import torch

# Weight matrices per layer of each cell: the gates it computes.
GATES = {"lstm": 4, "gru": 3, "rnn": 1, "lnlstm": 4}
FLOAT_BYTES = 4
# Each parameter in training: its value, its gradient and AdamW's two moments.
TRAINING_COPIES = 4
# Logits kept per token in training: the head's output, its float copy for the loss, and their gradient.
LOGIT_COPIES = 3


def parameter_count(config: ModelConfig) -> int:
    """The parameters of CharModel(config), for a resolved config (vocab_size and embedding known)."""
    if config.vocab_size is None or config.embedding is None:
        raise ValueError("parameter_count needs a resolved ModelConfig: call ModelConfig.resolved first")
    vocab, hidden, gates = config.vocab_size, config.hidden, GATES[config.cell]
    count = 0
    for layer in range(config.layers):
        inputs = hidden if layer else (config.embedding or vocab)
        count += gates * hidden * (inputs + hidden)
        # nn.LSTM, GRU and RNN have two biases per gate; the LayerNorm LSTM a gain and shift per gate and for its cell.
        count += 10 * hidden if config.cell == "lnlstm" else 2 * gates * hidden
    embedding = vocab * config.embedding
    head = vocab * hidden + vocab
    if config.embedding and config.tie_weights:
        head -= vocab * hidden  # the head's weight is the embedding's
    return count + embedding + head


def training_bytes(config: ModelConfig, batch_size: int, seq_len: int) -> int:
    """At least the memory one process takes to train `config` on batches of `batch_size` x `seq_len` tokens.

    Parameters, gradients and AdamW's moments, the logits, and each layer's saved gates and state:
    a lower estimate, so that only what surely cannot fit is refused.
    """
    assert config.vocab_size is not None and config.embedding is not None
    per_token = (LOGIT_COPIES * config.vocab_size + (config.embedding or config.vocab_size)
                 + config.layers * (GATES[config.cell] + 2) * config.hidden)
    return FLOAT_BYTES * (TRAINING_COPIES * parameter_count(config) + batch_size * seq_len * per_token)


def check_training_fits(config: ModelConfig, batch_size: int, seq_len: int, processes: int, device: torch.device) -> None:
    """A ConfigError when training `config` in `processes` processes would surely not fit in `device`'s free memory.

    Processes on the CPU share the machine's memory; on GPUs each has its own.
    """
    needed = training_bytes(config, batch_size, seq_len) * (processes if device.type == "cpu" else 1)
    free = available_memory(device)
    if free is not None and needed > free:
        where = "this machine" if device.type == "cpu" else str(device)
        raise ConfigError(
            f"training a model of {parameter_count(config):,} parameters on batches of {batch_size} x {seq_len} tokens "
            f"needs at least {size(needed)}, and {where} has {size(free)} free; "
            "lower --hidden, --layers, --embedding, --batch-size or --seq-len"
        )
