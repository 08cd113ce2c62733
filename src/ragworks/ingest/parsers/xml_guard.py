"""Refusal of XML parts that declare a DTD, before any library parses them.

A DTD is where entities are declared: nested ones expand a few kilobytes into gigabytes ("billion
laughs", quadratic blow-up), external ones point at local files or URLs (XXE). Office Open XML and
OWPML forbid DTDs, so no genuine DOCX or HWPX part has one. The libraries have their own protections
(python-docx parses with ``resolve_entities=False``, libxml2 and expat cap entity amplification and never
fetch external entities), but each fails differently and with a message about XML internals; refusing
the DTD first gives every such file the same clear reason.
"""

from __future__ import annotations

import zipfile
from typing import IO
from xml.parsers import expat

from ragworks.ingest.parsers.base import CorruptDocument

_READ_BYTES = 16 * 1024


class _Doctype(Exception):
    """Raised from expat's handler at the first ``<!DOCTYPE``."""


class _RootElement(Exception):
    """Raised from expat's handler at the root element: the prolog, where a DTD must be, has ended."""


def _raise_doctype(*_: object) -> None:
    raise _Doctype


def _raise_root(*_: object) -> None:
    raise _RootElement


def declares_dtd(member: IO[bytes]) -> bool:
    """Whether the XML read from ``member`` declares a DTD; only its prolog is read.

    Content that is not XML (an image) makes expat stop at its first bytes and counts as no DTD.
    """
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _raise_doctype
    parser.StartElementHandler = _raise_root
    try:
        while chunk := member.read(_READ_BYTES):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except _Doctype:
        return True
    except (_RootElement, expat.ExpatError):
        return False
    return False


def refuse_dtds(archive: zipfile.ZipFile, kind: str) -> None:
    """Raise CorruptDocument when any member of ``archive`` (a ``kind`` package) declares a DTD."""
    for info in archive.infolist():
        if info.is_dir():
            continue
        with archive.open(info) as member:
            if declares_dtd(member):
                raise CorruptDocument(
                    f"{kind} part {info.filename!r} declares a DTD (<!DOCTYPE>), which {kind} files never "
                    "contain: its entities could expand to gigabytes or read local files",
                    details={"member": info.filename},
                )
