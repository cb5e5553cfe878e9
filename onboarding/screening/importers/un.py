"""The UN Security Council consolidated list in XML (`CONSOLIDATED_LIST/INDIVIDUALS/INDIVIDUAL`,
`ENTITIES/ENTITY`), read as a stream with iterparse. Owns refusing a DOCTYPE (entity declarations
are how XML bombs work) and turning individuals and entities, their aliases, birth dates,
nationalities, addresses and documents into entries."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 (a DOCTYPE is refused before parsing: see _refuse_doctype)
from collections.abc import Iterator
from pathlib import Path

from .countries import country_code, country_or_text
from .inputs import input_files
from .records import ListFormatError, ParsedEntry, add_unique

_UN_QUALITY = {"good": "aka", "a.k.a.": "aka", "f.k.a.": "aka", "low": "weak"}
_UN_DOCUMENTS = {"passport": "passport", "national identification number": "national_id",
                 "identification number": "national_id", "national identity card": "national_id"}


def _text(element: ET.Element | None, tag: str) -> str | None:
    if element is None:
        return None
    found = element.find(tag)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def _refuse_doctype(path: Path) -> None:
    """Entity declarations (a DOCTYPE) have no place in the UN list and are how XML bombs work."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise ListFormatError(path, "a DOCTYPE declaration is not allowed in the UN list")


def _un_birth_dates(element: ET.Element, entry: ParsedEntry) -> None:
    for dob in element.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        date_text, year = _text(dob, "DATE"), _text(dob, "YEAR")
        first, last = _text(dob, "FROM_YEAR"), _text(dob, "TO_YEAR")
        if date_text and re.match(r"^\d{4}-\d{2}-\d{2}", date_text):
            add_unique(entry.birth_dates, date_text[:10])
        elif year and year.isdigit():
            add_unique(entry.birth_dates, year)
        elif first and last and first.isdigit() and last.isdigit() and 0 <= int(last) - int(first) <= 15:
            for value in range(int(first), int(last) + 1):
                add_unique(entry.birth_dates, str(value))
        elif first and first.isdigit():
            add_unique(entry.birth_dates, first)


def _un_entry(element: ET.Element, kind: str) -> ParsedEntry | None:
    if kind == "person":
        parts = [_text(element, tag) for tag in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
        name = " ".join(p for p in parts if p)
    else:
        name = _text(element, "FIRST_NAME") or ""
    if not name:
        return None
    external_id = _text(element, "REFERENCE_NUMBER") or _text(element, "DATAID") or name
    entry = ParsedEntry(external_id=external_id, kind=kind, name=name)
    entry.add_alias(name, "primary")
    entry.add_alias(_text(element, "NAME_ORIGINAL_SCRIPT"), "aka")
    prefix = "INDIVIDUAL" if kind == "person" else "ENTITY"
    for alias in element.findall(f"{prefix}_ALIAS"):
        quality = _UN_QUALITY.get((_text(alias, "QUALITY") or "").lower(), "aka")
        for alias_name in (_text(alias, "ALIAS_NAME") or "").split(";"):
            entry.add_alias(alias_name, quality)
        alias_dob = _text(alias, "DATE_OF_BIRTH")
        if alias_dob and re.match(r"^\d{4}-\d{2}-\d{2}$", alias_dob):
            add_unique(entry.birth_dates, alias_dob)
    add_unique(entry.programs, _text(element, "UN_LIST_TYPE"))
    for nationality in element.findall("NATIONALITY"):
        for value in nationality.findall("VALUE"):
            if value.text and value.text.strip():
                add_unique(entry.nationalities, country_or_text(value.text))
    for address in element.findall(f"{prefix}_ADDRESS"):
        add_unique(entry.countries, country_or_text(_text(address, "COUNTRY")))
    if kind == "person":
        _un_birth_dates(element, entry)
        for document in element.findall("INDIVIDUAL_DOCUMENT"):
            number = _text(document, "NUMBER")
            if not number:
                continue
            document_type = (_text(document, "TYPE_OF_DOCUMENT") or "").lower()
            country = _text(document, "ISSUING_COUNTRY") or _text(document, "COUNTRY_OF_ISSUE")
            identifier = {"type": _UN_DOCUMENTS.get(document_type, document_type.replace(" ", "_") or "document"),
                          "value": number, "country": country_code(country)}
            if identifier not in entry.identifiers:
                entry.identifiers.append(identifier)
    entry.remarks = _text(element, "COMMENTS1")
    return entry


def parse_un(path: str | Path) -> Iterator[ParsedEntry]:
    path = input_files("un-xml", path)[0]
    _refuse_doctype(path)
    root_seen = False
    try:
        context = ET.iterparse(path, events=("start", "end"))  # noqa: S314  # nosec B314 (a DOCTYPE is refused above)
        for event, element in context:
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if element.tag != "CONSOLIDATED_LIST":
                        raise ListFormatError(path, f"the root element is <{element.tag}>, not <CONSOLIDATED_LIST>",
                                              1)
                continue
            if element.tag in ("INDIVIDUAL", "ENTITY"):
                entry = _un_entry(element, "person" if element.tag == "INDIVIDUAL" else "entity")
                element.clear()
                if entry is not None:
                    yield entry
            elif element.tag in ("INDIVIDUALS", "ENTITIES"):
                element.clear()
    except ET.ParseError as exc:
        line, column = exc.position
        message = str(exc).split(":")[0]
        raise ListFormatError(path, f"invalid XML ({message})", line, column + 1) from None
