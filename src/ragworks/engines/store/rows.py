"""Mapping between SQL rows and domain records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from ragworks.domain import ChunkRecord, Document, DocumentStatus, Job, JobStatus


def document_from_row(row: Row[Any]) -> Document:
    """A Document from a ``documents`` row."""
    m = row._mapping
    return Document(
        collection=m["collection"],
        id=m["id"],
        title=m["title"],
        metadata=dict(m["metadata"] or {}),
        content_hash=m["content_hash"],
        version=m["version"],
        active_version=m["active_version"],
        status=DocumentStatus(m["status"]),
        source=m["source"],
        mime=m["mime"],
        size_bytes=m["size_bytes"],
        chunk_count=m["chunk_count"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        job_id=m["job_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def chunk_from_row(row: Row[Any]) -> ChunkRecord:
    """A ChunkRecord from a ``chunks`` row (tokens and vector are not carried)."""
    m = row._mapping
    return ChunkRecord(
        key=m["key"],
        collection=m["collection"],
        document_id=m["document_id"],
        version=m["version"],
        ordinal=m["ordinal"],
        text=m["text"],
        start=m["start"],
        end=m["end"],
        page=m["page"],
        heading=m["heading"],
        language=m["language"],
    )


def job_from_row(row: Row[Any]) -> Job:
    """A Job from a ``jobs`` row."""
    m = row._mapping
    return Job(
        id=m["id"],
        kind=m["kind"],
        status=JobStatus(m["status"]),
        payload=dict(m["payload"] or {}),
        collection=m["collection"],
        document_id=m["document_id"],
        attempts=m["attempts"],
        max_attempts=m["max_attempts"],
        next_run_at=m["next_run_at"],
        lease_owner=m["lease_owner"],
        lease_expires_at=m["lease_expires_at"],
        progress=m["progress"],
        stage=m["stage"],
        error_type=m["error_type"],
        error_message=m["error_message"],
        result=m["result"],
        callback_url=m["callback_url"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        history=list(m["history"] or []),
        tenant=m["tenant"],
    )
