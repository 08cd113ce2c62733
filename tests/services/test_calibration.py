"""Calibrating a collection's fusion from pseudo-queries: when it is due, how candidates are scored and
chosen, and a whole calibration on a real store and index."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.calibration import TOPICS, open_engines
from ragworks.config import SearchSettings
from ragworks.domain import Collection, FusionCalibration, FusionCandidate
from ragworks.engines.index.base import Hit
from ragworks.services.calibration import WEIGHTS, calibration_due, choose, score_candidates
from ragworks.services.fusion import FUSIONS
from ragworks.services.pseudo_queries import PseudoQuery
from ragworks.services.retrieve_models import RetrieveInput

SETTINGS = SearchSettings(
    calibrate=True,
    weight_by_confidence=False,
    calibration_min_documents=4,
    calibration_pseudo_queries=8,
    calibration_growth=0.5,
)


def calibrated_at(documents: int) -> FusionCalibration:
    return FusionCalibration("minmax", 0.6, "pseudo-queries", 8, 1.0, documents)


@pytest.mark.parametrize(
    ("documents", "fusion", "due"),
    [
        (3, None, False),  # below the minimum: the defaults, nothing to do
        (4, None, True),  # big enough and never calibrated
        (5, calibrated_at(4), False),  # grown by a quarter
        (6, calibrated_at(4), True),  # grown by half
    ],
)
def test_calibration_is_due_when_big_enough_and_grown(
    documents: int, fusion: FusionCalibration | None, due: bool
) -> None:
    collection = Collection("docs", document_count=documents, fusion=fusion)

    assert calibration_due(collection, SETTINGS) is due


def test_no_calibration_is_due_when_calibration_is_off() -> None:
    collection = Collection("docs", document_count=1000)

    assert not calibration_due(collection, SETTINGS.model_copy(update={"calibrate": False}))


def pseudo_query(keyword_rank: int, vector_rank: int) -> PseudoQuery:
    """A query whose source document ``src`` is at the given rank of each leg, among ten others; keys
    are 0.. in the keyword leg and 100.. in the vector leg (other chunks of the same documents)."""
    documents: dict[int, str] = {}
    legs: list[list[Hit]] = []
    for rank, offset in ((keyword_rank, 0), (vector_rank, 100)):
        names = [f"o{n}" for n in range(10)]
        names.insert(rank - 1, "src")
        documents |= {offset + position: name for position, name in enumerate(names)}
        legs.append([Hit(offset + position, 10.0 - position) for position in range(len(names))])
    return PseudoQuery("q", "src", legs[0], legs[1], documents)


def test_candidates_cover_every_normalisation_and_weight() -> None:
    candidates = score_candidates([pseudo_query(1, 1)])

    assert {(c.normalisation, c.vector_weight) for c in candidates} == {
        (n, w) for n in FUSIONS for w in WEIGHTS
    }
    assert all(c.score == 1.0 for c in candidates)  # first in both legs: first whatever the fusion


def test_a_leg_that_finds_the_sources_earns_the_weight() -> None:
    queries = [pseudo_query(keyword_rank=9, vector_rank=1), pseudo_query(keyword_rank=11, vector_rank=1)]

    best = choose(score_candidates(queries), SETTINGS)

    assert best.score == 1.0  # both sources first
    assert best.vector_weight > SETTINGS.vector_weight  # the nearest weight to the default that does it


def test_ties_go_to_the_default_fusion() -> None:
    candidates = [FusionCandidate("rrf", 0.9, 0.5), FusionCandidate("minmax", 0.4, 0.5)]

    assert choose(candidates, SETTINGS) == FusionCandidate("minmax", 0.4, 0.5)


def test_a_calibration_is_chosen_recorded_and_used(tmp_path: Path) -> None:
    with open_engines(tmp_path) as (_, engines):
        chosen = engines.calibrator(SETTINGS).calibrate("docs")
        recorded = engines.store.get_collection("docs").fusion
        output = engines.retriever(SETTINGS).retrieve(
            RetrieveInput(query="how bees dance", collections=["docs"], mode="hybrid")
        )

    assert recorded == chosen
    assert chosen.method == "pseudo-queries"
    assert 0 < chosen.pseudo_queries <= SETTINGS.calibration_pseudo_queries
    assert chosen.document_count == len(TOPICS)
    assert len(chosen.candidates) == len(FUSIONS) * len(WEIGHTS)
    best = max(c.score for c in chosen.candidates)
    assert (chosen.normalisation, chosen.vector_weight, best) in {
        (c.normalisation, c.vector_weight, c.score) for c in chosen.candidates
    }
    assert output.vector_weight == chosen.vector_weight


def test_a_small_collection_keeps_the_defaults(tmp_path: Path) -> None:
    settings = SETTINGS.model_copy(update={"calibration_min_documents": len(TOPICS) + 1})
    with open_engines(tmp_path) as (_, engines):
        chosen = engines.calibrator(settings).calibrate("docs")

    assert (chosen.normalisation, chosen.vector_weight) == (settings.fusion, settings.vector_weight)
    assert chosen.method.startswith("defaults: fewer than")
    assert chosen.candidates == ()
