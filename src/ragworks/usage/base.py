"""The port of usage rollups: where each API process adds its counts and where reports read them."""

from __future__ import annotations

from typing import Protocol

from ragworks.usage.report import GroupBy, QueryFigures, UsageFilter, UsageReport
from ragworks.usage.rollup import RollupBatch


class UsageRollups(Protocol):
    """Hourly request rollups and daily top queries, shared by every API process of a database."""

    def add(self, batch: RollupBatch) -> None:
        """Add ``batch``'s counts to the stored ones, in one transaction (never overwriting: processes
        add concurrently), then prune each day it touched to its top queries.

        Raises:
            Busy: the database is overloaded; nothing was written and the batch may be added again.
        """

    def report(self, group_by: GroupBy, usage: UsageFilter) -> UsageReport:
        """Requests, error rates and latency percentiles in ``usage``'s range, grouped by ``group_by``."""

    def queries(self, usage: UsageFilter, zero_results: bool, limit: int) -> list[QueryFigures]:
        """The most frequent queries in range (only those that found nothing, with ``zero_results``)."""
