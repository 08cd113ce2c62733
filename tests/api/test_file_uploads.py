"""Uploading real files of every supported format, and hostile or broken ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from helpers.api import retrieve, upload, wait_for_job
from helpers.files import add_zero_member, make_docx, make_hwpx, make_pdf

HTML = b"""<!doctype html><html><head><title>Glacier guide</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/shop">Shop</a></nav>
<article><h1>Glaciers</h1><p>Glaciers are slowly moving rivers of ice that carve valleys over millennia.
They store about sixty-nine percent of the world's fresh water and respond sensitively to climate.</p>
<p>Meltwater from alpine glaciers feeds rivers that millions of people depend on during dry summers.</p></article>
<footer>Copyright 2024 Example Corp. All rights reserved. Privacy policy.</footer></body></html>"""
MARKDOWN = b"# Release notes\n\n## Version 2\n\nThe scheduler now retries failed uploads with backoff.\n"
KOREAN = "서울 지사의 업무 범위는 고객 상담과 계약 관리입니다. 지사는 매주 보고서를 본사에 제출합니다."


def _docx_with_table(document: Any) -> None:
    document.add_heading("Quarterly inventory", level=1)
    document.add_paragraph("The warehouse counts stock every quarter.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "item", "count"
    table.cell(1, 0).text, table.cell(1, 1).text = "turbines", "17"


def _ingest(client: TestClient, collection: str, files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    response = upload(client, collection, files)
    assert response.status_code == 202, response.text
    documents: list[dict[str, Any]] = response.json()["documents"]
    return [wait_for_job(client, d["job_id"]) for d in documents]


def test_every_format_reaches_ready(client: TestClient, collection: str, shared_data: Path) -> None:
    pdf = make_pdf(
        ["Introduction to tidal energy.", "Tidal turbines sit on the seabed.", "Costs fall yearly."]
    )
    files = [
        ("tides.pdf", pdf),
        ("inventory.docx", make_docx(_docx_with_table)),
        ("sample.hwpx", make_hwpx()),
        ("glaciers.html", HTML),
        ("notes.md", MARKDOWN),
        ("branch-cp949.txt", KOREAN.encode("cp949")),
    ]
    # table.hwp is left out: its only table has empty cells, so it holds no text at all
    hwp = sorted(p for p in (shared_data / "files" / "hwp").glob("*.hwp") if p.name != "table.hwp")
    files += [(p.name, p.read_bytes()) for p in hwp]
    jobs = _ingest(client, collection, files)
    assert [j["status"] for j in jobs] == ["succeeded"] * len(files), [j["error"] for j in jobs]
    listed = client.get(f"/v1/collections/{collection}/documents", params={"limit": 100}).json()["documents"]
    assert {d["status"] for d in listed} == {"ready"}


def test_hwp_without_text_fails_as_empty(client: TestClient, collection: str, shared_data: Path) -> None:
    table_only = (shared_data / "files" / "hwp" / "table.hwp").read_bytes()
    (job,) = _ingest(client, collection, [("table.hwp", table_only)])
    assert (job["status"], job["error"]["code"]) == ("dead", "empty_document")


def test_korean_query_with_other_particles_finds_the_passage(client: TestClient, collection: str) -> None:
    _ingest(client, collection, [("branch.txt", KOREAN.encode("cp949")), ("notes.md", MARKDOWN)])
    # the text says "지사의" and "지사는"; the query says "지사가" and "업무를"
    hits = retrieve(client, collection, "지사가 맡는 업무를 알려줘")["results"]
    assert hits[0]["document_id"] == "branch.txt"
    assert hits[0]["highlights"]


def test_pdf_results_carry_page_numbers(client: TestClient, collection: str) -> None:
    pdf = make_pdf(["Chapter one covers sailing.", "Chapter two covers anchoring in storms.", "The end."])
    _ingest(client, collection, [("manual.pdf", pdf)])
    hit = retrieve(client, collection, "anchoring storms", mode="keyword")["results"][0]
    assert hit["page"] == 2


def test_docx_table_is_searchable(client: TestClient, collection: str) -> None:
    _ingest(client, collection, [("inventory.docx", make_docx(_docx_with_table))])
    hit = retrieve(client, collection, "turbines count", mode="keyword")["results"][0]
    assert "turbines | 17" in hit["text"]


def test_html_menus_are_not_indexed(client: TestClient, collection: str) -> None:
    _ingest(client, collection, [("glaciers.html", HTML)])
    assert retrieve(client, collection, "privacy policy shop", mode="keyword")["results"] == []
    assert retrieve(client, collection, "meltwater rivers", mode="keyword")["results"]


def _assert_fails_alone(client: TestClient, collection: str, name: str, data: bytes, code: str) -> None:
    failed, fine = _ingest(client, collection, [(name, data), ("good.md", MARKDOWN)])
    assert failed["status"] == "dead"
    assert failed["error"]["code"] == code
    assert fine["status"] == "succeeded"
    document = client.get(f"/v1/collections/{collection}/documents/{name}").json()
    assert (document["status"], document["error"]["code"]) == ("failed", code)
    assert retrieve(client, collection, "scheduler retries", mode="keyword")["results"]


def test_corrupt_pdf_fails_its_job_with_the_reason(client: TestClient, collection: str) -> None:
    broken = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> garbage"
    _assert_fails_alone(client, collection, "broken.pdf", broken, "corrupt_document")


def test_zip_bomb_docx_fails_its_job_with_the_reason(client: TestClient, collection: str) -> None:
    bomb = add_zero_member(make_docx(_docx_with_table), "word/media/zeros.bin", 300 * 1024 * 1024)
    _assert_fails_alone(client, collection, "bomb.docx", bomb, "document_limit_exceeded")


def test_unknown_binary_is_refused_with_415(client: TestClient, collection: str) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    response = upload(client, collection, [("image.png", png)])
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_empty_file_is_refused(client: TestClient, collection: str) -> None:
    response = upload(client, collection, [("empty.txt", b"")])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "empty_document"


def test_one_bad_file_does_not_block_the_others(client: TestClient, collection: str) -> None:
    response = upload(client, collection, [("empty.txt", b""), ("notes.md", MARKDOWN)])
    assert response.status_code == 202
    rejected, accepted = response.json()["documents"]
    assert rejected["status"] == "rejected" and rejected["error"]["code"] == "empty_document"
    assert wait_for_job(client, accepted["job_id"])["status"] == "succeeded"


def test_oversized_upload_gets_413_and_the_server_stays_up(client: TestClient, collection: str) -> None:
    response = upload(client, collection, [("big.txt", b"a" * (60 * 1024 * 1024))])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert client.get("/health").status_code == 200


def test_reuploading_a_file_is_unchanged(client: TestClient, collection: str) -> None:
    _ingest(client, collection, [("notes.md", MARKDOWN)])
    again = upload(client, collection, [("notes.md", MARKDOWN)]).json()["documents"][0]
    assert again["status"] == "unchanged"
