"""Parsing in worker processes: a hung parser is killed at the time limit, a crashed one is replaced."""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import TimeoutError as FutureTimeoutError
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Literal

from pebble import ProcessExpired, ProcessPool

from ragworks.errors import NotReady, RagworksError
from ragworks.ingest.parsers.base import CorruptDocument, DocumentTooComplex, ParsedDocument, ParseLimits

StartMethod = Literal["spawn", "forkserver"]


def _init_worker(max_memory_bytes: int | None) -> None:
    """Cap the worker's address space so a runaway parser fails with MemoryError, not the OOM killer."""
    # pypdf logs a warning per damaged object, and a hostile PDF has millions of them: the worker writes
    # to the server's stderr, so only errors get through.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if max_memory_bytes is None:
        return
    import resource  # POSIX only; imported here so the module still loads elsewhere

    resource.setrlimit(resource.RLIMIT_AS, (max_memory_bytes, max_memory_bytes))


def _parse_in_worker(data: bytes, filename: str | None, limits: ParseLimits) -> ParsedDocument:
    # Imported in the worker: the package imports this module, so a top-level import would be circular.
    from ragworks.ingest.parsers import parse_document

    return parse_document(data, filename, limits)


class IsolatedParser:
    """Runs ``parse_document`` in a pool of worker processes with ``limits.timeout_s`` per file.

    Workers are started with spawn or forkserver, never fork: the serving process has torch and threads
    loaded, which a forked child would inherit in an undefined state.
    """

    def __init__(
        self,
        limits: ParseLimits | None = None,
        *,
        workers: int = 1,
        start_method: StartMethod = "spawn",
        max_memory_bytes: int | None = None,
        max_tasks_per_worker: int = 200,
    ) -> None:
        if not 1 <= workers <= 2:
            raise ValueError("workers must be 1 or 2: parsing shares the machine with the embedder")
        self.limits = limits or ParseLimits()
        self._workers = workers
        self._start_method: StartMethod = start_method
        self._max_memory_bytes = max_memory_bytes
        self._max_tasks = max_tasks_per_worker  # recycling bounds leaks in the parsing libraries
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Create the worker pool (workers start lazily, on the first file)."""
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPool(
                    max_workers=self._workers,
                    max_tasks=self._max_tasks,
                    initializer=_init_worker,
                    initargs=(self._max_memory_bytes,),
                    context=multiprocessing.get_context(self._start_method),
                )

    def _replace_pool(self, broken: ProcessPool) -> None:
        with self._lock:
            if self._pool is not broken:
                return  # another thread already replaced it
            self._pool = None
        broken.stop()  # type: ignore[no-untyped-call]  # pebble leaves this method unannotated
        broken.join()
        self.start()

    def close(self) -> None:
        """Stop the workers, abandoning any file still being parsed."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves this method unannotated
            pool.join()

    def __enter__(self) -> IsolatedParser:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def parse(self, data: bytes, filename: str | None) -> ParsedDocument:
        """Parse one file in a worker; raises only RagworksError subclasses."""
        pool = self._pool
        if pool is None:
            raise NotReady("the document parser pool is not started")
        timeout = self.limits.timeout_s
        future = pool.schedule(_parse_in_worker, args=(data, filename, self.limits), timeout=timeout)
        try:
            return future.result()
        except RagworksError:
            raise
        except FutureTimeoutError as exc:
            raise DocumentTooComplex(
                f"parsing took longer than {timeout:g} s", details={"timeout_s": timeout}
            ) from exc
        except BrokenProcessPool as exc:
            # Workers die before taking any task (e.g. they cannot import the parsers): a server fault,
            # not the file's. A fresh pool is made so the next call can try again.
            self._replace_pool(pool)
            raise RagworksError("the document parser workers failed to start") from exc
        except ProcessExpired as exc:
            raise CorruptDocument(
                f"the parser process crashed on this file (exit code {exc.exitcode})",
                details={"exit_code": exc.exitcode},
            ) from exc
        except Exception as exc:  # e.g. a result that could not be sent back between processes
            raise CorruptDocument(f"parsing failed in the worker: {type(exc).__name__}: {exc}") from exc
