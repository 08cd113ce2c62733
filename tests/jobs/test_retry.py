"""Retry policy: permanent errors and exponential backoff with jitter."""

from __future__ import annotations

import random

import pytest

from ragworks.errors import (
    BadRequest,
    Busy,
    Conflict,
    DiskFull,
    EmbedderUnavailable,
    NotFound,
    NotReady,
    RagworksError,
    UnprocessableDocument,
)
from ragworks.jobs.retry import backoff_delay, is_outage, is_permanent, outage_streak


@pytest.mark.parametrize("error", [BadRequest("x"), NotFound("x"), Conflict("x"), UnprocessableDocument("x")])
def test_client_errors_are_permanent(error: RagworksError) -> None:
    assert is_permanent(error)


@pytest.mark.parametrize(
    "error",
    [NotReady("x"), RagworksError("x"), RuntimeError("x"), OSError("disk"), TimeoutError()],
)
def test_server_and_unexpected_errors_are_retried(error: BaseException) -> None:
    assert not is_permanent(error)


def _raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as exc:
            raise RuntimeError("the index write failed") from exc
    except RuntimeError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [
        DiskFull("x"),
        Busy("x"),
        EmbedderUnavailable("x"),
        OSError(28, "No space left on device"),
        ValueError("Failed to write: No space left on device (os error 28)"),  # tantivy's io error
        _raised_from(DiskFull("x")),
        _raised_from(OSError(122, "Disk quota exceeded")),
    ],
)
def test_parts_down_or_full_are_outages(error: BaseException) -> None:
    assert is_outage(error) and not is_permanent(error)


@pytest.mark.parametrize(
    "error", [NotReady("x"), RuntimeError("x"), OSError(5, "I/O error"), BadRequest("x")]
)
def test_other_errors_are_not_outages(error: BaseException) -> None:
    assert not is_outage(error)


def test_outage_streak_counts_the_latest_outages_in_a_row() -> None:
    history = [{"outage": True}, {}, {"outage": True}, {"outage": True}]
    assert (outage_streak(history), outage_streak(history[:2]), outage_streak([])) == (2, 0, 0)


class _Teapot(RagworksError):
    status_code = 418


def test_any_4xx_subclass_is_permanent() -> None:
    assert is_permanent(_Teapot("short and stout"))


def _ceiling_rng() -> random.Random:
    """A generator whose draws are always 1.0, so the delay sits at its ceiling."""

    class _Top(random.Random):
        def random(self) -> float:
            return 1.0

    return _Top()


def test_backoff_doubles_with_each_attempt() -> None:
    delays = [backoff_delay(attempt, 1.0, 1000.0, _ceiling_rng()) for attempt in range(1, 6)]

    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_backoff_is_capped() -> None:
    assert backoff_delay(30, 2.0, 300.0, _ceiling_rng()) == 300.0


def test_backoff_of_attempt_zero_uses_the_base() -> None:
    assert backoff_delay(0, 3.0, 100.0, _ceiling_rng()) == 3.0


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 10])
def test_backoff_jitter_stays_in_the_upper_half(attempt: int) -> None:
    rng = random.Random(1234)
    ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))

    delays = [backoff_delay(attempt, 2.0, 60.0, rng) for _ in range(200)]

    assert all(0.5 * ceiling <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > 0.3 * ceiling


def test_backoff_is_reproducible_with_a_seed() -> None:
    first = [backoff_delay(3, 1.0, 10.0, random.Random(7)) for _ in range(3)]

    assert first == [backoff_delay(3, 1.0, 10.0, random.Random(7)) for _ in range(3)]
