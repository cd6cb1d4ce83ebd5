"""How much of a sample is copied: the longest run of it that occurs verbatim in the training data.

Sequences are arrays of non-negative integers (token ids, or codes of musical events). For every position
of every query, the matching statistic is the length of the longest run starting there that also occurs
somewhere in the training sequences; a query's longest copied run is the largest of them.

They are found with a generalised suffix array. The training sequences and the queries are laid end to
end, each training sequence followed by -1 and each query by a value of its own (below -1), so that no run
crosses from one sequence into another. Prefix doubling ranks every window of W positions, W being a power
of two longer than any query, which sorts all suffixes by their first W elements; a query's window always
holds its own end marker, so none ties with a training window. In that order, the training suffix that
shares the longest prefix with a query suffix is the nearest training suffix before or after it, and the
rank tables of the doubling give the length of that prefix in log2(W) steps (binary lifting). Training data longer than CHUNK is taken in chunks that
overlap by the longest query, so memory stays bounded and every run of a query still lies within a chunk.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CHUNK = 2_000_000  # training positions per suffix array; its rank tables take about 4 bytes x levels each


def longest_copies(training: np.ndarray, queries: Sequence[np.ndarray], separator: int = -1) -> list[int]:
    """For each query, the length of its longest run that occurs in the training data (see matching_statistics)."""
    return [int(stats.max()) if len(stats) else 0 for stats in matching_statistics(training, queries, separator)]


def matching_statistics(training: np.ndarray, queries: Sequence[np.ndarray], separator: int = -1) -> list[np.ndarray]:
    """For each query, at each position, the length of the longest run starting there found in the training data.

    `training` holds the training sequences end to end, each followed by `separator` (it may be a memmap);
    the queries hold non-negative values, never the separator.
    """
    best = [np.zeros(len(query), dtype=np.int64) for query in queries]
    longest = max((len(query) for query in queries), default=0)
    if longest == 0:
        return best
    for start in range(0, max(len(training), 1), CHUNK):
        chunk = np.append(np.asarray(training[start:start + CHUNK + longest], dtype=np.int64), -1)
        chunk[chunk == separator] = -1
        for found, stats in zip(best, _chunk_statistics(chunk, queries)):
            np.maximum(found, stats, out=found)
    return best


def _chunk_statistics(chunk: np.ndarray, queries: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Matching statistics of the queries against one chunk of training data (see the module docstring)."""
    lengths = np.array([len(q) for q in queries], dtype=np.int64)
    markers = -2 - np.arange(len(queries), dtype=np.int64)
    parts = [chunk]
    for query, marker in zip(queries, markers):
        parts += [np.asarray(query, dtype=np.int64), np.array([marker])]
    joined = np.concatenate(parts)
    width_log = int(lengths.max()).bit_length()  # 2**width_log > the longest query
    tables = _window_ranks(joined, width_log)
    order = np.argsort(tables[-1], kind="stable")

    is_training = order < len(chunk)
    positions = np.arange(len(order))
    before = np.maximum.accumulate(np.where(is_training, positions, -1))
    after = np.minimum.accumulate(np.where(is_training, positions, len(order))[::-1])[::-1]
    starts = len(chunk) + np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    query_positions = np.concatenate([start + np.arange(n) for start, n in zip(starts, lengths)])
    rank_of = np.empty(len(order), dtype=np.int64)
    rank_of[order] = positions
    ranks = rank_of[query_positions]
    stats = np.zeros(len(query_positions), dtype=np.int64)
    for neighbour in (before[ranks], after[ranks]):
        present = (neighbour >= 0) & (neighbour < len(order))
        shared = _common_prefix(tables, query_positions[present], order[neighbour[present]])
        stats[present] = np.maximum(stats[present], shared)
    return np.split(stats, np.cumsum(lengths)[:-1])


def _window_ranks(values: np.ndarray, width_log: int) -> list[np.ndarray]:
    """For each level k up to `width_log`, each position's rank among the windows of 2**k values starting
    there (windows cut at the end sort before longer ones), in lexicographic order, by prefix doubling.

    Equal windows have equal ranks. Once every window is distinct, higher levels keep the same ranks.
    """
    _, inverse = np.unique(values, return_inverse=True)
    rank: np.ndarray = inverse.astype(np.int32).ravel()
    tables = [rank]
    count = len(values)
    for level in range(width_log):
        if rank.max() == count - 1:
            tables.append(rank)  # every window is already distinct, and longer ones stay so
            continue
        step = 1 << level
        second = np.zeros(count, dtype=np.int64)
        second[: count - step] = rank[step:].astype(np.int64) + 1
        _, rank = np.unique(rank.astype(np.int64) * (count + 1) + second, return_inverse=True)
        rank = rank.astype(np.int32).ravel()
        tables.append(rank)
    return tables


def _common_prefix(tables: list[np.ndarray], first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The length of the common prefix of the runs starting at `first` and at `second` (below 2**levels).

    Binary lifting: from the longest window down, two runs agree on a further 2**k elements exactly when
    their windows of 2**k elements there have the same rank.
    """
    shared = np.zeros(len(first), dtype=np.int64)
    count = len(tables[0])
    for level in range(len(tables) - 2, -1, -1):
        a, b = first + shared, second + shared
        inside = np.maximum(a, b) + (1 << level) <= count
        table = tables[level]
        same = inside & (table[np.minimum(a, count - 1)] == table[np.minimum(b, count - 1)])
        shared += same * (1 << level)
    return shared
