"""PostgresDatabase: migrations, errors mapped to Busy and NotReady, per-document write locks."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from helpers.postgres import PostgresServer, free_port
from helpers.store import draft
from ragworks.config import Settings, StoreSettings
from ragworks.domain import DocumentStatus, JobKind
from ragworks.engines.queue.postgres import PostgresJobQueue
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.migrate import MIGRATIONS_DIR
from ragworks.engines.store.postgres import PostgresDatabase
from ragworks.engines.store.providers import build_store
from ragworks.engines.store.schema import metadata
from ragworks.engines.store.sql import SqlMetadataStore
from ragworks.engines.store.text import REPLACEMENT
from ragworks.errors import BadRequest, Busy, Conflict, NotReady


@pytest.fixture
def store(postgres_db: PostgresDatabase) -> SqlMetadataStore:
    store = SqlMetadataStore(postgres_db)
    store.create_collection("docs", "en", "")
    return store


def test_migrated_database_matches_the_schema(postgres_db: PostgresDatabase) -> None:
    with postgres_db.reader.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)

    assert differences == []


def test_migrating_again_is_harmless(postgres_url: str) -> None:
    for _ in range(2):
        db = PostgresDatabase(postgres_url)
        db.start()
        with db.reader.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        db.close()
        assert versions == [ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()]


def test_processes_starting_together_migrate_one_at_a_time(postgres_server: PostgresServer) -> None:
    url = postgres_server.url(postgres_server.create_database())  # empty: the migration has work to do
    errors: list[BaseException] = []

    def start() -> None:
        db = PostgresDatabase(url)
        try:
            db.start()
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []


def test_chunk_keys_are_64_bit(postgres_db: PostgresDatabase) -> None:
    with postgres_db.reader.connect() as conn:
        column_type = conn.execute(
            text(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'chunks' AND column_name = 'key'"
            )
        ).scalar_one()

    assert column_type == "bigint"


def test_an_unreachable_server_is_not_ready() -> None:
    db = PostgresDatabase(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")

    with pytest.raises(NotReady):
        db.start()
    with pytest.raises(NotReady):
        db.writer  # noqa: B018  (nothing was left started)


def test_a_server_gone_after_start_is_not_ready(
    postgres_server: PostgresServer, store: SqlMetadataStore
) -> None:
    name = store.db.url.rsplit("/", 1)[1]
    postgres_server.execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    postgres_server.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
    try:
        with pytest.raises(NotReady):
            store.list_collections()
    finally:
        postgres_server.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")


@pytest.fixture
def row_locked(postgres_db: PostgresDatabase, store: SqlMetadataStore) -> Iterator[None]:  # noqa: ARG001
    """The 'docs' collection row locked by another transaction for the duration of the test."""
    with postgres_db.writer.connect() as other:
        other.execute(text("SELECT * FROM collections WHERE name = 'docs' FOR UPDATE"))
        yield
        other.rollback()


def test_a_lock_timeout_is_busy(postgres_url: str, row_locked: None) -> None:  # noqa: ARG001
    db = PostgresDatabase(postgres_url, lock_timeout_s=0.1)
    db.start()
    try:
        with pytest.raises(Busy), db.writer.begin() as conn:
            conn.execute(text("DELETE FROM collections WHERE name = 'docs'"))
    finally:
        db.close()


def test_a_serialization_failure_is_busy(postgres_db: PostgresDatabase, store: SqlMetadataStore) -> None:
    assert store.list_collections()
    engine = postgres_db.writer.execution_options(isolation_level="SERIALIZABLE")
    with engine.connect() as first, engine.connect() as second:
        first.execute(text("SELECT count(*) FROM collections"))
        second.execute(text("SELECT count(*) FROM collections"))
        first.execute(text("UPDATE collections SET description = 'first'"))
        first.commit()
        with pytest.raises(Busy):
            second.execute(text("UPDATE collections SET description = 'second'"))


def test_a_deadlock_is_busy(postgres_db: PostgresDatabase, store: SqlMetadataStore) -> None:
    store.create_collection("more", "en", "")
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)

    def lock_both(first: str, second: str) -> None:
        try:
            with postgres_db.writer.begin() as conn:
                conn.execute(text("SELECT * FROM collections WHERE name = :n FOR UPDATE"), {"n": first})
                barrier.wait()
                conn.execute(text("SELECT * FROM collections WHERE name = :n FOR UPDATE"), {"n": second})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=lock_both, args=pair) for pair in (("docs", "more"), ("more", "docs"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [type(f) for f in failures] == [Busy]


def test_concurrent_accepts_of_one_new_document_take_turns(store: SqlMetadataStore) -> None:
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def accept(content: str) -> None:
        barrier.wait()
        try:
            outcomes.append(store.accept_document(draft("docs", "same", content=content), {}, 4).outcome)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=accept, args=(f"content {i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(outcomes) == ["created", "updated", "updated", "updated"]
    assert store.get_document("docs", "same").version == 4


def test_creating_a_collection_twice_at_once_is_a_conflict(store: SqlMetadataStore) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        try:
            store.create_collection("twice", "en", "")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [type(e) for e in errors] == [Conflict] * 3


def test_without_psycopg_the_adapter_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "try:\n    import ragworks.engines.store.postgres\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert "ragworks[postgres]" in result.stdout


def test_text_that_slips_past_intake_is_stored_cleaned(
    postgres_db: PostgresDatabase, store: SqlMetadataStore
) -> None:
    accepted = store.accept_document(draft("docs", "a", metadata={"k": "v\x00"}), {"text": "x\ud800"}, 4)
    store.set_document_status("docs", "a", 1, DocumentStatus.FAILED, ("corrupt", "bad\x00 byte \udc80"))
    queue = SqlJobQueue(postgres_db)
    [job] = queue.lease("w1", [JobKind.INGEST], 1, 60)
    queue.fail("w1", job, "Corrupt", "nul\x00", None)

    document = store.get_document("docs", "a")
    assert (document.metadata, document.error_message) == ({"k": "v"}, f"bad byte {REPLACEMENT}")
    stored = queue.get(accepted.job_id or "")
    assert (stored.payload["text"], stored.error_message) == (f"x{REPLACEMENT}", "nul")


def test_a_value_too_long_for_its_column_is_a_bad_request(store: SqlMetadataStore) -> None:
    with pytest.raises(BadRequest):
        store.accept_document(dataclasses.replace(draft("docs", "a"), mime="x" * 200), {}, 4)


def test_a_postgresql_store_url_builds_the_postgres_adapters(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, store=StoreSettings(url=postgres_url))

    built = build_store(settings)

    assert isinstance(built.database, PostgresDatabase)
    assert isinstance(built.queue, PostgresJobQueue)
    built.database.start()
    try:
        built.store.create_collection("docs", "en", "")
        assert [c.name for c in built.store.list_collections()] == ["docs"]
    finally:
        built.queue.close()
        built.database.close()
