"""Ranking metrics checked against values worked out by hand."""

from __future__ import annotations

import pytest

from ragworks.evaluation.metrics import ndcg_at_k, recall_at_k, reciprocal_rank, summarise


def test_ndcg_of_the_ideal_ranking_is_one() -> None:
    assert ndcg_at_k(["d", "b", "c"], {"a": 0, "b": 2, "c": 1, "d": 3}) == pytest.approx(1.0)


def test_ndcg_with_graded_relevance() -> None:
    # DCG  = 0/log2(2) + 2/log2(3) + 1/log2(4) = 1.26186 + 0.5 = 1.76186
    # IDCG = 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.26186 + 0.5 = 4.76186
    assert ndcg_at_k(["a", "b", "c"], {"a": 0, "b": 2, "c": 1, "d": 3}) == pytest.approx(0.36999, abs=1e-5)


def test_ndcg_of_swapped_grades() -> None:
    # DCG = 1/1 + 2/log2(3) = 2.26186; IDCG = 2/1 + 1/log2(3) = 2.63093
    assert ndcg_at_k(["b", "d"], {"d": 2, "b": 1}) == pytest.approx(0.85972, abs=1e-5)


def test_ndcg_of_a_single_relevant_document_at_rank_two() -> None:
    assert ndcg_at_k(["x", "a"], {"a": 1}) == pytest.approx(0.63093, abs=1e-5)


def test_ndcg_ignores_documents_past_k() -> None:
    assert ndcg_at_k(["x", "y", "a"], {"a": 1}, k=2) == 0.0


def test_ndcg_ideal_is_cut_at_k() -> None:
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 1, "c": 1}, k=2) == pytest.approx(1.0)


def test_ndcg_without_relevant_judgements_is_zero() -> None:
    assert ndcg_at_k(["a"], {"a": 0}) == 0.0


def test_recall_is_the_share_of_relevant_documents_found() -> None:
    assert recall_at_k(["a", "x", "b"], {"a": 1, "b": 2, "c": 1, "z": 0}, k=2) == pytest.approx(1 / 3)


def test_recall_counts_only_positive_grades() -> None:
    assert recall_at_k(["z"], {"z": 0, "a": 1}, k=10) == 0.0


def test_recall_without_relevant_documents_is_zero() -> None:
    assert recall_at_k(["a"], {}, k=10) == 0.0


def test_reciprocal_rank_of_the_first_relevant_document() -> None:
    assert reciprocal_rank(["x", "y", "a", "b"], {"a": 1, "b": 3}) == pytest.approx(1 / 3)


def test_reciprocal_rank_skips_grade_zero() -> None:
    assert reciprocal_rank(["z", "a"], {"z": 0, "a": 1}) == pytest.approx(0.5)


def test_reciprocal_rank_is_zero_when_nothing_relevant_in_k() -> None:
    assert reciprocal_rank(["x", "a"], {"a": 1}, k=1) == 0.0


def test_summarise_averages_over_judged_queries() -> None:
    rankings = {"q1": ["a"], "q2": ["x", "b"], "unjudged": ["a"]}
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}}

    summary = summarise(rankings, qrels)

    # q1 is perfect; q2 finds b at rank 2 of its two relevant documents
    assert summary["mrr"] == 0.75
    assert summary["recall@10"] == 0.75
    assert summary["recall@100"] == 0.75
    # q2: DCG = 1/log2(3) = 0.63093, IDCG = 1 + 0.63093 -> 0.38685
    assert summary["ndcg@10"] == pytest.approx(round((1.0 + 0.38685) / 2, 4))


def test_summarise_counts_a_query_without_ranking_as_zero() -> None:
    summary = summarise({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})

    assert summary == {"ndcg@10": 0.5, "recall@10": 0.5, "recall@100": 0.5, "mrr": 0.5}


def test_summarise_rounds_to_four_places() -> None:
    summary = summarise({"q": ["x", "y", "a"]}, {"q": {"a": 1}})

    assert summary["mrr"] == 0.3333


def test_summarise_of_no_queries_is_zero() -> None:
    assert summarise({}, {}) == {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr": 0.0}


def test_summarise_cuts_mrr_and_recall_at_their_depths() -> None:
    # the only relevant document sits at rank 101: inside no cut-off
    ranking = [f"x{i}" for i in range(100)] + ["a"]

    summary = summarise({"q": ranking}, {"q": {"a": 1}})

    assert summary == {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr": 0.0}


def test_summarise_recall_at_100_sees_past_rank_ten() -> None:
    ranking = [f"x{i}" for i in range(50)] + ["a"]

    summary = summarise({"q": ranking}, {"q": {"a": 1, "b": 1}})

    assert summary["recall@10"] == 0.0
    assert summary["recall@100"] == 0.5
    assert summary["mrr"] == round(1 / 51, 4)
