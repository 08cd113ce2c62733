"""Builders for real documents of each format, made with the libraries that write them."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import docx
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

HWPX_SECTION = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<hs:sec xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section"
        xmlns:hp="http://www.hancom.co.kr/hwpml/2011/paragraph">
  <hp:p id="1" paraPrIDRef="0" styleIDRef="0"><hp:run charPrIDRef="0"><hp:t>한글 HWPX 문서의 첫 문단입니다.</hp:t></hp:run></hp:p>
  <hp:p id="2" paraPrIDRef="0" styleIDRef="0"><hp:run charPrIDRef="0"><hp:tbl rowCnt="2" colCnt="2">
    <hp:tr><hp:tc><hp:subList><hp:p><hp:run><hp:t>이름</hp:t></hp:run></hp:p></hp:subList></hp:tc>
           <hp:tc><hp:subList><hp:p><hp:run><hp:t>값</hp:t></hp:run></hp:p></hp:subList></hp:tc></hp:tr>
    <hp:tr><hp:tc><hp:subList><hp:p><hp:run><hp:t>속도</hp:t></hp:run></hp:p></hp:subList></hp:tc>
           <hp:tc><hp:subList><hp:p><hp:run><hp:t>42</hp:t></hp:run></hp:p></hp:subList></hp:tc></hp:tr>
  </hp:tbl></hp:run></hp:p>
  <hp:p id="3" paraPrIDRef="0" styleIDRef="0"><hp:run charPrIDRef="0"><hp:t>마지막 문단입니다.</hp:t></hp:run></hp:p>
</hs:sec>
"""
HWPX_HEADER = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<hh:head xmlns:hh="http://www.hancom.co.kr/hwpml/2011/head" version="1.4" secCnt="1"/>
"""
HWPX_VERSION = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<hv:HCFVersion xmlns:hv="http://www.hancom.co.kr/hwpml/2011/version" tagetApplication="WORDPROCESSOR"
  major="5" minor="1" micro="0" buildNumber="1" os="1" xmlVersion="1.4" application="Hancom Office Hangul"
  appVersion="11, 0, 0, 0"/>
"""
HWPX_CONTENT_HPF = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<opf:package xmlns:opf="http://www.idpf.org/2007/opf/" version="" unique-identifier="" id="">
  <opf:metadata><opf:title>HWPX 시험 문서</opf:title></opf:metadata>
  <opf:manifest>
    <opf:item id="header" href="Contents/header.xml" media-type="application/xml"/>
    <opf:item id="section0" href="Contents/section0.xml" media-type="application/xml"/>
  </opf:manifest>
  <opf:spine><opf:itemref idref="section0" linear="yes"/></opf:spine>
</opf:package>
"""


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A PDF with one page per string (paragraphs separated by blank lines)."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        for paragraph in text.split("\n\n"):
            pdf.multi_cell(0, 8, paragraph)
            pdf.ln(8)
    return bytes(pdf.output())


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    """The same PDF, encrypted with RC4 (which pypdf handles without extra crypto packages)."""
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(data)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(build: Callable[[Any], None]) -> bytes:
    """A DOCX written by python-docx after ``build`` has added its content."""
    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_hwpx(section: str = HWPX_SECTION, extra: dict[str, str] | None = None) -> bytes:
    """A minimal OWPML (HWPX) package: mimetype first and stored, as Hancom writes it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/hwp+zip", zipfile.ZIP_STORED)
        archive.writestr("version.xml", HWPX_VERSION)
        archive.writestr("Contents/content.hpf", HWPX_CONTENT_HPF)
        archive.writestr("Contents/header.xml", HWPX_HEADER)
        archive.writestr("Contents/section0.xml", section)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return out.getvalue()


def add_zero_member(data: bytes, name: str, size: int) -> bytes:
    """Copy a zip and add a member of ``size`` zero bytes, deflated in chunks (a decompression bomb)."""
    out = io.BytesIO()
    chunk = bytes(4 * 1024 * 1024)
    # Level 1 keeps writing 300 MB of zeros well under two seconds.
    target = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
    with zipfile.ZipFile(io.BytesIO(data)) as source, target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        with target.open(name, "w", force_zip64=True) as sink:
            for _ in range(size // len(chunk)):
                sink.write(chunk)
    return out.getvalue()
