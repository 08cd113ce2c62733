"""`ragworks consume`: the dry run shows what a message becomes; mistakes exit with the reason."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import ragworks

STREAMS = """
[[sources]]
name = "articles"
url = "redis://127.0.0.1:1/0"
stream = "articles"
collection = "news"
[sources.fields]
id = "article_id"
metadata = ["author"]

[[sources]]
name = "requests"
url = "nats://127.0.0.1:1"
stream = "requests"
kind = "services"
results = "results"
"""


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "streams.toml"
    path.write_text(STREAMS)
    return path


def test_a_dry_run_maps_a_sample_message(tmp_path: Path) -> None:
    message = {"article_id": 7, "title": "Hi", "text": "body", "author": "kim", "other": 1}
    run = ragworks("consume", "-c", str(_config(tmp_path)), "--dry-run", "--message", json.dumps(message))
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert shown["action"] == "upsert" and shown["collection"] == "news"
    assert shown["document"] == {
        "id": "7",
        "title": "Hi",
        "text": "body",
        "text_chars": 4,
        "metadata": {"author": "kim"},
    }


def test_a_dry_run_of_a_service_request_from_a_file(tmp_path: Path) -> None:
    sample = tmp_path / "request.json"
    sample.write_text('{"service": "summarize", "input": {"text": "t"}}')
    run = ragworks(
        "consume",
        "-c",
        str(_config(tmp_path)),
        "--dry-run",
        "--source",
        "requests",
        "--message",
        f"@{sample}",
        "--key",
        "r-1",
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "source": "requests",
        "action": "service",
        "service": "summarize",
        "input": {"text": "t"},
        "correlation_id": "r-1",
    }


def test_a_dry_run_of_a_poison_message_says_where_it_would_fail(tmp_path: Path) -> None:
    run = ragworks("consume", "-c", str(_config(tmp_path)), "--dry-run", "--message", '{"text": "no id"}')
    assert run.returncode == 1
    assert json.loads(run.stdout)["dead_letter"] == {
        "stage": "map",
        "error": "field 'article_id' (id) is missing",
    }


def test_mistakes_exit_2_with_the_reason(tmp_path: Path) -> None:
    missing = ragworks("consume", "-c", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    unknown = ragworks(
        "consume", "-c", str(_config(tmp_path)), "--dry-run", "--source", "x", "--message", "{}"
    )
    assert unknown.returncode == 2 and "no source named 'x' (there are: articles, requests)" in unknown.stderr
    embedded = ragworks("consume", "-c", str(_config(tmp_path)))  # no RAGWORKS_STORE__URL: SQLite
    assert embedded.returncode == 2 and "ragworks serve --streams" in embedded.stderr
