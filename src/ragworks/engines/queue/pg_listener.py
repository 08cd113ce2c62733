"""A LISTEN connection in a daemon thread: calls back on every notification of one channel."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ragworks.engines.store.pg_driver import psycopg

log = logging.getLogger(__name__)


class NotificationListener:
    """Listens on ``channel`` over its own psycopg connection and calls ``on_notify`` for each
    notification (from the listener's thread). A lost connection is reopened with backoff, and
    ``on_notify`` is called once after each reconnection, since notifications sent while it was
    down are lost."""

    def __init__(
        self,
        conninfo: str,
        channel: str,
        on_notify: Callable[[], None],
        poll_s: float = 0.5,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.on_notify = on_notify
        self.poll_s = poll_s
        self.max_backoff_s = max_backoff_s
        self.listening = threading.Event()  # set while a LISTEN connection is open
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the listening thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"listen-{self.channel}", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread; it closes its connection within ``poll_s``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        backoff = 0.1
        connected_before = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"'.encode())
                    self.listening.set()
                    backoff = 0.1
                    if connected_before:
                        self._notify()
                    connected_before = True
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self.poll_s):
                            self._notify()
            except psycopg.Error as exc:
                log.warning("job wake-up listener lost its connection (%s); reconnecting", exc)
            finally:
                self.listening.clear()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    def _notify(self) -> None:
        try:
            self.on_notify()
        except Exception:  # a failing callback must not stop the wake-ups of the others
            log.exception("job wake-up callback failed")
