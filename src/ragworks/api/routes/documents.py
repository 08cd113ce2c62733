"""Documents: upload files or JSON, list, get, delete."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from ragworks.api.access import collection_in_path
from ragworks.api.deps import DocumentsDep
from ragworks.api.schemas import (
    TEXT_DOCUMENTS_SCHEMA,
    AcceptedDocument,
    AcceptedDocuments,
    DocumentOut,
    DocumentPage,
    ErrorBody,
    TextDocumentIn,
    TextDocumentsIn,
)
from ragworks.domain import Acceptance
from ragworks.errors import BadRequest, UnsupportedMediaType
from ragworks.services.documents import Rejection, TextDocument, Upload
from ragworks.services.retrieve import parse_filters

# every route here is under one collection: the caller must see it (and hold write to change it)
router = APIRouter(
    prefix="/v1/collections/{name}/documents",
    tags=["documents"],
    dependencies=[Depends(collection_in_path)],
)

_UPLOAD_DOC = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "metadata": {"type": "string", "description": "JSON object applied to every file"},
                    },
                    "required": ["files"],
                }
            },
            "application/json": {"schema": TEXT_DOCUMENTS_SCHEMA},
        },
        "required": True,
    }
}


@router.post(
    "",
    status_code=202,
    response_model=AcceptedDocuments,
    summary="Add documents: multipart files (PDF, DOCX, HWP, HWPX, HTML, Markdown, text, JSON) or JSON text",
    openapi_extra=_UPLOAD_DOC,
)
async def add_documents(name: str, request: Request, documents: DocumentsDep) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    results: list[Acceptance | Rejection]
    if content_type.startswith("multipart/form-data"):
        uploads, metadata = await _read_form(request)
        results = await documents.accept_files(name, uploads, metadata)
    elif content_type.startswith("application/json"):
        texts = _read_json(await request.body())
        results = list(await documents.accept_texts(name, texts))
    else:
        raise UnsupportedMediaType("send multipart/form-data with 'files', or application/json")
    body = AcceptedDocuments(documents=[_accepted(r) for r in results])
    rejected = [r for r in results if isinstance(r, Rejection)]
    if rejected and len(rejected) == len(results):
        first = rejected[0].error
        return JSONResponse(first.to_dict() | body.model_dump(mode="json"), status_code=first.status_code)
    return JSONResponse(body.model_dump(mode="json"), status_code=202)


async def _read_form(request: Request) -> tuple[list[Upload], dict[str, Any]]:
    async with request.form(max_files=1000) as form:  # closes the spooled temporary files
        uploads = []
        for item in form.getlist("files"):
            if not isinstance(item, UploadFile):
                raise BadRequest("'files' must be file parts")
            uploads.append(Upload(filename=item.filename, data=await item.read()))
        raw = form.get("metadata")
    if not uploads:
        raise BadRequest("no files: send one or more parts named 'files'")
    metadata: Any = {}
    if isinstance(raw, str) and raw.strip():
        try:
            metadata = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to decode
            raise BadRequest(f"'metadata' is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise BadRequest("'metadata' must be a JSON object")
    return uploads, metadata


def _read_json(raw: bytes) -> list[TextDocument]:
    try:
        data = json.loads(raw)
    # JSONDecodeError, UnicodeDecodeError for bytes that are not UTF-8, RecursionError for deep nesting
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    try:
        items = (
            TextDocumentsIn.model_validate(data).documents
            if "documents" in data
            else [TextDocumentIn.model_validate(data)]
        )
    except (ValidationError, TypeError) as exc:
        details = exc.errors(include_url=False) if isinstance(exc, ValidationError) else None
        raise BadRequest("the JSON body is not a document or {documents: [...]}", details=details) from None
    return [TextDocument(text=d.text, id=d.id, title=d.title, metadata=d.metadata) for d in items]


def _accepted(result: Acceptance | Rejection) -> AcceptedDocument:
    if isinstance(result, Rejection):
        error = ErrorBody(code=result.error.code, message=result.error.message)
        return AcceptedDocument(status="rejected", filename=result.filename, error=error)
    doc = result.document
    status = "queued" if result.outcome in ("created", "updated") else result.outcome
    return AcceptedDocument(
        id=doc.id, job_id=result.job_id, status=status, version=doc.version, filename=doc.source
    )


@router.get("", response_model=DocumentPage, summary="List documents, newest first")
async def list_documents(
    name: str,
    documents: DocumentsDep,
    status: Annotated[str | None, Query(description="queued, processing, ready, failed, deleted")] = None,
    filters: Annotated[
        str | None,
        Query(
            alias="filter",
            description='Metadata conditions as JSON, as in retrieve: {"year": {"gte": 2020}, "team": "billing"}',
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> DocumentPage:
    after = _decode_cursor(cursor)
    conditions = parse_filters(_decode_filter(filters))
    found = await documents.list(name, status=status, filters=conditions, limit=limit, after=after)
    next_cursor = json.dumps([found[-1].updated_at, found[-1].id]) if len(found) == limit else None
    return DocumentPage(documents=[DocumentOut.of(d) for d in found], next_cursor=next_cursor)


def _decode_filter(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("'filter' must be a JSON object") from None
    if not isinstance(value, dict):
        raise BadRequest("'filter' must be a JSON object")
    return value


def _decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    try:
        updated_at, doc_id = json.loads(cursor)
        return float(updated_at), str(doc_id)
    except (ValueError, TypeError, RecursionError):
        raise BadRequest("invalid cursor") from None


@router.get("/{document_id:path}", response_model=DocumentOut, summary="One document and its status")
async def get_document(name: str, document_id: str, documents: DocumentsDep) -> DocumentOut:
    return DocumentOut.of(await documents.get(name, document_id))


@router.delete(
    "/{document_id:path}", status_code=202, summary="Delete a document (gone from searches at once)"
)
async def delete_document(name: str, document_id: str, documents: DocumentsDep) -> dict[str, str]:
    job_id = await documents.delete(name, document_id)
    return {"id": document_id, "job_id": job_id, "status": "deleted"}
