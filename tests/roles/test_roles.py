"""Each process role is composed from the settings and loads only what it uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ragworks.config import Settings
from ragworks.roles.api import build_api
from ragworks.roles.worker import build_worker_role

HEAVY = ("torch", "transformers", "tantivy", "usearch", "llama_cpp", "kiwipiepy")

# Runs in a fresh interpreter: which heavy modules does building and starting a role import?
_PROBE = """
import json, sys, asyncio
from pathlib import Path
from ragworks.config import Settings
from ragworks.roles.consumer import build_consumer
consumer = build_consumer(Settings(data_dir=Path(sys.argv[1])))
consumer.start()
consumer.core.stores.store.create_collection("c", "auto", "")
consumer.stop()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


def test_a_consumer_starts_without_models_or_index(tmp_path: Path) -> None:
    probe = _PROBE.replace("{heavy}", repr(set(HEAVY)))
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("build", [build_api, build_worker_role])
def test_scaled_roles_refuse_engines_of_one_process(build: object, tmp_path: Path) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match="store.url must name a shared database") as refused:
        build(Settings(data_dir=tmp_path))
    assert "index.provider 'local'" in str(refused.value)


def test_the_embedded_role_owns_only_its_own_engines(tmp_path: Path) -> None:
    from ragworks.roles.embedded import build_embedded

    assert build_embedded(Settings(data_dir=tmp_path)).exclusive is True
    shared = Settings(data_dir=tmp_path)
    shared.store.url = "postgresql+psycopg://u:p@127.0.0.1:5432/ragworks"
    shared.index.provider = "postgres"
    assert build_embedded(shared).exclusive is False
