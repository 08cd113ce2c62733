"""Typed dependencies for routes: the container and the pieces routes may call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ragworks.container import Container
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.sql import SqlMetadataStore
from ragworks.errors import NotReady
from ragworks.services.collections import CollectionService
from ragworks.services.documents import DocumentIntake
from ragworks.services.retrieve import Retriever


def get_container(request: Request) -> Container:
    """The running instance's container."""
    container: Container = request.app.state.container
    if not container.ready:
        raise NotReady("ragworks is starting; try again shortly")
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_intake(container: ContainerDep) -> DocumentIntake:
    """Document acceptance use-cases."""
    return DocumentIntake(
        store=container.store,
        blobs=container.blobs,
        max_attempts=container.settings.jobs.max_attempts,
        on_enqueued=container.notify_workers,
    )


def get_collections(container: ContainerDep) -> CollectionService:
    """Collection use-cases."""
    return CollectionService(container)


def get_store(container: ContainerDep) -> SqlMetadataStore:
    return container.store


def get_jobs(container: ContainerDep) -> SqlJobQueue:
    return container.queue


def get_retriever(container: ContainerDep) -> Retriever:
    return container.retriever


IntakeDep = Annotated[DocumentIntake, Depends(get_intake)]
CollectionsDep = Annotated[CollectionService, Depends(get_collections)]
StoreDep = Annotated[SqlMetadataStore, Depends(get_store)]
JobsDep = Annotated[SqlJobQueue, Depends(get_jobs)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
