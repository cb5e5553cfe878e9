"""OpenSanctions FollowTheMoney entities in JSON lines (one entity per line). Owns which schemata are
list entries (`FTM_KINDS`; addresses, relations and entities only mentioned are skipped) and which
properties hold names, birth dates, countries and identifiers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .countries import country_code, country_or_text
from .inputs import input_files
from .records import ListFormatError, ParsedEntry, add_unique

FTM_KINDS = {
    "Person": "person", "Organization": "entity", "Company": "entity", "LegalEntity": "entity",
    "PublicBody": "entity", "Vessel": "vessel", "Airplane": "aircraft",
}
_FTM_IDENTIFIERS = {
    "registrationNumber": "registration", "ogrnCode": "registration", "innCode": "tax", "taxNumber": "tax",
    "vatCode": "vat", "idNumber": "national_id", "passportNumber": "passport", "leiCode": "lei",
    "imoNumber": "imo", "swiftBic": "bic", "dunsCode": "duns", "okpoCode": "registration",
}


def _ftm_values(properties: dict, key: str) -> list[str]:
    values = properties.get(key) or []
    if isinstance(values, str):
        values = [values]
    return [" ".join(str(v).split()) for v in values if v is not None and str(v).strip()]


def _ftm_birth_date(value: str) -> str | None:
    if re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return value[:10]
    if re.match(r"^\d{4}(-\d{2})?$", value):
        return value
    return None


def _ftm_entry(path: Path, number: int, record: Any) -> ParsedEntry | None:
    if not isinstance(record, dict):
        raise ListFormatError(path, "each line must be a JSON object", number)
    schema = record.get("schema")
    properties = record.get("properties")
    if not isinstance(schema, str) or not isinstance(properties, dict) or not record.get("id"):
        raise ListFormatError(path, "not a FollowTheMoney entity (it needs id, schema and properties)", number)
    kind = FTM_KINDS.get(schema)
    if kind is None or record.get("target") is False:
        return None  # addresses, relations, and entities that are only mentioned, not listed
    names = _ftm_values(properties, "name")
    caption = " ".join(str(record.get("caption") or "").split())
    name = caption if caption and (caption in names or not names) else (names[0] if names else caption)
    if not name:
        return None
    entry = ParsedEntry(external_id=str(record["id"])[:80], kind=kind, name=name)
    entry.add_alias(name, "primary")
    for key, quality in (("name", "aka"), ("alias", "aka"), ("previousName", "aka"), ("weakAlias", "weak")):
        for value in _ftm_values(properties, key):
            entry.add_alias(value, quality)
    for value in _ftm_values(properties, "birthDate"):
        add_unique(entry.birth_dates, _ftm_birth_date(value))
    for key in ("nationality", "citizenship"):
        for value in _ftm_values(properties, key):
            add_unique(entry.nationalities, country_or_text(value))
    for key in ("country", "jurisdiction", "mainCountry"):
        for value in _ftm_values(properties, key):
            add_unique(entry.countries, country_or_text(value))
    home = entry.countries + entry.nationalities
    country = country_code(home[0]) if len(set(home)) == 1 else None
    for key, kind_of_id in _FTM_IDENTIFIERS.items():
        for value in _ftm_values(properties, key):
            identifier = {"type": kind_of_id, "value": value, "country": country}
            if identifier not in entry.identifiers:
                entry.identifiers.append(identifier)
    entry.programs = _ftm_values(properties, "program") or [str(d) for d in record.get("datasets") or []]
    notes = _ftm_values(properties, "notes")
    entry.remarks = "; ".join(notes) or None
    return entry


def parse_ftm(path: str | Path) -> Iterator[ParsedEntry]:
    path = input_files("ftm", path)[0]
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ListFormatError(path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", number,
                                      exc.start + 1) from None
            if number == 1:
                line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ListFormatError(path, f"invalid JSON ({exc.msg})", number, exc.colno) from None
            entry = _ftm_entry(path, number, record)
            if entry is not None:
                yield entry
