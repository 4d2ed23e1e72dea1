"""The flat-memory helpers every chunked loop and the hashing pool go through: nothing lost,
nothing reordered, and never more held at once than promised."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.batches import SMALL_FILE_BYTES, batched, ordered_map, small_alone


@given(st.lists(st.integers(0, 5000)), st.integers(1, 20), st.integers(1, 20_000))
def test_weighted_batches_keep_every_item_in_order_within_their_limits(sizes, n, max_weight):
    chunks = list(batched(sizes, n, lambda s: s, max_weight))
    assert [s for chunk in chunks for s in chunk] == sizes
    for chunk in chunks:
        assert 1 <= len(chunk) <= n
        # a chunk ends as soon as it reaches the weight: only its last item can take it over
        assert sum(chunk[:-1]) < max_weight


@given(st.lists(st.integers()), st.integers(1, 7))
def test_batches_by_count_alone(items, n):
    chunks = list(batched(items, n))
    assert [i for c in chunks for i in c] == items
    assert all(len(c) == n for c in chunks[:-1])


@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(), max_size=200), st.integers(1, 6), st.integers(1, 3))
def test_ordered_map_keeps_order_and_submits_only_a_window_ahead(items, window, workers):
    lock = threading.Lock()
    submitted = 0
    taken = 0
    most_ahead = 0

    def fn(x: int) -> int:
        return x * 2

    def source():
        nonlocal submitted, most_ahead
        for x in items:
            with lock:
                most_ahead = max(most_ahead, submitted - taken)
                submitted += 1
            yield x

    out = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for r in ordered_map(pool, fn, source(), window):
            out.append(r)
            with lock:
                taken += 1
    assert out == [x * 2 for x in items]
    assert most_ahead <= window


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.sampled_from([10, SMALL_FILE_BYTES * 4]), min_size=1, max_size=4), min_size=1, max_size=12))
def test_batches_of_small_files_run_one_at_a_time_and_big_files_beside_them(batches):
    """On a pool of threads, batches of small files never overlap (they would only fight over the
    interpreter's lock); a batch of big files runs whenever a thread is free; every result comes
    back, in order."""
    lock = threading.Lock()
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    def work(batch: list[int]) -> int:
        kind = "small" if len(batch) > 1 and sum(batch) < SMALL_FILE_BYTES * len(batch) else "big"
        with lock:
            running.append(kind)
            overlaps.append(tuple(running))
        threading.Event().wait(0.002)
        with lock:
            running.remove(kind)
        return sum(batch)

    with ThreadPoolExecutor(4) as pool:
        got = list(ordered_map(pool, small_alone(work, lambda size: size), batches, 8))
    assert got == [sum(b) for b in batches]
    assert all(seen.count("small") <= 1 for seen in overlaps)


def test_big_files_do_run_in_parallel():
    barrier = threading.Barrier(2, timeout=5)

    def work(batch: list[int]) -> int:
        barrier.wait()  # only passes when two batches run at once
        return len(batch)

    with ThreadPoolExecutor(2) as pool:
        big = [[SMALL_FILE_BYTES * 2, SMALL_FILE_BYTES * 2]] * 4
        assert list(ordered_map(pool, small_alone(work, lambda size: size), big, 4)) == [2] * 4
