"""Which fusion a hybrid retrieve uses: the collections' calibrated one, the request's weight, the
language rule, the defaults, and the weight moved by the embedder's confidence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.calibration import Engines, open_engines
from ragworks.config import SearchSettings
from ragworks.domain import FusionCalibration
from ragworks.services.retrieve_models import RetrieveInput

SETTINGS = SearchSettings(vector_weight=0.4, fusion="minmax", calibrate=True, weight_by_confidence=False)
BY_CONFIDENCE = SETTINGS.model_copy(update={"calibrate": False, "weight_by_confidence": True})


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


def best_cosine(engines: Engines, query: str) -> float:
    """The cosine of the query's closest chunk (a vector search's scores are cosines)."""
    fields = {"query": query, "collections": ["docs"], "mode": "vector", "top_k": 1}
    return engines.retriever(SETTINGS).retrieve(RetrieveInput.model_validate(fields)).results[0].score


@pytest.mark.parametrize("query", ["bees dance", "The moon pulls the oceans", "quantum chromodynamics"])
def test_the_weight_moves_with_the_best_match_cosine(engines: Engines, query: str) -> None:
    cosine = best_cosine(engines, query)
    moved = 0.4 + BY_CONFIDENCE.confidence_slope * (cosine - BY_CONFIDENCE.confidence_center)

    assert weight_used(engines, query, BY_CONFIDENCE) == pytest.approx(min(0.9, max(0.1, moved)), abs=1e-4)


def test_a_moved_weight_stays_within_its_bounds(engines: Engines) -> None:
    queries = ["Glaciers retreat as summers grow warmer in the Alps", "quantum chromodynamics"]
    far, near = sorted(queries, key=lambda q: best_cosine(engines, q))
    middle = (best_cosine(engines, far) + best_cosine(engines, near)) / 2
    steep = BY_CONFIDENCE.model_copy(update={"confidence_slope": 1000.0, "confidence_center": middle})

    assert best_cosine(engines, near) > best_cosine(engines, far)
    assert (weight_used(engines, near, steep), weight_used(engines, far, steep)) == (0.9, 0.1)


def test_a_requests_weight_is_not_moved(engines: Engines) -> None:
    assert weight_used(engines, "bees dance", BY_CONFIDENCE, vector_weight=0.3) == 0.3


def test_keyword_and_korean_queries_stay_at_no_vector_weight(engines: Engines) -> None:
    assert weight_used(engines, "꿀벌의 춤은 꽃의 위치를 알려준다", BY_CONFIDENCE) == 0.0
    assert weight_used(engines, "bees dance", BY_CONFIDENCE, mode="keyword") == 0.0
