"""MicroBatcher: concurrent single items are processed together, in order, with errors delivered."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from ragworks.engines.embed.batcher import MicroBatcher, Rows

WAIT = 10.0  # seconds; generous, only reached when something is broken


class Recorder:
    """A ``process`` that returns each item as a one-value row, records its batches and can be held."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Semaphore(0)

    def __call__(self, items: Sequence[int]) -> Rows:
        self.entered.release()
        assert self.gate.wait(WAIT)
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        return np.asarray([[float(i)] for i in items], dtype=np.float32)


def test_a_lone_item_is_processed_at_once() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder)

    assert batcher.submit(7).result(WAIT).tolist() == [7.0]
    assert recorder.batches == [[7]]
    batcher.close()


def test_items_arriving_during_a_pass_share_the_next_one_in_order() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_items=16)
    recorder.gate.clear()
    first = batcher.submit(0)
    assert recorder.entered.acquire(timeout=WAIT)  # the first pass runs (and is held)
    later = [batcher.submit(i) for i in range(1, 6)]

    recorder.gate.set()

    assert [f.result(WAIT).tolist() for f in [first, *later]] == [[float(i)] for i in range(6)]
    assert recorder.batches == [[0], [1, 2, 3, 4, 5]]
    assert (batcher.batches, batcher.items) == (2, 6)
    batcher.close()


def test_batches_respect_the_item_and_cost_limits() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_items=3, max_cost=10, cost=lambda item: item)
    recorder.gate.clear()
    first = batcher.submit(1)
    assert recorder.entered.acquire(timeout=WAIT)
    futures = [batcher.submit(i) for i in (1, 1, 1, 1, 6, 5, 20)]

    recorder.gate.set()

    for future in [first, *futures]:
        future.result(WAIT)
    # at most 3 items, at most cost 10, but an item costlier than the limit still goes (alone)
    assert recorder.batches == [[1], [1, 1, 1], [1, 6], [5], [20]]
    batcher.close()


def test_an_error_reaches_every_caller_of_the_batch_and_the_worker_goes_on() -> None:
    calls = []

    def process(items: Sequence[int]) -> Rows:
        calls.append(list(items))
        if len(calls) == 1:
            raise ValueError("broken batch")
        return np.zeros((len(items), 1), dtype=np.float32)

    batcher = MicroBatcher(process)
    with pytest.raises(ValueError, match="broken batch"):
        batcher.submit(1).result(WAIT)
    assert batcher.submit(2).result(WAIT).shape == (1,)
    batcher.close()


def test_a_wrong_number_of_rows_is_an_error() -> None:
    batcher = MicroBatcher(lambda items: np.zeros((len(items) + 1, 1), dtype=np.float32))

    with pytest.raises(RuntimeError, match="2 rows for 1 items"):
        batcher.submit(1).result(WAIT)
    batcher.close()


def test_close_finishes_queued_items_and_refuses_new_ones() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder)
    recorder.gate.clear()
    futures = [batcher.submit(i) for i in range(3)]
    assert recorder.entered.acquire(timeout=WAIT)

    closer = threading.Thread(target=batcher.close)
    closer.start()
    recorder.gate.set()
    closer.join(WAIT)

    assert not closer.is_alive()
    assert [f.result(0).tolist() for f in futures] == [[0.0], [1.0], [2.0]]
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(4)


def test_several_workers_run_passes_side_by_side_after_their_start_hook() -> None:
    started: list[str] = []
    recorder = Recorder()
    batcher = MicroBatcher(
        recorder, max_items=1, workers=2, on_start=lambda: started.append(threading.current_thread().name)
    )
    batcher.start()
    assert sorted(started) == ["micro-batcher-0", "micro-batcher-1"]
    recorder.gate.clear()

    futures = [batcher.submit(i) for i in range(2)]
    assert recorder.entered.acquire(timeout=WAIT) and recorder.entered.acquire(timeout=WAIT)  # both held
    recorder.gate.set()

    assert [f.result(WAIT).tolist() for f in futures] == [[0.0], [1.0]]
    assert recorder.threads == {"micro-batcher-0", "micro-batcher-1"}
    batcher.close()


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(Recorder(), max_items=0)
    with pytest.raises(ValueError):
        MicroBatcher(Recorder(), workers=0)
