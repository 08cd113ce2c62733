"""XML parts that declare a DTD (entity bombs, external entities) are refused before any library parses
them; behind that guard the libraries themselves never read an external entity."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import docx
import pytest

from helpers import hostile
from helpers.files import HWPX_SECTION
from ragworks.ingest.parsers import CorruptDocument, ParseLimits, parse_document
from ragworks.ingest.parsers.xml_guard import declares_dtd

SECRET = "TOP-SECRET-FILE-CONTENT"
BUILDERS: dict[str, Callable[[str, str], bytes]] = {
    "docx": hostile.docx_with_doctype,
    "hwpx": hostile.hwpx_with_doctype,
}


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind", BUILDERS)
@pytest.mark.parametrize(
    ("doctype", "body"),
    [
        (hostile.BILLION_LAUGHS, "&a9;"),
        (hostile.QUADRATIC_BLOWUP, hostile.QUADRATIC_REFERENCES),
    ],
    ids=["billion-laughs", "quadratic-blowup"],
)
def test_entity_bombs_are_refused_with_the_reason(
    kind: str, doctype: str, body: str, limits: ParseLimits
) -> None:
    with pytest.raises(CorruptDocument, match="declares a DTD") as caught:
        parse_document(BUILDERS[kind](doctype, body), f"bomb.{kind}", limits)
    assert caught.value.code == "corrupt_document"
    assert caught.value.details["member"].endswith(".xml")


@pytest.mark.parametrize("kind", BUILDERS)
def test_external_entity_is_refused_without_reading_the_file(
    kind: str, secret_file: Path, limits: ParseLimits
) -> None:
    data = BUILDERS[kind](hostile.external_entity(str(secret_file)), "before &xxe; after")
    with pytest.raises(CorruptDocument, match="read local files") as caught:
        parse_document(data, f"xxe.{kind}", limits)
    assert SECRET not in str(caught.value.to_dict())


def test_python_docx_itself_never_resolves_an_external_entity(secret_file: Path) -> None:
    # The second line of defence, should a DTD ever get past the guard: resolve_entities=False.
    data = hostile.docx_with_doctype(hostile.external_entity(str(secret_file)), "before &xxe; after")
    text = "\n".join(paragraph.text for paragraph in docx.Document(io.BytesIO(data)).paragraphs)
    assert SECRET not in text


def test_the_hwpx_library_parser_itself_never_resolves_an_external_entity(secret_file: Path) -> None:
    # hwp-hwpx-parser reads sections with ElementTree (expat), which leaves external entities undefined.
    end = HWPX_SECTION.index("?>") + 2
    section = HWPX_SECTION[:end] + hostile.external_entity(str(secret_file)) + HWPX_SECTION[end:]
    section = section.replace("마지막 문단입니다.", "&xxe;")
    with pytest.raises(ElementTree.ParseError, match="undefined entity"):
        ElementTree.fromstring(section.encode())


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_dtd_is_found_in_any_xml_encoding(encoding: str) -> None:
    xml = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'
    assert declares_dtd(io.BytesIO(xml.encode(encoding)))


def test_a_dtd_in_a_member_of_any_name_is_refused(limits: ParseLimits) -> None:
    # python-docx finds parts through relationships and content types, not by name.
    doctype_xml = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'
    data = hostile.with_members(
        hostile.docx_with_doctype("", "plain text"), {"customXml/item1.bin": doctype_xml}
    )
    with pytest.raises(CorruptDocument, match="customXml/item1.bin"):
        parse_document(data, "hidden.docx", limits)


@pytest.mark.parametrize(
    "content",
    [b"<r><a>no doctype here</a></r>", b"\x89PNG\r\n\x1a\n" + bytes(100), b"", b"plain text"],
    ids=["xml", "image", "empty", "text"],
)
def test_content_without_a_dtd_passes(content: bytes) -> None:
    assert not declares_dtd(io.BytesIO(content))


def test_a_dtd_after_the_root_element_is_not_looked_for() -> None:
    # Only the prolog is read: a large part is not read to its end.
    xml = b"<r>" + b"<a>text</a>" * 100_000 + b"</r>"
    member = io.BytesIO(xml)
    assert not declares_dtd(member)
    assert member.tell() < 64 * 1024
