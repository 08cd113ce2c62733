"""The authorization matrix: every operation of the API x {no key, tenant A read, tenant A write,
tenant B, admin} gives the expected outcome, and no response to one tenant carries the other's data.

Outcomes are classes, not exact codes: ``allowed`` is any answer that is not 401, 403, 404 or 5xx (a
retry of a job that succeeded is allowed and answers 409), ``hidden`` is 404 (another tenant's
collection or job looks like a missing one), ``denied`` is 403 and ``unauthenticated`` is 401. A test
checks that the matrix names every operation in /openapi.json, so a new route cannot skip it.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.helpers.auth import bearer

from ragworks.app import create_app
from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.wiring import key_store_for
from ragworks.config import AuthSettings, LLMSettings, RateLimitSettings, Settings

WHO = ("none", "read_a", "write_a", "tenant_b", "admin")
A_MARK, B_MARK = "aardvarkmarker", "zebramarker"  # one word each, so keyword search finds them
OPEN, UNAUTH, ALLOWED, DENIED, HIDDEN = "open", "unauthenticated", "allowed", "denied", "hidden"

_names = itertools.count()


@dataclass
class World:
    """The app, its keys and what each tenant owns."""

    client: TestClient
    admin: KeyAdmin
    keys: dict[str, str | None]
    a_collection: str = "mx-a"
    b_collection: str = "mx-b"
    a_document: str = "a-doc"
    a_ingest_job: str = ""
    a_service_job: str = ""
    b_service_job: str = ""
    b_key_id: str = ""
    leaks: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        key = self.keys[who]
        headers = bearer(key) if key else {}
        return self.client.request(method, path, json=body, headers=headers)

    def as_admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self.call("admin", method, path, body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def fresh_a_collection(self) -> str:
        """A new collection of tenant A (for operations that delete it), with one document."""
        name = f"mx-a-{next(_names)}"
        self.as_admin("POST", "/v1/collections", {"name": name, "tenant": "acme"})
        self.as_admin("POST", f"/v1/collections/{name}/documents", {"id": "d", "text": f"{A_MARK} x"})
        return name


def _wait_ready(world: World, collection: str, document: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        doc: dict[str, Any] = world.as_admin("GET", f"/v1/collections/{collection}/documents/{document}")
        if doc["status"] in ("ready", "failed"):
            assert doc["status"] == "ready", doc
            return doc
        time.sleep(0.1)
    raise AssertionError(f"{collection}/{document} never became ready")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("matrix"),
        log_json=False,
        llm=LLMSettings(provider="extractive"),
        auth=AuthSettings(enabled=True, cache_ttl_s=0),
        rate_limits=RateLimitSettings(enabled=False),  # this test is about who, not how often
    )
    with TestClient(create_app(settings)) as client:
        admin = KeyAdmin(key_store_for(client.app.state.container.core.stores))  # type: ignore[attr-defined]
        b_key, b_secret = admin.create(KeyRequest("b", tenant="globex", scope="write"))
        keys: dict[str, str | None] = {
            "none": None,
            "read_a": admin.create(KeyRequest("a-read", tenant="acme", scope="read"))[1],
            "write_a": admin.create(KeyRequest("a-write", tenant="acme", scope="write"))[1],
            "tenant_b": b_secret,
            "admin": admin.create(KeyRequest("ops", admin=True))[1],
        }
        w = World(client, admin, keys, b_key_id=b_key.id)
        w.as_admin("POST", "/v1/collections", {"name": w.a_collection, "tenant": "acme"})
        w.as_admin("POST", "/v1/collections", {"name": w.b_collection, "tenant": "globex"})
        accepted = w.as_admin(
            "POST",
            f"/v1/collections/{w.a_collection}/documents",
            {"id": w.a_document, "text": f"{A_MARK} one"},
        )
        w.a_ingest_job = accepted["documents"][0]["job_id"]
        w.as_admin(
            "POST", f"/v1/collections/{w.b_collection}/documents", {"id": "b-doc", "text": f"{B_MARK} two"}
        )
        _wait_ready(w, w.a_collection, w.a_document)
        _wait_ready(w, w.b_collection, "b-doc")
        search = {"query": "x", "mode": "keyword", "async": True}
        w.a_service_job = w.call(
            "write_a", "POST", "/v1/retrieve", search | {"collections": ["mx-a"]}
        ).json()["job_id"]
        w.b_service_job = w.call(
            "tenant_b", "POST", "/v1/retrieve", search | {"collections": ["mx-b"]}
        ).json()["job_id"]
        # what must never reach the other tenant: its collection names, document text and job ids
        w.leaks = {
            "a": (B_MARK, w.b_collection, w.b_service_job),
            "b": (A_MARK, w.a_collection, w.a_ingest_job, w.a_service_job),
        }
        yield w


Request = Callable[[World], tuple[str, Any]]  # the path and the JSON body of one call


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    request: Request
    expected: dict[str, str]


def tenant_read(**overrides: str) -> dict[str, str]:
    """Reads of tenant A's things: any A key, never B."""
    return {
        "none": UNAUTH,
        "read_a": ALLOWED,
        "write_a": ALLOWED,
        "tenant_b": HIDDEN,
        "admin": ALLOWED,
    } | overrides


