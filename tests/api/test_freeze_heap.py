"""``ragworks serve`` freezes the start-up heap: the garbage collector's full passes skip it."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from ragworks.app import create_app
from ragworks.config import LLMSettings, Settings


def test_objects_alive_after_start_up_are_frozen_until_shutdown(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, log_json=False, llm=LLMSettings(provider="extractive"))
    before = gc.get_freeze_count()

    with TestClient(create_app(settings, freeze_heap=True)) as client:
        assert client.get("/ready").status_code == 200
        frozen = gc.get_freeze_count()

    assert before == 0
    assert frozen > 100_000  # torch, the model and every imported module
    assert gc.get_freeze_count() == 0  # unfrozen at shutdown (the process may go on)


def test_apps_built_for_tests_and_embedding_do_not_freeze(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, log_json=False, llm=LLMSettings(provider="extractive"))

    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        assert gc.get_freeze_count() == 0
