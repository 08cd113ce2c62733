"""Korean keyword quality: ragworks keyword search beside a plain Kiwi-morpheme BM25 (bm25s, default
parameters) on autorag-ko and on retrieval sets built at run time from Korean text on this machine
(see bench/_korean_sets.py). Prints nDCG@10 and recall@10 side by side, exits 0::

    make bench-korean                                    # installs bm25s into .bench/, then --docs
    .venv/bin/python bench/korean_keyword.py             # all sets: ~3 min on 2 idle cores
    .venv/bin/python bench/korean_keyword.py --sets autorag-ko
    .venv/bin/python bench/korean_keyword.py --docs      # also rewrite the 'korean' section of the docs

bm25s is a bench-only dependency, installed by ``make bench-korean`` into .bench/korean-bench-lib (it
runs on the numpy and scipy of .venv); it is not a ragworks dependency.
"""

from __future__ import annotations

import argparse
import time
from importlib import metadata
from typing import Any

from _common import md_table, print_table, section_header, write_section
from _korean_engines import (
    BASELINE_TAGS,
    RagworksKeyword,
    bm25s_version,
    minilm_token_counter,
    plain_kiwi_bm25,
)
from _korean_sets import KoreanSet, autorag_ko, built_sets
from ragworks.evaluation.metrics import summarise
from ragworks.ingest.analysis import Analyzer

SET_NAMES = ("autorag-ko", "ko-gettext", "ko-man")


def load_sets(names: list[str], kiwi: Any) -> list[KoreanSet]:
    """The chosen sets; the built ones split their passages with Kiwi's sentence splitter."""

    def split(text: str) -> list[str]:
        return [s.text.strip() for s in kiwi.split_into_sents(text) if s.text.strip()]

    sets = [autorag_ko()] if "autorag-ko" in names else []
    if set(names) - {"autorag-ko"}:
        sets += [s for s in built_sets(split) if s.name in names]
    return sets


def measure(sets: list[KoreanSet], kiwi: Any, ours: RagworksKeyword) -> list[dict[str, Any]]:
    """nDCG@10 / recall@10 of the baseline (both variants) and of ragworks, per set."""
    results = []
    for korean in sets:
        print(
            f"{korean.name}: {len(korean.corpus):,} documents, {len(korean.queries)} queries ...", flush=True
        )
        started = time.perf_counter()
        content, every = plain_kiwi_bm25(kiwi, korean.corpus, korean.queries)
        ragworks = ours.rank(korean.corpus, korean.queries)
        results.append(
            {
                "set": korean,
                "baseline": summarise(content, korean.qrels),
                "all-morphemes": summarise(every, korean.qrels),
                "ragworks": summarise(ragworks, korean.qrels),
            }
        )
        print(f"  done in {time.perf_counter() - started:,.0f} s", flush=True)
    return results


def table_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """One row per set: the three engines' nDCG@10 and recall@10, and whether ragworks >= the baseline."""
    rows = []
    for result in results:
        korean: KoreanSet = result["set"]
        ours, base, every = result["ragworks"], result["baseline"], result["all-morphemes"]
        met = ours["ndcg@10"] >= base["ndcg@10"]
        rows.append(
            [
                korean.name,
                f"{len(korean.corpus):,}",
                str(len(korean.queries)),
                f"**{ours['ndcg@10']:.3f}**",
                f"{base['ndcg@10']:.3f}",
                f"{every['ndcg@10']:.3f}",
                f"{ours['recall@10']:.3f}",
                f"{base['recall@10']:.3f}",
                f"{every['recall@10']:.3f}",
                "met" if met else "**not met**",
            ]
        )
    return rows


HEAD = [
    "set",
    "docs",
    "queries",
    "ragworks nDCG@10",
    "Kiwi-BM25 nDCG@10",
    "all-morphemes nDCG@10",
    "ragworks R@10",
    "Kiwi-BM25 R@10",
    "all-morphemes R@10",
    "ragworks >= Kiwi-BM25",
]


def notes(results: list[dict[str, Any]]) -> str:
    """How the sets and the baselines were made, and the versions measured."""
    sources = "; ".join(f"`{r['set'].name}`: {r['set'].source}" for r in results)
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("kiwipiepy", "kiwipiepy_model", "tantivy")
    )
    return (
        f"Sets: {sources}. Built sets are query-by-held-out-sentence (bench/_korean_sets.py): the first "
        "sentence of a Korean passage is the query, the rest of the passage its only answer, every other "
        "passage a distractor; nothing is stored. Kiwi-BM25: bm25s "
        f"{bm25s_version()} with default parameters (Lucene BM25, k1 1.5, b 0.75) over the forms of Kiwi "
        f"morphemes tagged {', '.join(sorted(BASELINE_TAGS))} (the way ../shared/data/README.md measured "
        "0.936); all-morphemes: the same over every morpheme form. ragworks: the keyword path in-process "
        "(plain-text parse, pipeline chunker, title prefix, Analyzer, tantivy KeywordIndex, documents "
        f"ranked by their best chunk), as `ragworks eval --mode keyword` does. {versions}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SET_NAMES, default=list(SET_NAMES))
    parser.add_argument("--docs", action="store_true", help="rewrite the 'korean' section of the docs")
    args = parser.parse_args()
    started = time.time()
    from kiwipiepy import Kiwi

    kiwi = Kiwi()  # the baseline's own Kiwi, as a user of bm25s would have it
    analyzer = Analyzer()
    analyzer.start()
    results = measure(load_sets(args.sets, kiwi), kiwi, RagworksKeyword(analyzer, minilm_token_counter()))
    rows = table_rows(results)
    print()
    print_table(HEAD, rows)
    if args.docs:
        body = section_header(
            "Korean keyword search against a plain Kiwi-morpheme BM25", started, notes(results)
        )
        write_section("korean", body + "\n" + md_table(HEAD, rows))


if __name__ == "__main__":
    main()
