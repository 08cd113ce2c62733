"""Usage analytics: requests, error rates and latency by service, route, collection, key or time, and
the top (and zero-result) queries; read from the hourly rollups only, never from the request log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query

from ragworks.api.access import PrincipalDep
from ragworks.api.deps import ContainerDep
from ragworks.auth.access import require_scope, visible_collection_names
from ragworks.auth.principal import Principal
from ragworks.auth.wiring import key_store_for
from ragworks.errors import BadRequest, NotReady
from ragworks.usage.base import UsageRollups
from ragworks.usage.report import GroupBy, QueryReport, UsageFilter, UsageReport
from ragworks.usage.wiring import rollups_for

router = APIRouter(prefix="/v1/usage", tags=["usage"])
DEFAULT_RANGE_S = 86_400.0
# Rollup hours are Unix times, and a report writes its bounds back as dates: a range must lie in between.
EARLIEST_S, LATEST_S = 0.0, datetime(9999, 12, 31, tzinfo=UTC).timestamp()


async def get_rollups(container: ContainerDep) -> UsageRollups:
    """The usage rollups of the store's database."""
    rollups = rollups_for(container)
    if rollups is None:
        raise NotReady("this store keeps no usage rollups")
    return rollups


RollupsDep = Annotated[UsageRollups, Depends(get_rollups)]


@dataclass(frozen=True, slots=True)
class TenantUsage:
    """What of the rollups a caller may read: ``None`` fields are not restricted (operators)."""

    api_keys: tuple[str, ...] | None = None  # requests made with the tenant's own keys
    collections: tuple[str, ...] | None = None  # queries of the tenant's collections


async def get_tenant_usage(container: ContainerDep, principal: PrincipalDep) -> TenantUsage:
    """A tenant's key reads only its tenant's requests and queries; operators read everything."""
    require_scope(principal, "read")
    if principal.is_operator:
        return TenantUsage()

    def read(owner: Principal) -> TenantUsage:
        keys = key_store_for(container.core.stores).list_keys(owner.tenant)
        names = visible_collection_names(container.store, owner) or []
        return TenantUsage(tuple(k.id for k in keys), tuple(names))

    return await anyio.to_thread.run_sync(read, principal)


TenantUsageDep = Annotated[TenantUsage, Depends(get_tenant_usage)]
FromQuery = Annotated[
    datetime | None,
    Query(alias="from", description="Start (ISO 8601 or epoch seconds, UTC if no zone); default: to - 24 h."),
]
ToQuery = Annotated[datetime | None, Query(alias="to", description="End, exclusive; default: now.")]


def _range(start: datetime | None, end: datetime | None) -> tuple[float, float]:
    end_s = _epoch(end) if end is not None else time.time()
    start_s = _epoch(start) if start is not None else end_s - DEFAULT_RANGE_S
    if start_s >= end_s:
        raise BadRequest("'from' must be before 'to'", details={"param": "from"})
    if start_s < EARLIEST_S or end_s > LATEST_S:
        param = "from" if start_s < EARLIEST_S else "to"
        raise BadRequest("the range must lie between 1970 and 9999 (UTC)", details={"param": param})
    return start_s, end_s


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


@router.get("", response_model=UsageReport, summary="Requests, error rates and latency, grouped")
async def usage_report(
    rollups: RollupsDep,
    tenant: TenantUsageDep,
    start: FromQuery = None,
    end: ToQuery = None,
    group_by: Annotated[GroupBy, Query(description="The dimension of the groups.")] = "service",
    service: str | None = None,
    route: Annotated[str | None, Query(description="A route template, e.g. /v1/retrieve")] = None,
    collection: Annotated[str | None, Query(description="Several collections are joined: a,b")] = None,
    api_key: str | None = None,
) -> UsageReport:
    """Counts per group with 4xx / 5xx errors and p50 / p95 / p99 latency (hourly rollups: ``from`` is
    rounded down to its hour)."""
    start_s, end_s = _range(start, end)
    usage = UsageFilter(
        start_s,
        end_s,
        service=service,
        route=route,
        collection=collection,
        api_key=api_key,
        api_keys=tenant.api_keys,
    )
    return await anyio.to_thread.run_sync(rollups.report, group_by, usage)


@router.get("/queries", response_model=QueryReport, summary="Top queries, or those that found nothing")
async def usage_queries(
    rollups: RollupsDep,
    tenant: TenantUsageDep,
    start: FromQuery = None,
    end: ToQuery = None,
    collection: str | None = None,
    zero_results: Annotated[bool, Query(description="Only queries that found nothing.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> QueryReport:
    """The most frequent normalised queries of the days in range (daily rollups)."""
    start_s, end_s = _range(start, end)
    usage = UsageFilter(start_s, end_s, collection=collection, collections=tenant.collections)
    found = await anyio.to_thread.run_sync(rollups.queries, usage, zero_results, limit)
    return QueryReport(
        start=datetime.fromtimestamp(start_s, tz=UTC),
        end=datetime.fromtimestamp(end_s, tz=UTC),
        zero_results=zero_results,
        queries=found,
    )
