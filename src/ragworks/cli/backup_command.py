"""``ragworks backup`` and ``ragworks restore``: the embedded data dir to one archive and back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ragworks.backup.manifest import CollectionCounts
from ragworks.config import Settings
from ragworks.errors import RagworksError

console = Console()
_BYTE_STAGES = ("writing the archive", "checking and extracting")  # totals in bytes, not items


class RichReporter:
    """Draws each stage of a backup or restore as one progress bar."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._total: int | None = None

    def stage(self, description: str, total: int | None = None) -> None:
        """Finish the current bar and start one for ``description``."""
        self.finish()
        self._task = self._progress.add_task(description, total=total, bytes=description in _BYTE_STAGES)
        self._total = total

    def advance(self, amount: int = 1) -> None:
        """Move the current bar on."""
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def warn(self, message: str) -> None:
        """Print a warning above the bars."""
        self._progress.console.print(f"[yellow]warning[/yellow] {message}")

    def finish(self) -> None:
        """Show the current bar as complete (a stage of unknown size ends at 1/1)."""
        if self._task is not None:
            done = self._total if self._total is not None else 1
            self._progress.update(self._task, total=done, completed=done)


@contextmanager
def _reporting() -> Iterator[RichReporter]:
    """A reporter drawing on the console; an expected error becomes a message and exit status 1."""
    columns = (TextColumn("{task.description}"), BarColumn(), _Amount(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            reporter = RichReporter(progress)
            yield reporter
            reporter.finish()
    except RagworksError as exc:
        console.print(f"[red]error[/red] {exc.message}")
        raise typer.Exit(1) from None


class _Amount(MofNCompleteColumn):
    """Items as "3/10", bytes as "1.2/3.4 MB"."""

    def render(self, task: Task) -> Text:
        """The task's amount done, in bytes when its stage counts bytes."""
        return DownloadColumn().render(task) if task.fields.get("bytes") else super().render(task)


def _embedded_settings(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    if settings.store.url is not None or settings.index.provider != "local":
        console.print(
            "[red]error[/red] backup and restore cover the embedded profile (SQLite and index files in "
            "the data dir); back up PostgreSQL with pg_dump and pg_restore (see docs/backups.md)"
        )
        raise typer.Exit(2)
    return settings


def _counts_table(collections: list[CollectionCounts]) -> Table:
    table = Table("collection", "ready", "documents", "chunks")
    for collection in collections:
        total = sum(collection.documents.values()) - collection.documents.get("deleted", 0)
        ready = collection.documents.get("ready", 0)
        table.add_row(collection.name, str(ready), str(total), str(collection.chunks))
    return table


def backup(
    dest: Annotated[Path, typer.Argument(help="The archive to write (.tar.gz); it must not exist.")],
    data_dir: Annotated[Path | None, typer.Option(help="The data dir to back up.")] = None,
) -> None:
    """Write a consistent backup of a data dir to one archive while `ragworks serve` keeps running."""
    from ragworks.backup.create import create_backup

    settings = _embedded_settings(data_dir)
    with _reporting() as reporter:
        manifest = create_backup(settings, dest, reporter)
    console.print(_counts_table(manifest.collections))
    index = "copied"
    if manifest.index == "rebuild":
        index = "not copied (the data dir was in use or had none): restore rebuilds it from the chunks"
    console.print(
        f"wrote {dest} ({dest.stat().st_size:,} bytes, {len(manifest.files)} files); index: {index}"
    )


def restore(
    src: Annotated[Path, typer.Argument(help="An archive written by `ragworks backup`.")],
    data_dir: Annotated[Path, typer.Option(help="The data dir to restore into (empty or new).")],
    force: Annotated[
        bool,
        typer.Option(
            help="Restore into a data dir that is not empty, replacing its database, index and uploads."
        ),
    ] = False,
) -> None:
    """Check a backup's checksums, restore it into a data dir and rebuild its index as needed."""
    from ragworks.backup.restore import restore_backup

    settings = _embedded_settings(data_dir)
    with _reporting() as reporter:
        report = restore_backup(src, settings, force=force, reporter=reporter)
    console.print(_counts_table(report.collections))
    added = sum(repair.added for repair in report.index.values())
    removed = sum(repair.removed for repair in report.index.values())
    index = f"{added} chunks rebuilt from the database"
    if report.manifest.index == "copied":
        index = f"copied from the archive, {added} chunks added and {removed} removed to match the database"
    made = f"made {report.manifest.created_at} by ragworks {report.manifest.ragworks_version}"
    console.print(f"restored {src} ({made}) into {data_dir}; index: {index}")
