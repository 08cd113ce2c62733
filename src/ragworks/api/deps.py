"""Typed dependencies for routes: the container and the pieces routes may call.

Every dependency is ``async def``: none of them blocks, and FastAPI would run a plain ``def`` one in
its thread pool, a round trip between threads (and for the GIL) per dependency per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ragworks.container import Container
from ragworks.errors import NotReady
from ragworks.services.background import BackgroundCalls
from ragworks.services.collections import CollectionService
from ragworks.services.documents import DocumentService
from ragworks.services.jobs import JobService
from ragworks.services.registry import ServiceRegistry
from ragworks.services.runner import ServiceRunner


async def get_container(request: Request) -> Container:
    """The running instance's container."""
    container: Container = request.app.state.container
    if not container.ready:
        raise NotReady("ragworks is starting; try again shortly")
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_documents(container: ContainerDep) -> DocumentService:
    """Document use-cases."""
    return DocumentService(
        store=container.store,
        blobs=container.blobs,
        max_attempts=container.settings.jobs.max_attempts,
        on_enqueued=container.notify_workers,
    )


async def get_collections(container: ContainerDep) -> CollectionService:
    """Collection use-cases."""
    return CollectionService(container)


async def get_jobs(container: ContainerDep) -> JobService:
    """Job use-cases."""
    return JobService(admin=container.jobs, store=container.store)


async def get_runner(container: ContainerDep) -> ServiceRunner:
    """Runs AI services."""
    return container.services


async def get_background(container: ContainerDep) -> BackgroundCalls:
    """Accepts AI service calls as background jobs."""
    return BackgroundCalls(
        queue=container.queue,
        max_attempts=container.settings.services.max_attempts,
    )


async def get_registry(request: Request) -> ServiceRegistry:
    """The registry (available before the engines are ready)."""
    container: Container = request.app.state.container
    return container.registry


DocumentsDep = Annotated[DocumentService, Depends(get_documents)]
CollectionsDep = Annotated[CollectionService, Depends(get_collections)]
JobsDep = Annotated[JobService, Depends(get_jobs)]
RunnerDep = Annotated[ServiceRunner, Depends(get_runner)]
BackgroundDep = Annotated[BackgroundCalls, Depends(get_background)]
ServiceRegistryDep = Annotated[ServiceRegistry, Depends(get_registry)]