def tenant_write(**overrides: str) -> dict[str, str]:
    """Changes to tenant A's things: A's write key; B sees nothing there."""
    return {
        "none": UNAUTH,
        "read_a": DENIED,
        "write_a": ALLOWED,
        "tenant_b": HIDDEN,
        "admin": ALLOWED,
    } | overrides


def any_key() -> dict[str, str]:
    """What every key may call (lists are filtered to the caller's tenant)."""
    return {"none": UNAUTH, "read_a": ALLOWED, "write_a": ALLOWED, "tenant_b": ALLOWED, "admin": ALLOWED}


def operators() -> dict[str, str]:
    return {"none": UNAUTH, "read_a": DENIED, "write_a": DENIED, "tenant_b": DENIED, "admin": ALLOWED}


def on_a(path: str, body: Any = None) -> Request:
    """A call on tenant A's collection (``{c}``), document (``{d}``) and jobs (``{j}``, ``{s}``)."""
    return lambda w: (
        path.format(c=w.a_collection, d=w.a_document, j=w.a_ingest_job, s=w.a_service_job),
        _fill(body, w),
    )


def _fill(value: Any, w: World) -> Any:
    """``value`` with every ``"{c}"`` inside it replaced by tenant A's collection."""
    if value == "{c}":
        return w.a_collection
    if isinstance(value, list):
        return [_fill(v, w) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, w) for k, v in value.items()}
    return value


def fresh(path: str, body: Any = None) -> Request:
    """A call on a new tenant-A collection of its own (deletes must not break later calls)."""

    def build(w: World) -> tuple[str, Any]:
        return path.format(c=w.fresh_a_collection()), body

    return build


def new_collection(_: World) -> tuple[str, Any]:
    return "/v1/collections", {"name": f"mx-new-{next(_names)}"}


def plain(path: str, body: Any = None) -> Request:
    return lambda _: (path, body)


