"""Reading BEIR-format data sets: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragworks.errors import BadRequest


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    id: str
    title: str
    text: str


@dataclass(slots=True)
class Dataset:
    """Queries and judgements of one split; the corpus is streamed separately."""

    root: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}


def _open(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        yield from lines


def corpus_path(root: Path) -> Path:
    """corpus.jsonl or corpus.jsonl.gz under ``root``."""
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (root / name).is_file():
            return root / name
    raise BadRequest(f"no corpus.jsonl in {root}")


def read_corpus(root: Path) -> Iterator[CorpusDoc]:
    """Documents of the corpus, in file order."""
    for line in _open(corpus_path(root)):
        if line.strip():
            record = json.loads(line)
            yield CorpusDoc(str(record["_id"]), record.get("title") or "", record.get("text") or "")


def load_dataset(root: Path, split: str = "test") -> Dataset:
    """Queries with judgements in ``qrels/<split>.tsv`` (others are not evaluated)."""
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise BadRequest(f"no qrels for split '{split}' at {qrels_path}")
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(_open(qrels_path)):
        parts = line.rstrip("\n").split("\t")
        if number == 0 and not parts[-1].lstrip("-").isdigit():
            continue  # header
        if len(parts) >= 3:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries: dict[str, str] = {}
    split_file = root / f"queries.{split}.jsonl"
    for line in _open(split_file if split_file.is_file() else root / "queries.jsonl"):
        if line.strip():
            record = json.loads(line)
            if str(record["_id"]) in qrels:
                queries[str(record["_id"])] = record["text"]
    return Dataset(root=root, queries=queries, qrels={q: r for q, r in qrels.items() if q in queries})
