"""MetadataStore contract mixin for the hybrid fusion a collection records (its calibration)."""

from __future__ import annotations

import pytest

from ragworks.domain import FusionCalibration, FusionCandidate
from ragworks.engines.store.base import MetadataStore
from ragworks.errors import NotFound
from ragworks.testing.store_fixtures import StoreFixtures


def calibration(weight: float = 0.7, documents: int = 500) -> FusionCalibration:
    """A calibration as the calibrator records one, with two candidates."""
    return FusionCalibration(
        normalisation="zscore",
        vector_weight=weight,
        method="pseudo-queries",
        pseudo_queries=200,
        calibrated_at=1_700_000_000.5,
        document_count=documents,
        candidates=(FusionCandidate("zscore", weight, 0.81), FusionCandidate("minmax", 0.4, 0.78)),
    )


class FusionCalibrationTest(StoreFixtures):
    """set_fusion_calibration, fusion_calibrations, and the calibration get_collection reports."""

    def test_new_collection_has_no_calibration(self, store: MetadataStore, collection: str) -> None:
        assert store.get_collection(collection).fusion is None
        assert store.fusion_calibrations([collection]) == {collection: None}

    def test_recorded_calibration_reads_back_whole(self, store: MetadataStore, collection: str) -> None:
        store.set_fusion_calibration(collection, calibration())

        assert store.get_collection(collection).fusion == calibration()
        assert store.fusion_calibrations([collection, collection]) == {collection: calibration()}

    def test_a_new_calibration_replaces_the_last(self, store: MetadataStore, collection: str) -> None:
        store.set_fusion_calibration(collection, calibration(0.7, 500))
        store.set_fusion_calibration(collection, calibration(0.3, 900))

        [listed] = store.list_collections()

        assert listed.fusion == calibration(0.3, 900)

    def test_calibrations_leave_out_missing_collections(self, store: MetadataStore, collection: str) -> None:
        store.create_collection("other", "en", "")
        store.set_fusion_calibration("other", calibration())

        assert store.fusion_calibrations([collection, "other", "nope"]) == {
            collection: None,
            "other": calibration(),
        }

    def test_calibrating_a_missing_collection_is_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound):
            store.set_fusion_calibration("nope", calibration())
