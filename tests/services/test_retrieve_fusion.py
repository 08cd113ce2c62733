"""Which fusion a hybrid retrieve uses: the collections' calibrated one, the request's weight, the
language rule, and the defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.calibration import Engines, open_engines
from ragworks.config import SearchSettings
from ragworks.domain import FusionCalibration
from ragworks.services.retrieve_models import RetrieveInput

SETTINGS = SearchSettings(vector_weight=0.4, fusion="minmax", calibrate=True)


def calibration(normalisation: str, weight: float) -> FusionCalibration:
    return FusionCalibration(normalisation, weight, "pseudo-queries", 8, 1.0, 6)


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    with open_engines(tmp_path) as (_, built):
        built.store.create_collection("more", "en", "")
        built.add(
            "more", "m0", "Tides", "The moon pulls the oceans into tides. Two high tides come each day."
        )
        yield built


def weight_used(
    engines: Engines, query: str, settings: SearchSettings = SETTINGS, **request: object
) -> float:
    fields = {"query": query, "collections": ["docs"], "mode": "hybrid"} | request
    return engines.retriever(settings).retrieve(RetrieveInput.model_validate(fields)).vector_weight


def test_an_uncalibrated_collection_uses_the_default_weight(engines: Engines) -> None:
    assert weight_used(engines, "bees dance") == 0.4


def test_the_calibrated_weight_is_used(engines: Engines) -> None:
    engines.store.set_fusion_calibration("docs", calibration("zscore", 0.8))

    assert weight_used(engines, "bees dance") == 0.8


def test_the_requests_weight_overrides_the_calibration(engines: Engines) -> None:
    engines.store.set_fusion_calibration("docs", calibration("zscore", 0.8))

    assert weight_used(engines, "bees dance", vector_weight=0.1) == 0.1


def test_a_query_the_embedder_cannot_read_gets_no_vector_weight(engines: Engines) -> None:
    engines.store.set_fusion_calibration("docs", calibration("zscore", 0.8))

    assert weight_used(engines, "꿀벌의 춤은 꽃의 위치를 알려준다") == 0.0


def test_with_calibration_off_the_defaults_apply(engines: Engines) -> None:
    engines.store.set_fusion_calibration("docs", calibration("zscore", 0.8))

    assert weight_used(engines, "bees dance", SETTINGS.model_copy(update={"calibrate": False})) == 0.4


def test_collections_that_agree_on_normalisation_share_their_mean_weight(engines: Engines) -> None:
    engines.store.set_fusion_calibration("docs", calibration("zscore", 0.8))
    engines.store.set_fusion_calibration("more", calibration("zscore", 0.6))

    assert weight_used(engines, "bees dance", collections=["docs", "more"]) == pytest.approx(0.7)


def test_collections_that_disagree_on_normalisation_use_the_defaults(engines: Engines) -> None:
    engines.store.set_fusion_calibration("docs", calibration("zscore", 0.8))
    engines.store.set_fusion_calibration("more", calibration("rrf", 0.6))

    assert weight_used(engines, "bees dance", collections=["docs", "more"]) == 0.4
