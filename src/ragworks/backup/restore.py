"""``ragworks restore``: an archive into an empty data dir, checked before anything is put in place.

Order: hold the data dir's lock (no server may start on a half-restored dir), extract into a staging
folder inside the data dir while checking every file against the manifest, refuse a database newer
than this version's migrations, then move the files into place (renames on one file system), open the
store (which migrates an older backup's schema), and bring the index in line with the chunks.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ragworks.backup.archive import TOP_LEVEL, extract_archive
from ragworks.backup.index_rebuild import IndexRepair, rebuild_index
from ragworks.backup.lock import LOCK_NAME, idle_data_dir
from ragworks.backup.manifest import DATABASE_NAME, BackupError, CollectionCounts, Manifest
from ragworks.backup.progress import Quiet, Reporter
from ragworks.backup.snapshot import read_facts
from ragworks.config import Settings
from ragworks.engines.store.providers import build_store
from ragworks.errors import BadRequest, Conflict, NotFound

# besides the archive's own names: the database's WAL and journal files, which SQLite would otherwise
# apply to the restored database as if they were its own
_REPLACED = TOP_LEVEL | {f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm", f"{DATABASE_NAME}-journal"}


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What was restored: the archive's manifest, the restored counts and what the index needed."""

    manifest: Manifest
    collections: list[CollectionCounts]
    index: dict[str, IndexRepair]


def restore_backup(
    src: Path, settings: Settings, *, force: bool = False, reporter: Reporter | None = None
) -> RestoreReport:
    """Restore the archive at ``src`` into ``settings.data_dir``.

    With ``force`` a data dir that is not empty is accepted, and its database, index, uploads and
    callback key are replaced (other files, such as logs, are left alone).

    Raises:
        NotFound: no archive at ``src``.
        BadRequest: the settings name a PostgreSQL store (see docs/backups.md).
        Conflict: the data dir is in use, or not empty and ``force`` is not given.
        BackupError: the archive is damaged, tampered with, or newer than this version.
    """
    reporter = reporter or Quiet()
    if settings.store.url is not None:
        raise BadRequest("restore is for the embedded profile; PostgreSQL stores use pg_restore")
    if not src.is_file():
        raise NotFound(f"no backup at {src}")
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    with idle_data_dir(data_dir) as idle:
        if not idle:
            raise Conflict(f"a ragworks process is using {data_dir}; stop it before restoring into it")
        occupied = sorted(p.name for p in data_dir.iterdir() if p.name != LOCK_NAME)
        if occupied and not force:
            raise Conflict(
                f"{data_dir} is not empty ({', '.join(occupied[:5])}); restore into an empty directory, "
                "or pass --force to replace its database, index and uploads"
            )
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
        try:
            manifest = extract_archive(src, staging, reporter)
            _check_revision(manifest.migration_revision)
            _move_into_place(staging, data_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return _open_and_index(settings, manifest, reporter)


def _check_revision(revision: str | None) -> None:
    """Refuse a database whose schema this version does not know (made by a newer ragworks)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from ragworks.engines.store.migrate import MIGRATIONS_DIR

    if revision is None:
        return
    try:
        ScriptDirectory(str(MIGRATIONS_DIR)).get_revisions(tuple(revision.split(",")))
    except CommandError:
        raise BackupError(
            f"the backup's database is at schema revision {revision}, which this version of ragworks "
            "does not know: restore it with the version that made it (or a newer one)"
        ) from None


def _move_into_place(staging: Path, data_dir: Path) -> None:
    for name in sorted(_REPLACED):
        old = data_dir / name
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink(missing_ok=True)
    for entry in sorted(staging.iterdir()):
        entry.rename(data_dir / entry.name)


def _open_and_index(settings: Settings, manifest: Manifest, reporter: Reporter) -> RestoreReport:
    facts = read_facts(settings.data_dir / DATABASE_NAME)
    if facts.collections != manifest.collections:
        raise BackupError("the restored database does not hold the counts its manifest records")
    stores = build_store(settings)
    reporter.stage("opening the database")
    stores.database.start()  # migrates a backup of an older version to this version's schema
    try:
        repairs = rebuild_index(settings.index_dir, stores.chunks, facts.collections, reporter)
    finally:
        stores.database.close()
    for collection in facts.collections:
        repair = repairs.get(collection.name)
        if repair is not None and repair.indexed != collection.chunks:
            raise BackupError(
                f"collection {collection.name}: the index holds {repair.indexed} chunks after the "
                f"rebuild, the database serves {collection.chunks}"
            )
    return RestoreReport(manifest, facts.collections, repairs)
