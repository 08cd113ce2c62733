"""Korean retrieval sets for bench/korean_keyword.py: autorag-ko from the shared data, and sets built at
bench time from Korean text that Debian packages install on this machine (nothing is written to disk).

Built sets are label-free, by query-by-held-out-sentence: each Korean passage of at least two sentences
loses its first sentence, which becomes the query; the rest of the passage is the one relevant document.
Nothing of the query is left in its answer, so a hit needs the shared topic words to meet after analysis
(inflected verbs, nouns with particles, compounds spaced differently, Latin terms inside Korean).
A query must be a sentence (it ends in Hangul, maybe with a stop) and not an option row of a help table;
passages that give no such query stay in the corpus as distractors.

- ``ko-gettext``: every ``msgstr`` of the ``.mo`` catalogues in /usr/share/locale/ko/LC_MESSAGES
  (command help, error hints, settings descriptions of git, PostgreSQL, coreutils, bash, glib ...).
- ``ko-man``: the paragraphs (.PP/.IP/.TP/.SH/.SS blocks) of the Korean manual pages in
  /usr/share/man/ko, roff markup removed.
"""

from __future__ import annotations

import gettext
import gzip
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from _common import DATA

LOCALE_DIR = Path("/usr/share/locale/ko/LC_MESSAGES")
MAN_DIR = Path("/usr/share/man/ko")
_HANGUL = re.compile("[\uac00-\ud7a3]")
# A query is a sentence: it ends in Hangul (a Korean ending), maybe with a stop or a closing mark, and
# is not an option line of a help table ("-i, --inode 각 파일의 ..."), where the "sentences" of a
# passage are rows alike in layout rather than in topic.
_SENTENCE = re.compile(r"[\uac00-\ud7a3][.!?]?[\"')\]]?$")
# A held-out query needs some substance, and so does what is left of its passage.
MIN_QUERY_HANGUL = 8
MIN_ANSWER_HANGUL = 20
MIN_DISTRACTOR_HANGUL = 10

SplitSentences = Callable[[str], list[str]]


@dataclass
class KoreanSet:
    """A retrieval set in memory: corpus id -> (title, text), queries, and graded judgements."""

    name: str
    source: str
    corpus: dict[str, tuple[str, str]] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)


def autorag_ko() -> KoreanSet:
    """The shared autorag-ko set (BEIR layout, test split)."""
    root = DATA / "eval" / "autorag-ko"
    out = KoreanSet("autorag-ko", "shared data: 720 OCR'd PDF chunks, 114 queries")
    for line in (root / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            out.corpus[str(record["_id"])] = (record.get("title") or "", record.get("text") or "")
    for line in (root / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        query, doc, grade = line.split("\t")
        out.qrels.setdefault(query, {})[doc] = int(grade)
    for line in (root / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if str(record["_id"]) in out.qrels:
                out.queries[str(record["_id"])] = record["text"]
    return out


def gettext_passages() -> list[str]:
    """Distinct Korean ``msgstr`` texts of the installed catalogues, in file order."""
    seen: dict[str, None] = {}
    for path in sorted(LOCALE_DIR.glob("*.mo")):
        with path.open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        for key, value in catalog.items():
            if key and isinstance(value, str):
                seen.setdefault(" ".join(value.split()), None)
    return list(seen)


_ROFF_FONT = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)")
_ROFF_ESCAPE = re.compile(r"\\\(..|\\\*.|\\[&|^%:]")
_BREAKS = (".PP", ".P", ".LP", ".IP", ".TP", ".SH", ".SS", ".HP", ".RS", ".RE", ".nf", ".fi", ".EX", ".EE")


def _roff_text(line: str) -> str:
    line = _ROFF_FONT.sub("", line).replace("\\-", "-").replace("\\e", "\\").replace("\\ ", " ")
    return _ROFF_ESCAPE.sub("", line)


def man_passages() -> list[str]:
    """Distinct paragraphs of the Korean manual pages (files that only ``.so`` another page skipped)."""
    seen: dict[str, None] = {}
    for path in sorted(MAN_DIR.rglob("*.gz")):
        if path.is_symlink():
            continue
        paragraph: list[str] = []
        for raw in gzip.decompress(path.read_bytes()).decode("utf-8", "replace").splitlines():
            line = raw.rstrip()
            if line.startswith(('.\\"', "'\\\"", ".so", ".if", ".ie", ".el", ".ds", ".de", ".nr")):
                continue
            if line.startswith(_BREAKS) or line in {"", "."}:
                if paragraph:
                    seen.setdefault(" ".join(" ".join(paragraph).split()), None)
                paragraph = []
                heading = line.split(None, 1)
                if line.startswith((".SH", ".SS")) and len(heading) == 2:
                    seen.setdefault(_roff_text(heading[1]).strip('"'), None)
                continue
            if line.startswith("."):
                words = line.split(None, 1)  # .B text, .I text, .BR a b: keep the text
                line = words[1] if len(words) == 2 else ""
            paragraph.append(_roff_text(line))
        if paragraph:
            seen.setdefault(" ".join(" ".join(paragraph).split()), None)
    return [p for p in seen if p]


def held_out(name: str, source: str, passages: Iterable[str], split: SplitSentences) -> KoreanSet:
    """A set whose queries are the first sentences of passages and whose answers are the rest."""
    out = KoreanSet(name, source)
    for number, passage in enumerate(passages):
        hangul = len(_HANGUL.findall(passage))
        if hangul < MIN_DISTRACTOR_HANGUL:
            continue
        doc_id = f"{name}-{number}"
        sentences = split(passage) if hangul >= MIN_QUERY_HANGUL + MIN_ANSWER_HANGUL else []
        if len(sentences) >= 2:
            query, rest = sentences[0], " ".join(sentences[1:])
            if _is_query(query) and len(_HANGUL.findall(rest)) >= MIN_ANSWER_HANGUL:
                out.corpus[doc_id] = ("", rest)
                out.queries[doc_id] = query
                out.qrels[doc_id] = {doc_id: 1}
                continue
        out.corpus[doc_id] = ("", passage)
    return out


def _is_query(sentence: str) -> bool:
    return (
        len(_HANGUL.findall(sentence)) >= MIN_QUERY_HANGUL
        and _SENTENCE.search(sentence) is not None
        and not sentence.startswith("-")
    )


def built_sets(split: SplitSentences) -> list[KoreanSet]:
    """The sets built from this machine's Korean text (empty where the packages are missing)."""
    sets = []
    if LOCALE_DIR.is_dir():
        sets.append(held_out("ko-gettext", f"msgstr of {LOCALE_DIR}/*.mo", gettext_passages(), split))
    if MAN_DIR.is_dir():
        sets.append(held_out("ko-man", f"paragraphs of {MAN_DIR}/man*/*.gz", man_passages(), split))
    return [s for s in sets if s.queries]