SEARCH = {"query": A_MARK, "collections": ["{c}"], "mode": "keyword"}
OPERATIONS = [
    Operation("GET", "/health", plain("/health"), dict.fromkeys(WHO, OPEN)),
    Operation("GET", "/ready", plain("/ready"), dict.fromkeys(WHO, OPEN)),
    Operation("GET", "/metrics", plain("/metrics"), operators()),
    Operation("GET", "/v1/collections", plain("/v1/collections"), any_key()),
    Operation("POST", "/v1/collections", new_collection, any_key() | {"read_a": DENIED}),
    Operation("GET", "/v1/collections/{name}", on_a("/v1/collections/{c}"), tenant_read()),
    Operation("DELETE", "/v1/collections/{name}", fresh("/v1/collections/{c}"), tenant_write()),
    Operation(
        "GET", "/v1/collections/{name}/documents", on_a("/v1/collections/{c}/documents"), tenant_read()
    ),
    Operation(
        "POST",
        "/v1/collections/{name}/documents",
        on_a("/v1/collections/{c}/documents", {"id": "added", "text": "more"}),
        tenant_write(),
    ),
    Operation(
        "GET",
        "/v1/collections/{name}/documents/{document_id}",
        on_a("/v1/collections/{c}/documents/{d}"),
        tenant_read(),
    ),
    Operation(
        "DELETE",
        "/v1/collections/{name}/documents/{document_id}",
        fresh("/v1/collections/{c}/documents/d"),
        tenant_write(),
    ),
    Operation("GET", "/v1/jobs", plain("/v1/jobs"), any_key()),
    Operation("GET", "/v1/jobs/{job_id}", on_a("/v1/jobs/{j}"), tenant_read()),
    Operation("POST", "/v1/jobs/{job_id}/retry", on_a("/v1/jobs/{s}/retry"), tenant_write()),
    Operation("POST", "/v1/jobs/{job_id}/cancel", on_a("/v1/jobs/{j}/cancel"), tenant_write()),
    Operation("GET", "/v1/events", plain("/v1/events"), any_key()),
    Operation("GET", "/v1/services", plain("/v1/services"), any_key()),
    Operation("POST", "/v1/services/retrieve", on_a("/v1/services/retrieve", SEARCH), tenant_read()),
    Operation("POST", "/v1/retrieve", on_a("/v1/retrieve", SEARCH), tenant_read()),
    Operation(
        "POST",
        "/v1/services/answer",
        on_a("/v1/services/answer", {"question": A_MARK, "collections": ["{c}"]}),
        tenant_read(),
    ),
    Operation(
        "POST", "/v1/answer", on_a("/v1/answer", {"question": A_MARK, "collections": ["{c}"]}), tenant_read()
    ),
    Operation(
        "POST",
        "/v1/services/summarize",
        on_a("/v1/services/summarize", {"collection": "{c}", "document_id": "a-doc"}),
        tenant_read(),
    ),
    Operation(
        "POST",
        "/v1/summarize",
        on_a("/v1/summarize", {"collection": "{c}", "document_id": "a-doc"}),
        tenant_read(),
    ),
    Operation(
        "POST",
        "/v1/services/complete",
        on_a("/v1/services/complete", {"prefix": "aard", "collections": ["{c}"]}),
        tenant_read(),
    ),
    Operation(
        "POST",
        "/v1/complete",
        on_a("/v1/complete", {"prefix": "aard", "collections": ["{c}"]}),
        tenant_read(),
    ),
    Operation(
        "POST", "/v1/services/refine", plain("/v1/services/refine", {"query": "what is it"}), any_key()
    ),
    Operation("POST", "/v1/refine", plain("/v1/refine", {"query": "what is it"}), any_key()),
    Operation(
        "POST",
        "/v1/services/refine_and_retrieve",
        on_a("/v1/services/refine_and_retrieve", {"query": A_MARK, "collections": ["{c}"]}),
        tenant_read(),
    ),
    Operation("POST", "/v1/services/embed", plain("/v1/services/embed", {"texts": ["x"]}), any_key()),
    Operation("POST", "/v1/embed", plain("/v1/embed", {"texts": ["x"]}), any_key()),
    Operation(
        "POST",
        "/v1/chat/completions",
        on_a(
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": A_MARK}], "ragworks": {"collections": ["{c}"]}},
        ),
        tenant_read(),
    ),
    Operation("POST", "/v1/embeddings", plain("/v1/embeddings", {"input": "x"}), any_key()),
    Operation("GET", "/v1/models", plain("/v1/models"), any_key()),
    Operation("GET", "/v1/usage", plain("/v1/usage"), any_key()),
    Operation("GET", "/v1/usage/queries", plain("/v1/usage/queries"), any_key()),
    Operation("GET", "/v1/admin/overview", plain("/v1/admin/overview"), operators()),
    Operation("GET", "/v1/admin/workers", plain("/v1/admin/workers"), operators()),
    Operation("GET", "/v1/admin/jobs/{job_id}", on_a("/v1/admin/jobs/{j}"), operators()),
    Operation("POST", "/v1/admin/jobs/retry-dead", plain("/v1/admin/jobs/retry-dead", {}), operators()),
    Operation("GET", "/v1/admin/keys", plain("/v1/admin/keys"), operators()),
    Operation(
        "POST", "/v1/admin/keys", plain("/v1/admin/keys", {"name": "k", "tenant": "acme"}), operators()
    ),
    Operation(
        "DELETE", "/v1/admin/keys/{key_id}", lambda w: (f"/v1/admin/keys/{_spare_key(w)}", None), operators()
    ),
]


