"""JSON documents: versions, dedupe, deletes, filters, sorting and pagination."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from helpers.api import retrieve, wait_for_job


def _add(client: TestClient, collection: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = client.post(f"/v1/collections/{collection}/documents", json={"documents": docs})
    assert response.status_code == 202, response.text
    accepted: list[dict[str, Any]] = response.json()["documents"]
    for doc in accepted:
        if doc["status"] == "queued":
            assert wait_for_job(client, doc["job_id"])["status"] == "succeeded"
    return accepted


def test_same_content_again_does_no_work(client: TestClient, collection: str) -> None:
    doc = {"id": "a", "text": "Photosynthesis converts light into chemical energy."}
    first = _add(client, collection, [doc])[0]
    again = _add(client, collection, [doc])[0]
    assert again["status"] == "unchanged"
    assert again["job_id"] == first["job_id"]
    assert client.get(f"/v1/collections/{collection}/documents/a").json()["version"] == 1


def test_changed_content_swaps_the_version(client: TestClient, collection: str) -> None:
    _add(client, collection, [{"id": "v", "text": "The quarterly report mentions zebras."}])
    _add(client, collection, [{"id": "v", "text": "The quarterly report mentions giraffes."}])
    document = client.get(f"/v1/collections/{collection}/documents/v").json()
    assert (document["version"], document["active_version"], document["status"]) == (2, 2, "ready")
    assert retrieve(client, collection, "giraffes", mode="keyword")["results"]
    assert retrieve(client, collection, "zebras", mode="keyword")["results"] == []


def test_metadata_change_needs_no_reindex(client: TestClient, collection: str) -> None:
    _add(client, collection, [{"id": "m", "text": "Tides follow the moon.", "metadata": {"year": 2020}}])
    again = _add(
        client, collection, [{"id": "m", "text": "Tides follow the moon.", "metadata": {"year": 2024}}]
    )
    assert again[0]["status"] == "metadata_updated"
    hits = retrieve(client, collection, "moon tides", filters={"year": 2024})["results"]
    assert [h["document_id"] for h in hits] == ["m"]


def test_delete_removes_from_both_legs(client: TestClient, collection: str) -> None:
    _add(client, collection, [{"id": "gone", "text": "Volcanic eruptions release sulfur dioxide."}])
    response = client.delete(f"/v1/collections/{collection}/documents/gone")
    assert response.status_code == 202
    assert retrieve(client, collection, "volcanic sulfur", mode="keyword")["results"] == []
    assert retrieve(client, collection, "volcanic sulfur", mode="vector")["results"] == []
    wait_for_job(client, response.json()["job_id"])
    assert client.get(f"/v1/collections/{collection}/documents/gone").status_code == 404


def test_upload_again_right_after_delete_keeps_the_new_document(client: TestClient, collection: str) -> None:
    _add(client, collection, [{"id": "back", "text": "Glaciers carve U-shaped valleys."}])
    deleted = client.delete(f"/v1/collections/{collection}/documents/back")
    again = client.post(
        f"/v1/collections/{collection}/documents",
        json={"documents": [{"id": "back", "text": "Coral reefs bleach in warm water."}]},
    )
    assert (deleted.status_code, again.status_code) == (202, 202)
    wait_for_job(client, deleted.json()["job_id"])
    wait_for_job(client, again.json()["documents"][0]["job_id"])
    document = client.get(f"/v1/collections/{collection}/documents/back").json()
    # v2 when the upload came before the purge, v1 when the purge had already removed the old row
    assert document["status"] == "ready"
    assert document["active_version"] == document["version"]
    assert [
        h["document_id"] for h in retrieve(client, collection, "coral reefs", mode="keyword")["results"]
    ] == ["back"]
    assert retrieve(client, collection, "glaciers valleys", mode="keyword")["results"] == []


def test_filters_sort_and_offset(client: TestClient, collection: str) -> None:
    docs = [
        {
            "id": f"d{i}",
            "text": f"Solar panel efficiency study number {i}.",
            "metadata": {"year": 2018 + i, "kind": k},
        }
        for i, k in enumerate(["paper", "blog", "paper", "paper", "blog"])
    ]
    _add(client, collection, docs)
    papers = retrieve(client, collection, "solar panel efficiency", filters={"kind": "paper"}, top_k=10)[
        "results"
    ]
    assert {h["document_id"] for h in papers} == {"d0", "d2", "d3"}
    recent = retrieve(client, collection, "solar panel", filters={"year": {"gte": 2021}}, top_k=10)["results"]
    assert {h["document_id"] for h in recent} == {"d3", "d4"}
    newest = retrieve(client, collection, "solar panel", sort={"by": "year", "order": "desc"}, top_k=10)[
        "results"
    ]
    assert [h["document_id"] for h in newest] == ["d4", "d3", "d2", "d1", "d0"]
    second_page = retrieve(
        client, collection, "solar panel", sort={"by": "year", "order": "desc"}, top_k=2, offset=2
    )["results"]
    assert [h["document_id"] for h in second_page] == ["d2", "d1"]


def test_highlights_mark_matched_terms(client: TestClient, collection: str) -> None:
    _add(client, collection, [{"id": "h", "text": "Running shoes reduce injuries for runners."}])
    hit = retrieve(client, collection, "running", mode="keyword")["results"][0]
    assert "<em>Running</em>" in hit["highlights"][0]


def test_empty_text_is_a_bad_request(client: TestClient, collection: str) -> None:
    response = client.post(f"/v1/collections/{collection}/documents", json={"text": "   "})
    assert response.status_code in (400, 422)
    assert "error" in response.json()


def test_a_batch_with_one_empty_text_stores_nothing(client: TestClient, collection: str) -> None:
    docs = [{"id": "fine", "text": "Tides rise twice a day."}, {"id": "empty", "text": " "}]

    response = client.post(f"/v1/collections/{collection}/documents", json={"documents": docs})

    assert response.status_code == 400, response.text
    assert "'empty'" in response.json()["error"]["message"]
    assert client.get(f"/v1/collections/{collection}/documents").json()["documents"] == []
    assert client.get(f"/v1/collections/{collection}/documents/fine").status_code == 404


def test_a_batch_repeating_an_id_keeps_the_last_version(client: TestClient, collection: str) -> None:
    docs = [{"id": "r", "text": "Zebras graze."}, {"id": "r", "text": "Giraffes browse."}]

    first, second = _add(client, collection, docs)

    assert (first["version"], second["version"]) == (1, 2)
    document = client.get(f"/v1/collections/{collection}/documents/r").json()
    assert (document["version"], document["active_version"], document["status"]) == (2, 2, "ready")


def test_documents_list_filters_and_pages(client: TestClient, collection: str) -> None:
    _add(
        client,
        collection,
        [{"id": f"p{i}", "text": f"Page test {i}.", "metadata": {"n": i}} for i in range(5)],
    )
    url = f"/v1/collections/{collection}/documents"
    filtered = client.get(url, params={"filter": '{"n": {"gte": 3}}'}).json()["documents"]
    assert {d["id"] for d in filtered} == {"p3", "p4"}
    first = client.get(url, params={"limit": 3}).json()
    second = client.get(url, params={"limit": 3, "cursor": first["next_cursor"]}).json()
    ids = [d["id"] for d in first["documents"] + second["documents"]]
    assert sorted(ids) == [f"p{i}" for i in range(5)]
    assert second["next_cursor"] is None


def test_chunks_are_sized_for_the_embedder_only_where_it_reads_the_language(
    client: TestClient, collection: str
) -> None:
    english = " ".join(f"Sentence {i} describes tidal turbines on the seabed." for i in range(60))
    korean = " ".join(f"{i}번째 문장은 해저에 설치된 조력 발전기를 설명합니다." for i in range(15))
    _add(client, collection, [{"id": "en", "text": english}, {"id": "ko", "text": korean}])
    chunks = {
        d: client.get(f"/v1/collections/{collection}/documents/{d}").json()["chunk_count"]
        for d in ("en", "ko")
    }
    assert chunks["en"] >= 3  # 256-token chunks for MiniLM
    assert chunks["ko"] == 1  # ~700 MiniLM tokens: one keyword-sized chunk, as MiniLM cannot read Korean


def test_hybrid_weight_can_be_set_per_request(client: TestClient, collection: str) -> None:
    _add(client, collection, [{"id": "w", "text": "Wind turbines convert kinetic energy."}])
    default = retrieve(client, collection, "wind turbines")
    keyword_only = retrieve(client, collection, "wind turbines", vector_weight=0.0)
    assert 0.1 <= default["vector_weight"] <= 0.9  # moved by the embedder's confidence in its best match
    assert keyword_only["vector_weight"] == 0.0
    assert keyword_only["results"][0]["document_id"] == "w"
