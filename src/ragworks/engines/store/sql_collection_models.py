"""The models a collection records on the SQL metadata store: which embedding model made its vectors,
and how its hybrid fusion was calibrated. A mixin of ``SqlMetadataStore``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from ragworks.domain import FusionCalibration
from ragworks.engines.store.base import EmbeddingModel
from ragworks.engines.store.schema import collections
from ragworks.errors import NotFound

if TYPE_CHECKING:
    from ragworks.engines.store.sql import SqlDatabase


class SqlCollectionModels:
    """Embedding model and fusion calibration of collections (``collections.embed_*``, ``.fusion``)."""

    db: SqlDatabase

    def claim_embedding_model(self, collection: str, model: str, dimension: int) -> EmbeddingModel:
        """Record the collection's embedding model unless one is; returns the recorded one."""
        recorded = self.embedding_models([collection])
        if collection not in recorded:
            raise NotFound(f"collection '{collection}' does not exist")
        found = recorded[collection]
        if found is not None:  # the usual case: one read, no write lock
            return found
        with self.db.writer.begin() as conn:
            conn.execute(
                update(collections)
                .where(collections.c.name == collection, collections.c.embed_model.is_(None))
                .values(embed_model=model, embed_dimension=dimension)
            )
            row = conn.execute(
                select(collections.c.embed_model, collections.c.embed_dimension).where(
                    collections.c.name == collection
                )
            ).first()
        if row is None:  # deleted meanwhile
            raise NotFound(f"collection '{collection}' does not exist")
        return (row.embed_model, row.embed_dimension)

    def embedding_models(self, names: Sequence[str]) -> dict[str, EmbeddingModel | None]:
        """The recorded embedding model of each existing collection among ``names``."""
        query = select(collections.c.name, collections.c.embed_model, collections.c.embed_dimension).where(
            collections.c.name.in_(list(dict.fromkeys(names)))
        )
        with self.db.reader.connect() as conn:
            return {
                r.name: (r.embed_model, r.embed_dimension) if r.embed_model is not None else None
                for r in conn.execute(query)
            }

    def set_fusion_calibration(self, collection: str, calibration: FusionCalibration) -> None:
        """Record the collection's fusion; NotFound if the collection is gone."""
        with self.db.writer.begin() as conn:
            changed = conn.execute(
                update(collections)
                .where(collections.c.name == collection)
                .values(fusion=calibration.as_json())
            ).rowcount
        if not changed:
            raise NotFound(f"collection '{collection}' does not exist")

    def fusion_calibrations(self, names: Sequence[str]) -> dict[str, FusionCalibration | None]:
        """The recorded fusion of each existing collection among ``names`` (one indexed read)."""
        query = select(collections.c.name, collections.c.fusion).where(
            collections.c.name.in_(list(dict.fromkeys(names)))
        )
        with self.db.reader.connect() as conn:
            return {
                r.name: FusionCalibration.from_json(r.fusion) if r.fusion else None
                for r in conn.execute(query)
            }
