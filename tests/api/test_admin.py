"""The dashboard's endpoints (/v1/admin/...), the time filter of /v1/jobs and the /ui page's files."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from helpers.api import upload, wait_for_job

BROKEN_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> garbage"


def dead_job(client: TestClient, collection: str, name: str = "broken.pdf") -> str:
    """Upload a corrupt PDF and return its job, dead at once with the reason."""
    accepted = upload(client, collection, [(name, BROKEN_PDF)]).json()["documents"][0]
    job = wait_for_job(client, accepted["job_id"])
    assert job["status"] == "dead", job
    return str(job["id"])


def test_overview_counts_jobs_and_has_an_hour_of_minutes(client: TestClient, collection: str) -> None:
    dead_job(client, collection)

    overview = client.get("/v1/admin/overview").json()

    assert overview["totals"]["dead"] >= 1
    assert any(c["kind"] == "document.ingest" and c["status"] == "dead" for c in overview["counts"])
    assert len(overview["series"]) == 60
    assert sum(p["dead"] for p in overview["series"]) >= 1
    assert overview["depth"] >= 0
    assert overview["throughput_per_minute"] > 0


def test_the_overview_window_and_bucket_can_be_chosen(client: TestClient) -> None:
    overview = client.get("/v1/admin/overview", params={"window_s": 600, "bucket_s": 30}).json()

    assert len(overview["series"]) == 20


def test_workers_lists_the_server_s_own_worker(client: TestClient) -> None:
    found = client.get("/v1/admin/workers").json()

    [worker] = found["workers"]
    assert "ingest-0" in worker["lanes"]
    assert worker["last_seen"] <= found["now"]


def test_retry_dead_replays_the_dead_jobs_of_a_collection(client: TestClient, collection: str) -> None:
    job_id = dead_job(client, collection)

    response = client.post("/v1/admin/jobs/retry-dead", json={"collection": collection})

    assert response.status_code == 200
    assert response.json() == {"retried": 1}
    job = wait_for_job(client, job_id)  # the same corrupt file: it dies again, one more failed attempt
    assert job["status"] == "dead"
    assert len(job["history"]) == 2


def test_retry_dead_of_a_collection_without_dead_jobs_retries_nothing(
    client: TestClient, collection: str
) -> None:
    response = client.post("/v1/admin/jobs/retry-dead", json={"collection": collection})

    assert response.json() == {"retried": 0}


def test_job_detail_carries_the_stored_payload(client: TestClient, collection: str) -> None:
    job_id = dead_job(client, collection)

    detail = client.get(f"/v1/admin/jobs/{job_id}").json()

    assert detail["id"] == job_id
    assert detail["payload"]["blob"]
    assert detail["status"] == "dead"


def test_jobs_since_and_until_bound_the_creation_time(client: TestClient, collection: str) -> None:
    first = dead_job(client, collection, "first.pdf")
    middle = time.time()
    second = dead_job(client, collection, "second.pdf")

    def listed(**params: float) -> list[str]:
        page = client.get("/v1/jobs", params={"collection": collection, **params}).json()
        return [j["id"] for j in page["jobs"]]

    assert listed(since=middle) == [second]
    assert listed(until=middle) == [first]
    assert listed() == [second, first]


def test_admin_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert {"/v1/admin/overview", "/v1/admin/workers", "/v1/admin/jobs/retry-dead"} <= set(paths)
    assert not any(p.startswith("/ui") for p in paths)


def test_ui_serves_the_page_at_every_path_under_it(client: TestClient) -> None:
    for path in ("/ui", "/ui/", "/ui/jobs/anything"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/ui/assets/app.js">' in response.text


def test_ui_assets_come_from_the_package_with_their_types(client: TestClient) -> None:
    script = client.get("/ui/assets/app.js")
    style = client.get("/ui/assets/app.css")

    assert script.headers["content-type"].startswith("text/javascript")
    assert "hashchange" in script.text
    assert style.headers["content-type"].startswith("text/css")


def test_an_unknown_ui_asset_is_not_found(client: TestClient) -> None:
    for name in ("routes.py", "__init__.py", "secret.txt"):
        assert client.get(f"/ui/assets/{name}").status_code == 404