def _spare_key(w: World) -> str:
    """A fresh key of tenant A for one revoke call."""
    key, _ = w.admin.create(KeyRequest(f"spare-{next(_names)}", tenant="acme"))
    return key.id


def outcome(status: int) -> str:
    if status == 401:
        return UNAUTH
    if status == 403:
        return DENIED
    if status == 404:
        return HIDDEN
    assert status < 500, f"a server error: {status}"
    return ALLOWED


def test_the_matrix_names_every_operation(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    documented = {(m.upper(), path) for path, ops in schema["paths"].items() for m in ops}
    assert documented == {(op.method, op.template) for op in OPERATIONS}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.template}")
@pytest.mark.parametrize("who", WHO)
def test_each_caller_gets_the_expected_outcome(world: World, op: Operation, who: str) -> None:
    path, body = op.request(world)
    response = world.call(who, op.method, path, body)
    expected = op.expected[who]
    got = outcome(response.status_code)
    if expected == OPEN:
        assert response.status_code == 200, response.text
    else:
        assert got == expected, f"{who} {op.method} {path}: {response.status_code} {response.text[:300]}"
    if got == UNAUTH:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if who in ("read_a", "write_a", "tenant_b"):
        text, sent = response.text, path + json.dumps(body)
        for leaked in world.leaks["a" if who != "tenant_b" else "b"]:
            if leaked not in sent:  # an error may name what the caller itself sent
                assert leaked not in text, f"{who} {op.method} {path} saw {leaked!r}: {text[:300]}"


def test_nothing_changed_where_a_caller_was_refused(world: World) -> None:
    """Refused deletes deleted nothing: tenant A's first collection and document are still there."""
    doc = world.as_admin("GET", f"/v1/collections/{world.a_collection}/documents/{world.a_document}")
    assert doc["status"] == "ready"
    names = {c["name"] for c in world.as_admin("GET", "/v1/collections")["collections"]}
    assert {world.a_collection, world.b_collection} <= names


def test_each_tenant_lists_only_its_own(world: World) -> None:
    def names(who: str) -> set[str]:
        return {c["name"] for c in world.call(who, "GET", "/v1/collections").json()["collections"]}

    assert world.b_collection not in names("read_a") and world.a_collection in names("read_a")
    assert names("tenant_b") >= {world.b_collection} and not any(
        n.startswith("mx-a") for n in names("tenant_b")
    )
    b_jobs = {j["id"] for j in world.call("tenant_b", "GET", "/v1/jobs").json()["jobs"]}
    assert world.b_service_job in b_jobs and world.a_ingest_job not in b_jobs
    a_events = world.call("read_a", "GET", "/v1/events").json()["events"]
    assert a_events and all(e["collection"].startswith("mx-a") for e in a_events if e["collection"])
    assert {e["job_id"] for e in a_events if e["collection"] is None} == {world.a_service_job}


def test_a_key_limited_to_one_collection_sees_only_that_one(world: World) -> None:
    _, limited = world.admin.create(KeyRequest("one", tenant="acme", collections=[world.a_collection]))
    other = world.fresh_a_collection()
    listed = world.client.get("/v1/collections", headers=bearer(limited)).json()["collections"]
    assert [c["name"] for c in listed] == [world.a_collection]
    assert world.client.get(f"/v1/collections/{other}", headers=bearer(limited)).status_code == 404
    created = world.client.post("/v1/collections", json={"name": "mx-nope"}, headers=bearer(limited))
    assert created.status_code == 403


def test_a_tenant_key_cannot_create_for_another_tenant(world: World) -> None:
    response = world.call("write_a", "POST", "/v1/collections", {"name": "mx-steal", "tenant": "globex"})
    assert response.status_code == 403
    mine = world.call("write_a", "POST", "/v1/collections", {"name": "mx-own"})
    assert mine.status_code == 201 and mine.json()["tenant"] == "acme"
