"""LocalSearchIndex: the shared contract plus persistence, crash recovery and concurrency."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragworks.engines.index import vectors as vectors_module
from ragworks.engines.index.base import SearchIndex
from ragworks.engines.index.local import LocalSearchIndex
from ragworks.testing.index_contract import DIM, Reopen, SearchIndexContract, corpus, entry, vec


def _open(root: Path) -> LocalSearchIndex:
    idx = LocalSearchIndex(root, DIM)
    idx.start()
    return idx


class TestLocalSearchIndex(SearchIndexContract):
    @pytest.fixture
    def index(self, tmp_path: Path) -> Iterator[SearchIndex]:
        idx = _open(tmp_path / "index")
        yield idx
        idx.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Reopen:
        def _reopen(old: SearchIndex) -> SearchIndex:
            old.close()
            return _open(tmp_path / "index")

        return _reopen


def test_both_legs_persist_across_close(tmp_path: Path) -> None:
    idx = _open(tmp_path)
    idx.add("c", corpus(40))
    idx.commit()
    idx.remove("c", [7])
    idx.add("c", [entry(8, "replaced")])
    idx.commit()
    idx.close()
    assert (tmp_path / "collections" / "c" / "vectors.usearch").exists()
    again = _open(tmp_path)
    assert again.keys("c") == set(range(1, 41)) - {7}
    assert [h.key for h in again.keyword_search("c", ["replaced"], 5)] == [8]
    assert [h.key for h in again.vector_search("c", vec(20), 1)] == [20]
    assert 7 not in {h.key for h in again.vector_search("c", vec(7), 50)}
    again.close()


def test_commits_are_durable_without_close_via_log(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from ragworks.engines.index.local import LocalSearchIndex
        from ragworks.testing.index_contract import DIM, corpus, entry
        idx = LocalSearchIndex(Path({str(tmp_path)!r}), DIM)
        idx.start()
        idx.add("c", corpus(30))
        idx.commit()
        idx.remove("c", [3])
        idx.commit()
        idx.add("c", [entry(77, "staged")])
        os._exit(0)  # crash: no close, no snapshot
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert not (tmp_path / "collections" / "c" / "vectors.usearch").exists()
    again = _open(tmp_path)
    assert again.count("c") == 29
    assert again.keys("c") == set(range(1, 31)) - {3}
    assert again.vector_search("c", vec(9), 1)[0].key == 9
    again.close()


def test_lost_vector_log_is_reported_by_count(tmp_path: Path) -> None:
    idx = _open(tmp_path)
    idx.add("c", corpus(10))
    idx.commit()
    idx.close()  # snapshot holds keys 1..10
    idx = _open(tmp_path)
    idx.add("c", [entry(11, "late"), entry(12, "late")])
    idx.commit()
    del idx  # crash-like: no close()
    # Simulate the vector log of the last commit being lost (e.g. a crash before it reached disk).
    (tmp_path / "collections" / "c" / "vectors.wal").write_bytes(b"")
    again = _open(tmp_path)
    assert again.count("c") == 10
    missing = {11, 12} - again.keys("c")
    assert missing == {11, 12}
    assert again.keyword_search("c", ["late"], 5) == []  # legs trimmed to what both hold
    again.add("c", [entry(k, "late") for k in sorted(missing)])
    again.commit()
    assert again.count("c") == 12
    assert {h.key for h in again.keyword_search("c", ["late"], 5)} == {11, 12}
    again.close()


def test_torn_log_tail_is_ignored(tmp_path: Path) -> None:
    idx = _open(tmp_path)
    idx.add("c", corpus(5))
    idx.commit()
    wal = tmp_path / "collections" / "c" / "vectors.wal"
    good = wal.stat().st_size
    with open(wal, "ab") as fh:
        fh.write(b"RWV1\x05\x00\x00\x00garbage")
    del idx
    again = _open(tmp_path)
    assert again.keys("c") == {1, 2, 3, 4, 5}
    assert wal.stat().st_size == good
    again.close()


def test_snapshot_after_many_operations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "SNAPSHOT_MIN_OPS", 8)
    idx = _open(tmp_path)
    idx.add("c", corpus(10))
    idx.commit()
    folder = tmp_path / "collections" / "c"
    assert (folder / "vectors.usearch").exists() and (folder / "vectors.wal").stat().st_size == 0
    idx.close()


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "a\\b", "x\0y"])
def test_collection_names_cannot_escape_root(tmp_path: Path, name: str) -> None:
    idx = _open(tmp_path / "root")
    with pytest.raises(ValueError):
        idx.add(name, [entry(1, "t")])
    idx.close()


def test_key_out_of_range_raises(tmp_path: Path) -> None:
    idx = _open(tmp_path)
    with pytest.raises(ValueError):
        idx.add("c", [entry(1, "t"), entry(2**63, "t")])
    idx.close()


def test_dimension_mismatch_on_reopen(tmp_path: Path) -> None:
    idx = _open(tmp_path)
    idx.add("c", corpus(3))
    idx.commit()
    idx.close()
    other = LocalSearchIndex(tmp_path, DIM * 2)
    other.start()
    with pytest.raises(ValueError):
        other.count("c")
