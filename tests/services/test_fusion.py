"""Hybrid fusion of the keyword and vector legs: min-max, z-score and reciprocal rank fusion."""

from __future__ import annotations

import pytest

from ragworks.engines.index.base import Hit
from ragworks.services.fusion import FUSIONS, fuse, minmax_fusion, rrf_fusion, zscore_fusion


def hits(*pairs: tuple[int, float]) -> list[Hit]:
    return [Hit(key, score) for key, score in pairs]


def test_minmax_normalises_scores_to_zero_one() -> None:
    fused = minmax_fusion(hits((1, 10.0), (2, 5.0), (3, 0.0)), [], vector_weight=0.0)

    assert fused == pytest.approx({1: 1.0, 2: 0.5, 3: 0.0})


def test_minmax_normalises_negative_scores() -> None:
    fused = minmax_fusion([], hits((1, -1.0), (2, -3.0)), vector_weight=1.0)

    assert fused == pytest.approx({1: 1.0, 2: 0.0})


def test_minmax_weights_the_legs() -> None:
    keyword = hits((1, 8.0), (2, 2.0))
    vector = hits((2, 0.9), (1, 0.1))

    fused = minmax_fusion(keyword, vector, vector_weight=0.25)

    assert fused == pytest.approx({1: 0.75, 2: 0.25})


def test_minmax_key_in_one_leg_scores_zero_in_the_other() -> None:
    keyword = hits((1, 3.0), (2, 1.0))
    vector = hits((3, 0.8), (1, 0.2))

    fused = minmax_fusion(keyword, vector, vector_weight=0.5)

    assert fused == pytest.approx({1: 0.5, 2: 0.0, 3: 0.5})


def test_minmax_of_empty_legs_is_empty() -> None:
    assert minmax_fusion([], [], vector_weight=0.5) == {}


def test_minmax_with_one_empty_leg_uses_the_other_weighted() -> None:
    fused = minmax_fusion(hits((1, 2.0), (2, 1.0)), [], vector_weight=0.4)

    assert fused == pytest.approx({1: 0.6, 2: 0.0})


def test_minmax_equal_scores_all_count_as_top() -> None:
    fused = minmax_fusion(hits((1, 0.7), (2, 0.7), (3, 0.7)), [], vector_weight=0.5)

    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.5})


def test_minmax_single_hit_counts_as_top() -> None:
    assert minmax_fusion([], hits((9, 0.01)), vector_weight=0.3) == pytest.approx({9: 0.3})


def test_minmax_zero_weight_leaves_the_leg_out() -> None:
    fused = minmax_fusion(hits((1, 1.0)), hits((2, 1.0)), vector_weight=0.0)

    assert fused == pytest.approx({1: 1.0})


def test_minmax_full_weight_leaves_the_keyword_leg_out() -> None:
    fused = minmax_fusion(hits((1, 1.0)), hits((2, 1.0)), vector_weight=1.0)

    assert fused == pytest.approx({2: 1.0})


def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    keyword = hits((1, 9.0), (2, 5.0))
    vector = hits((2, 0.9), (3, 0.5))

    fused = rrf_fusion(keyword, vector, vector_weight=0.5, k=60)

    assert fused == pytest.approx({1: 0.5 / 61, 2: 0.5 / 62 + 0.5 / 61, 3: 0.5 / 62})


def test_rrf_uses_rank_not_score() -> None:
    fused = rrf_fusion(hits((1, 0.5), (2, 0.5), (3, 0.5)), [], vector_weight=0.0, k=1)

    assert fused == pytest.approx({1: 1 / 2, 2: 1 / 3, 3: 1 / 4})


def test_rrf_weights_the_legs() -> None:
    fused = rrf_fusion(hits((1, 1.0)), hits((2, 1.0)), vector_weight=0.75, k=0)

    assert fused == pytest.approx({1: 0.25, 2: 0.75})


def test_rrf_zero_weight_leaves_the_leg_out() -> None:
    assert rrf_fusion(hits((1, 1.0)), hits((2, 1.0)), vector_weight=0.0) == pytest.approx({1: 1 / 61})


def test_rrf_of_empty_legs_is_empty() -> None:
    assert rrf_fusion([], [], vector_weight=0.5) == {}


def test_zscore_weighs_an_even_spread_above_one_outlier() -> None:
    keyword = hits((1, 30.0), (2, 10.0), (3, 10.0), (4, 10.0))  # one outlier: the rest are 0.58 sd below
    vector = hits((2, 0.9), (3, 0.8), (4, 0.7))  # an even spread: the top is 2.4 sd above the bottom

    fused = zscore_fusion(keyword, vector, vector_weight=0.5)
    plain = minmax_fusion(keyword, vector, vector_weight=0.5)

    assert plain[1] == pytest.approx(plain[2])  # min-max: each leg's top counts the same
    assert fused[2] > fused[1] > fused[3] > fused[4]


def test_zscore_gives_a_key_missing_from_a_leg_that_legs_lowest_value() -> None:
    fused = zscore_fusion(hits((1, 4.0), (2, 2.0)), hits((2, 0.5), (3, 0.3)), vector_weight=0.5)

    # each leg: mean in the middle, one standard deviation to either side, the lowest at 0
    assert fused == pytest.approx({1: 0.5 * 2.0, 2: 0.5 * 2.0, 3: 0.0})


def test_zscore_of_equal_scores_is_one() -> None:
    assert zscore_fusion(hits((1, 0.7), (2, 0.7)), [], vector_weight=0.5) == pytest.approx({1: 0.5, 2: 0.5})


@pytest.mark.parametrize("normalisation", sorted(FUSIONS))
def test_fuse_at_the_ends_is_one_legs_own_scores(normalisation: str) -> None:
    keyword, vector = hits((1, 7.0), (2, 3.0)), hits((2, 0.9), (3, 0.1))

    assert fuse(normalisation, keyword, vector, 0.0) == {1: 7.0, 2: 3.0}
    assert fuse(normalisation, keyword, vector, 1.0) == {2: 0.9, 3: 0.1}


@pytest.mark.parametrize("normalisation", sorted(FUSIONS))
def test_fuse_ranks_a_key_both_legs_found_first(normalisation: str) -> None:
    keyword, vector = hits((1, 7.0), (2, 6.0), (3, 1.0)), hits((2, 0.9), (4, 0.8), (3, 0.1))

    fused = fuse(normalisation, keyword, vector, 0.5)

    assert max(fused, key=lambda key: fused[key]) == 2
