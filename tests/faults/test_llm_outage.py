"""The LLM server hung, then killed, then back, under `ragworks serve` (the embedded profile).

`ragworks model-serve --llm` serves the bundled Gemma model over its OpenAI-compatible HTTP side;
the server under test uses it as its LLM (``llm.provider = "openai"``). SIGSTOP freezes it: an answer
fails with 504 ``llm_timeout`` once ``llm.timeout_s`` has passed for each try (never hanging), and
searches keep working. SIGCONT: answers again. SIGKILL: an answer fails at once with 503
``llm_unreachable``; answers asked as background jobs meanwhile fail their attempts and retry. Once
the service is started again on the same port, every one of those jobs succeeds. The numbers are
printed (`pytest -s`).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.ledger import Store, sqlite_url
from helpers.model_serve_process import ModelServeProcess
from helpers.probes import Probe, create_collection, probe, wait_for
from helpers.server import Server
from ragworks.engines.llm.bundled import MODEL_ID

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLLECTION = "fault-llm"
TIMEOUT_S = 5.0  # llm.timeout_s: a short prompt takes Gemma 270M about a second on two busy cores
RETRIES = 0  # llm.max_retries: one request per answer, so a hung server costs one timeout
FAST_S = 5.0
BACKGROUND = 3
TOPICS = ["tides follow the moon", "glaciers carve valleys", "volcanoes build islands", "rivers make deltas"]
QUESTION = {"question": "What do tides follow?", "collections": [COLLECTION], "top_k": 2, "max_tokens": 8}


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[ModelServeProcess, Server]]:
    """The model service with the bundled LLM, and `ragworks serve` using it; started side by side
    (the server needs no LLM to start)."""
    service = ModelServeProcess(
        tmp_path / "model-data",
        env={
            "RAGWORKS_MODEL_SERVICE__SERVE_LLM": "true",
            "RAGWORKS_LLM__PROVIDER": "llamacpp",
            "RAGWORKS_LLM__LOAD": "start",  # serving means loaded
        },
    )
    (tmp_path / "data").mkdir()
    server = Server(
        tmp_path / "data",
        env={
            "RAGWORKS_LLM__PROVIDER": "openai",
            "RAGWORKS_LLM__BASE_URL": f"{service.http_url}/v1",
            "RAGWORKS_LLM__MODEL": MODEL_ID,
            "RAGWORKS_LLM__TIMEOUT_S": str(TIMEOUT_S),
            "RAGWORKS_LLM__MAX_RETRIES": str(RETRIES),
            "RAGWORKS_SERVICES__MAX_ATTEMPTS": "50",  # an LLM outage is ridden out by retries
            "RAGWORKS_JOBS__BACKOFF_BASE_S": "0.5",
            "RAGWORKS_JOBS__BACKOFF_MAX_S": "2",
        },
    )
    starting = threading.Thread(target=service.start)
    starting.start()
    try:
        server.start()
        starting.join()
        assert service.process is not None and service.process.poll() is None, "model-serve did not start"
        yield service, server
    finally:
        starting.join()
        server.stop()
        if service.process is not None and service.process.poll() is None:
            service.process.send_signal(signal.SIGCONT)  # a frozen process cannot stop
        service.stop()


def _answer(client: httpx.Client) -> Probe:
    return probe(client, "POST", "/v1/answer", QUESTION)


def _until_answered(client: httpx.Client, timeout_s: float) -> float:
    started = time.monotonic()
    wait_for(lambda: _answer(client).status == 200, timeout_s, "an answer")
    return time.monotonic() - started


def test_a_hung_or_dead_llm_server_gets_clear_errors_and_jobs_finish_after(
    servers: tuple[ModelServeProcess, Server],
) -> None:
    service, server = servers
    assert service.process is not None
    create_collection(server.url, COLLECTION)
    store = Store(sqlite_url(server.data_dir))
    documents = [
        {"id": f"doc-{n}", "text": f"Document {n}: {TOPICS[n % 4]}, as the record shows."} for n in range(8)
    ]
    with httpx.Client(base_url=server.url, timeout=120) as client:
        assert (
            client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": documents}).status_code
            == 202
        )
        store.wait_until_ready(COLLECTION, [d["id"] for d in documents], timeout_s=120)
        first_s = _until_answered(client, 60)
        healthy = _answer(client)
        assert healthy.status == 200, healthy.line()

        service.process.send_signal(signal.SIGSTOP)
        hung = _answer(client)
        search = probe(client, "POST", "/v1/retrieve", {"query": "tides", "collections": [COLLECTION]})
        service.process.send_signal(signal.SIGCONT)
        after_hang_s = _until_answered(client, 120)

        service.kill()
        dead = _answer(client)
        background = [client.post("/v1/answer", json={**QUESTION, "async": True}) for _ in range(BACKGROUND)]
        assert [r.status_code for r in background] == [202] * BACKGROUND, background[0].text
        jobs = [response.json()["job_id"] for response in background]
        wait_for(lambda: _attempts(client, jobs) > len(jobs), 60, "the background answers to retry")
        attempts_while_down = _attempts(client, jobs)
        service.start()
        restarted_at = time.monotonic()
        wait_for(lambda: _statuses(client, jobs) == ["succeeded"] * len(jobs), 120, "the background answers")
        jobs_done_s = time.monotonic() - restarted_at
        after_restart_s = _until_answered(client, 60)
    store.close()

    print(
        f"\nLLM outage: first answer after {first_s:.1f} s, then {healthy.line()}; SIGSTOP: answer {hung.line()}"
        f" (llm.timeout_s {TIMEOUT_S:g}, llm.max_retries {RETRIES}), search {search.line()}; SIGCONT: answered again"
        f" after {after_hang_s:.1f} s; SIGKILL: answer {dead.line()}; {len(jobs)} background answers made"
        f" {attempts_while_down} attempts while it was down, all succeeded {jobs_done_s:.1f} s after the"
        f" restart; a direct answer {after_restart_s:.1f} s after"
    )
    assert (hung.status, hung.code) == (504, "llm_timeout")
    assert TIMEOUT_S <= hung.seconds < (RETRIES + 1) * TIMEOUT_S + FAST_S
    assert search.status == 200
    assert (dead.status, dead.code) == (503, "llm_unreachable") and dead.seconds < FAST_S


def _jobs(client: httpx.Client, ids: list[str]) -> list[dict[str, object]]:
    return [client.get(f"/v1/jobs/{job_id}").json() for job_id in ids]


def _attempts(client: httpx.Client, ids: list[str]) -> int:
    return sum(int(str(job["attempts"])) for job in _jobs(client, ids))


def _statuses(client: httpx.Client, ids: list[str]) -> list[str]:
    return [str(job["status"]) for job in _jobs(client, ids)]
