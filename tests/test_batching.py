import numpy as np
import pytest
import torch

from charmony.pipeline.data.batching import DeviceBatches, StreamBatches
from charmony.pipeline.system.errors import ConfigError


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


@pytest.mark.parametrize("dtype,top", [(np.uint8, 255), (np.uint16, 65535), (np.uint32, 2**32 - 1)])
def test_batches_cut_on_the_device_equal_those_read_from_the_memmap(tmp_path, dtype, top):
    # Ids near the top of each type, where a signed view would turn negative.
    ids = (top - np.arange(5000) % 97).astype(dtype)
    path = tmp_path / "train.bin"
    ids.tofile(path)
    streams = StreamBatches(np.memmap(path, dtype=dtype, mode="r"), 4, 9)
    resident = DeviceBatches(streams, torch.device("cpu"), resident=True)
    mapped = DeviceBatches(streams, torch.device("cpu"), resident=False)
    assert resident.resident and not mapped.resident
    for index in (0, 1, len(streams) - 1):
        for a, b in zip(resident.get(index), mapped.get(index)):
            assert a.dtype == b.dtype == torch.int64
            assert torch.equal(a, b)
        assert int(resident.get(index)[0].max()) <= top


def test_the_streams_of_several_processes_are_the_streams_of_one():
    tokens = np.arange(5000, dtype=np.uint16)
    whole = StreamBatches(tokens, 6, 10)
    shares = [StreamBatches(tokens, 2, 10, rank=rank, world_size=3) for rank in range(3)]
    assert all(len(share) == len(whole) for share in shares)
    for index in (0, 7, len(whole) - 1):
        together = torch.cat([share.get(index)[0] for share in shares])
        assert torch.equal(together, whole.get(index)[0])
    resident = [DeviceBatches(share, torch.device("cpu"), resident=True) for share in shares]
    assert torch.equal(torch.cat([r.get(3)[1] for r in resident]), whole.get(3)[1])


def test_a_corpus_too_small_for_every_process_names_them():
    with pytest.raises(ConfigError, match=r"has 500 tokens but --batch-size 8 x 4 processes x \(--seq-len 16 \+ 1\) needs at least 544"):
        StreamBatches(np.arange(500, dtype=np.uint16), 8, 16, world_size=4)
