"""`ragworks eval` on a small BEIR-format set written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragworks.cli.main import app

pytestmark = pytest.mark.integration

CORPUS = [
    ("d1", "Tides", "The moon's gravity raises ocean tides twice a day."),
    ("d2", "Volcanoes", "Volcanic eruptions release ash and sulfur dioxide into the air."),
    ("d3", "Glaciers", "Glaciers are rivers of ice that carve deep valleys."),
    ("d4", "Vaccines", "Vaccines train the immune system to recognise a pathogen."),
]
QUERIES = [
    ("q1", "what causes ocean tides", "d1"),
    ("q2", "ice carving valleys", "d3"),
    ("q3", "immune training", "d4"),
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    lines = [json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in CORPUS]
    (root / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps({"_id": q, "text": t}) for q, t, _ in QUERIES))
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in QUERIES)
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


def test_eval_prints_metrics_per_mode_as_json(dataset: Path) -> None:
    result = CliRunner().invoke(app, ["eval", str(dataset), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"keyword", "vector", "hybrid"}
    for metrics in report.values():
        assert {"ndcg@10", "recall@10", "recall@100", "mrr"} <= set(metrics)
    assert report["hybrid"]["recall@10"] == 1.0
    assert report["keyword"]["mrr"] == 1.0


def test_eval_rejects_an_unknown_mode(dataset: Path) -> None:
    result = CliRunner().invoke(app, ["eval", str(dataset), "--mode", "magic"])
    assert result.exit_code != 0
