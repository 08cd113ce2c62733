"""Corpora and cached indexes of bench/peers_compare.py: each set's passages, a sample of its test
queries with their judgements, and a stamp beside each cached index saying what it holds."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import read_docs


@dataclass
class Corpus:
    name: str
    documents: list[dict[str, Any]]
    queries: dict[str, str]  # test query id -> text
    qrels: dict[str, dict[str, int]]


def load_corpora(root: Path, names: Sequence[str], limit: int | None, sample: int | None) -> list[Corpus]:
    """The sets in ``names``: the first ``limit`` passages, ``sample`` test queries (fixed seed) or all."""
    from ragworks.evaluation.beir import load_dataset

    corpora = []
    for name in names:
        dataset = load_dataset(root / name, "test")
        ids = sorted(dataset.queries)
        if sample is not None and sample < len(ids):
            ids = sorted(random.Random(3).sample(ids, sample))
        corpora.append(
            Corpus(
                name=name,
                documents=read_docs(root / name, limit),
                queries={i: dataset.queries[i] for i in ids},
                qrels={i: dataset.qrels[i] for i in ids},
            )
        )
    return corpora


def _stamp(index: Path) -> Path:
    return index.parent / f"{index.name}.json"


def cached(index: Path, facts: dict[str, Any]) -> bool:
    """Whether ``index`` was finished with the same ``facts`` (passages per set, source hash...)."""
    stamp = _stamp(index)
    return index.is_dir() and stamp.is_file() and json.loads(stamp.read_text()) == facts


def mark_cached(index: Path, facts: dict[str, Any]) -> None:
    _stamp(index).write_text(json.dumps(facts, indent=2))
