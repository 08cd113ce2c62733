"""The tantivy keyword index on a disk that fills up: a write that meets the full disk fails with an
outage error (its writer is dropped), and once space is freed the index is written again."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.small_disk import fill, small_disk
from ragworks.engines.index.keyword import KeywordIndex, KeywordIndexWriteFailed
from ragworks.jobs.retry import is_outage

WORDS = [f"word{n}" for n in range(200)]


def test_a_full_disk_fails_a_write_as_an_outage_and_the_next_write_after_freeing_works(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk", "16m") as disk:
        index = KeywordIndex(disk / "keyword")
        index.add([(1, ["before"])])
        index.commit()
        ballast = fill(disk, 0)
        failed: KeywordIndexWriteFailed | None = None
        for key in range(2, 2000):
            try:
                index.add([(key, WORDS * 20)])
                index.commit()
            except KeywordIndexWriteFailed as exc:
                failed = exc
                break
        assert failed is not None, "the full disk never failed a write"
        assert is_outage(failed)

        ballast.unlink()
        index.add([(5000, ["after"])])
        index.commit()

        assert [h.key for h in index.search(["after"], 5)] == [5000]
        assert [h.key for h in index.search(["before"], 5)] == [1]
        index.close()


pytestmark = pytest.mark.integration
