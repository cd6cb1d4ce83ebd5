import numpy as np
import pytest

from charmony.pipeline.batching import StreamBatches
from charmony.pipeline.errors import ConfigError


@pytest.mark.parametrize("length,batch_size,seq_len", [(1000, 4, 7), (97, 3, 5), (64, 4, 15)])
def test_every_target_is_the_next_token_of_its_stream(length, batch_size, seq_len):
    tokens = np.arange(length, dtype=np.uint16)  # each token is its own position
    batches = StreamBatches(tokens, batch_size, seq_len)
    assert len(batches) >= 1
    previous_last = None
    for index in range(len(batches)):
        x, y = batches.get(index)
        assert x.shape == y.shape == (batch_size, seq_len)
        assert (y == x + 1).all(), "targets are the inputs shifted by one, the last position included"
        if previous_last is not None:
            assert (x[:, 0] == previous_last + 1).all(), "each row continues the same row of the batch before"
        previous_last = x[:, -1]
    assert int(y.max()) < length


def test_streams_do_not_overlap_and_cover_the_data():
    batches = StreamBatches(np.arange(1000, dtype=np.uint16), 4, 10)
    seen = np.concatenate([batches.get(i)[0].numpy().ravel() for i in range(len(batches))])
    assert len(np.unique(seen)) == seen.size
    assert seen.size >= 0.9 * 1000


def test_step_positions_wrap_around_epochs():
    batches = StreamBatches(np.arange(1000, dtype=np.uint16), 4, 10)
    n = len(batches)
    assert batches.position(0) == (0, 0)
    assert batches.position(n - 1) == (0, n - 1)
    assert batches.position(n) == (1, 0)


def test_corpus_smaller_than_one_batch_names_the_minimum():
    with pytest.raises(ConfigError, match=r"has 50 tokens .* needs at least 136"):
        StreamBatches(np.arange(50, dtype=np.uint8), 8, 16)
