"""Tiny corpora and a tiny training configuration, made on the spot for the tests."""

from __future__ import annotations

from charmony.pipeline.run.config import ModelConfig
from charmony.pipeline.run.config import TrainConfig

TINY_TRAIN = TrainConfig(
    model=ModelConfig(layers=1, hidden=32, embedding=16), seq_len=16, batch_size=8, lr=1e-2,
    max_steps=200, eval_every=50, save_every=100, log_every=10, warmup_steps=10, device="cpu",
)


def lfsr_bits(count: int) -> str:
    """A deterministic bit string where bit n = bit n-3 XOR bit n-5 (period 31).

    No model that sees fewer than five bits of context can predict it better than chance.
    """
    bits = [1, 0, 0, 1, 0]
    while len(bits) < count:
        bits.append(bits[-3] ^ bits[-5])
    return "".join(map(str, bits[:count]))


RHYMES = [
    "twinkle twinkle little star\nhow I wonder what you are\n",
    "row row row your boat\ngently down the stream\n",
    "hickory dickory dock\nthe mouse ran up the clock\n",
    "baa baa black sheep\nhave you any wool\n",
    "humpty dumpty sat on a wall\nhumpty dumpty had a great fall\n",
    "jack and jill went up the hill\nto fetch a pail of water\n",
    "little bo peep has lost her sheep\nand does not know where to find them\n",
    "mary had a little lamb\nits fleece was white as snow\n",
    "old king cole was a merry old soul\nand a merry old soul was he\n",
    "the itsy bitsy spider\nclimbed up the water spout\n",
]
