"""``ragworks backup``: one archive of an embedded data dir, taken while the server keeps running.

Consistency, step by step:

1. The database is copied as of one commit (``snapshot.copy_database``). Everything in the archive is
   judged against that copy.
2. The uploads that the copy's unfinished jobs need are copied next. An upload is deleted only after
   every job needing it succeeded, so one gone by now means a newer snapshot no longer needs it: the
   snapshot is taken again (at most ``SNAPSHOT_ATTEMPTS`` times) until every upload it needs was copied.
3. The index is derivable from the chunks table (tokens and vectors), so it is copied only when no
   process holds the data dir's lock: then nothing writes it, and the lock is held until the copy is
   done so no server can start meanwhile. Otherwise restore rebuilds it from the chunks.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
from pathlib import Path

from ragworks import __version__
from ragworks.backup.archive import write_archive
from ragworks.backup.blobs import copy_blobs
from ragworks.backup.lock import idle_data_dir
from ragworks.backup.manifest import DATABASE_NAME, BackupError, FileEntry, Manifest, file_entry
from ragworks.backup.progress import Quiet, Reporter
from ragworks.backup.snapshot import SnapshotFacts, copy_database, needed_blobs, read_facts
from ragworks.config import Settings
from ragworks.errors import Conflict

SNAPSHOT_ATTEMPTS = 5
BLOBS_DIR = "blobs"  # build_core's LocalBlobStore root, inside the data dir
CALLBACK_SECRET = "callback.secret"  # jobs/callbacks.py keeps the generated signing key here


def create_backup(settings: Settings, dest: Path, reporter: Reporter | None = None) -> Manifest:
    """Write a backup of ``settings.data_dir`` to ``dest`` (a new file); returns its manifest.

    Raises:
        BackupError: the data dir holds no database, or its copy fails SQLite's check.
        Conflict: ``dest`` already exists.
    """
    reporter = reporter or Quiet()
    data_dir = settings.data_dir
    if not (data_dir / DATABASE_NAME).is_file():
        raise BackupError(f"no database at {data_dir / DATABASE_NAME}: is this a ragworks data dir?")
    if dest.exists():
        raise Conflict(f"{dest} already exists; a backup never overwrites a file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ragworks-backup-", dir=dest.parent) as tmp:
        staging = Path(tmp)
        with idle_data_dir(data_dir) as idle:
            facts, missing = _snapshot_with_uploads(data_dir, staging, reporter)
            copied = idle and _copy_index(settings.index_dir, staging / "index", reporter)
        secret = data_dir / CALLBACK_SECRET
        if secret.is_file():
            shutil.copyfile(secret, staging / CALLBACK_SECRET)
        for key in sorted(missing):
            reporter.warn(f"upload {key} is missing from the data dir; the jobs that need it will fail")
        manifest = Manifest(
            ragworks_version=__version__,
            created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            source=str(data_dir.resolve()),
            migration_revision=facts.migration_revision,
            index="copied" if copied else "rebuild",
            collections=facts.collections,
            missing_blobs=sorted(missing),
            files=_checksums(staging, reporter),
        )
        write_archive(dest, staging, manifest, reporter)
    return manifest


def _snapshot_with_uploads(
    data_dir: Path, staging: Path, reporter: Reporter
) -> tuple[SnapshotFacts, set[str]]:
    """A database snapshot and every upload it needs; returns the facts and the uploads not found."""
    live, copy = data_dir / DATABASE_NAME, staging / DATABASE_NAME
    for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
        reporter.stage("copying the database" if attempt == 1 else f"copying the database again ({attempt})")
        copy.unlink(missing_ok=True)
        copy_database(live, copy)
        facts = read_facts(copy)
        missing = copy_blobs(data_dir / BLOBS_DIR, staging / BLOBS_DIR, facts.blobs, reporter)
        # retry only when the server finished with some missing upload: a newer snapshot does not need
        # it; one the server still needs is gone for good and a retry cannot find it
        if not missing or not (missing - needed_blobs(live)):
            return facts, missing
    return facts, missing


def _copy_index(source: Path, target: Path, reporter: Reporter) -> bool:
    """Copy the index files, if there are any; returns whether there were."""
    if not source.is_dir():
        return False
    reporter.stage("copying the index (no process is using the data dir)")
    shutil.copytree(source, target)
    return True


def _checksums(staging: Path, reporter: Reporter) -> list[FileEntry]:
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    reporter.stage("computing checksums", len(files))
    entries = []
    for path in files:
        entries.append(file_entry(path, path.relative_to(staging).as_posix()))
        reporter.advance()
    return entries
