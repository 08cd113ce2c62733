"""Reading BEIR-format data sets from a small folder written for each test."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from ragworks.errors import BadRequest
from ragworks.evaluation.beir import CorpusDoc, load_dataset, read_corpus


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def write_qrels(root: Path, split: str, lines: list[str]) -> None:
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / f"{split}.tsv").write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture
def dataset_root(tmp_path: Path) -> Path:
    write_jsonl(
        tmp_path / "queries.jsonl",
        [
            {"_id": "q1", "text": "first question"},
            {"_id": "q2", "text": "second question"},
            {"_id": "q3", "text": "not judged"},
        ],
    )
    write_qrels(
        tmp_path,
        "test",
        ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q1\td2\t2", "q2\td3\t0", "q9\td1\t1"],
    )
    return tmp_path


def test_load_dataset_reads_judged_queries(dataset_root: Path) -> None:
    dataset = load_dataset(dataset_root)

    assert dataset.queries == {"q1": "first question", "q2": "second question"}
    assert dataset.qrels == {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 0}}


def test_load_dataset_skips_the_qrels_header(dataset_root: Path) -> None:
    assert "query-id" not in load_dataset(dataset_root).qrels


def test_load_dataset_keeps_a_first_line_without_header(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "queries.jsonl", [{"_id": "q1", "text": "question"}])
    write_qrels(tmp_path, "test", ["q1\td1\t1", "q1\td2\t1"])

    assert load_dataset(tmp_path).qrels == {"q1": {"d1": 1, "d2": 1}}


def test_load_dataset_prefers_the_split_queries_file(dataset_root: Path) -> None:
    write_jsonl(dataset_root / "queries.test.jsonl", [{"_id": "q1", "text": "split wording"}])

    dataset = load_dataset(dataset_root)

    assert dataset.queries == {"q1": "split wording"}
    assert set(dataset.qrels) == {"q1"}


def test_load_dataset_reads_the_requested_split(dataset_root: Path) -> None:
    write_qrels(dataset_root, "dev", ["q3\td7\t1"])

    dataset = load_dataset(dataset_root, split="dev")

    assert (dataset.queries, dataset.qrels) == ({"q3": "not judged"}, {"q3": {"d7": 1}})


def test_load_dataset_without_the_split_is_a_bad_request(dataset_root: Path) -> None:
    with pytest.raises(BadRequest):
        load_dataset(dataset_root, split="train")


def test_load_dataset_reads_numeric_ids_as_strings(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "queries.jsonl", [{"_id": 7, "text": "numbered"}])
    write_qrels(tmp_path, "test", ["7\t100\t1"])

    assert load_dataset(tmp_path).queries == {"7": "numbered"}


CORPUS: list[dict[str, Any]] = [
    {"_id": "d1", "title": "One", "text": "first text"},
    {"_id": 2, "text": "no title"},
    {"_id": "d3", "title": None, "text": None},
]
EXPECTED = [CorpusDoc("d1", "One", "first text"), CorpusDoc("2", "", "no title"), CorpusDoc("d3", "", "")]


def test_read_corpus_in_file_order(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "corpus.jsonl", CORPUS)

    assert list(read_corpus(tmp_path)) == EXPECTED


def test_read_corpus_skips_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text('\n{"_id": "d1", "text": "x"}\n\n', encoding="utf-8")

    assert list(read_corpus(tmp_path)) == [CorpusDoc("d1", "", "x")]


def test_read_corpus_from_gzip(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "corpus.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in CORPUS)

    assert list(read_corpus(tmp_path)) == EXPECTED


def test_read_corpus_without_a_corpus_is_a_bad_request(tmp_path: Path) -> None:
    with pytest.raises(BadRequest):
        list(read_corpus(tmp_path))
