"""The OFAC SDN list in its legacy CSV form: a folder of `sdn.csv`, `add.csv`, `alt.csv` and
`sdn_comments.csv` (no header row; `-0- ` means empty). Owns decoding the files (UTF-8, else
Windows-1252; binary content refused), the CSV rows and their column counts, and reading the
birth dates, nationalities, identifiers and a.k.a. names that OFAC writes inside `Remarks`."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .countries import country_code, country_or_text
from .inputs import input_files
from .records import ListFormatError, ParsedEntry, add_unique

_OFAC_COLUMNS = {"sdn.csv": 12, "add.csv": 6, "alt.csv": 5, "sdn_comments.csv": 2}

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text_lines(path: Path) -> Iterator[str]:
    """Decode a text file line by line: UTF-8, else Windows-1252 (what OFAC files are in practice).
    Binary content (NUL and other control bytes) and bytes neither encoding knows are refused.
    A DOS end-of-file mark (Ctrl-Z) at the very end is ignored."""
    with open(path, "rb") as handle:
        head = handle.read(8192)
        if b"\x00" in head:
            offset = head.index(b"\x00")
            raise ListFormatError(path, "binary data (a NUL byte); this is not a text file",
                                  head.count(b"\n", 0, offset) + 1, offset - (head.rfind(b"\n", 0, offset) + 1) + 1)
        handle.seek(0)
        for number, raw in enumerate(handle, start=1):
            body = raw.rstrip(b"\r\n")
            if body.endswith(b"\x1a"):
                if handle.read(1):
                    raise ListFormatError(path, "unexpected Ctrl-Z (end-of-file mark) before the end", number)
                raw = body = body.rstrip(b"\x1a")
                if not body:
                    return
            bad = _CONTROL.search(body)
            if bad:
                raise ListFormatError(path, f"binary data (byte 0x{bad.group()[0]:02x}); this is not a text file",
                                      number, bad.start() + 1)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                try:
                    text = raw.decode("cp1252")
                except UnicodeDecodeError as exc:
                    raise ListFormatError(path, f"byte 0x{raw[exc.start]:02x} is neither UTF-8 nor Windows-1252 text",
                                          number, exc.start + 1) from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    expected = _OFAC_COLUMNS[path.name]
    reader = csv.reader(_text_lines(path), strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != expected:
                raise ListFormatError(path, f"expected {expected} columns, found {len(row)}", reader.line_num)
            yield reader.line_num, row
    except csv.Error as exc:
        raise ListFormatError(path, f"malformed CSV ({exc})", reader.line_num) from None


def _value(text: str) -> str | None:
    text = text.strip()
    return None if text in ("", "-0-") else text


def _ent_num(path: Path, line: int, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ListFormatError(path, f"ent_num {text.strip()!r} is not a number", line) from None


_OFAC_KINDS = {"individual": "person", "vessel": "vessel", "aircraft": "aircraft"}
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), start=1)}
_DATE = re.compile(r"^(?:(\d{1,2})\s+)?(?:([A-Za-z]{3})[a-z]*\.?\s+)?(\d{4})$")
_AKA = re.compile(r"^(?:a\.k\.a\.|f\.k\.a\.|n\.k\.a\.)\s*['\"](.+?)['\"]?\.?$")
_NATIONALITY = re.compile(r"^(?:nationality|citizen)\s+(?!of\b)(.+?)\.?$", re.IGNORECASE)
_PARENS = re.compile(r"\s*\(([^()]*)\)")

# (label at the start of a remark, identifier type); the longest labels first where they overlap.
_OFAC_IDENTIFIERS = [
    ("Vessel Registration Identification IMO", "imo"), ("Identification Number IMO", "imo"),
    ("Diplomatic Passport", "passport"), ("Passport Booklet:", "passport"), ("Passport Booklet", "passport"),
    ("Passport", "passport"),
    ("Business Registration Document #", "registration"), ("Business Registration Number", "registration"),
    ("Public Registration Number", "registration"), ("Commercial Registry Number", "registration"),
    ("Registration Number", "registration"), ("Registration ID", "registration"),
    ("UK Company Number", "registration"), ("Company Number", "registration"), ("C.R. No.", "registration"),
    ("Folio Mercantil No.", "registration"), ("Matricula Mercantil No.", "registration"),
    ("Matricula Mercantil No", "registration"), ("Trade License No.", "registration"),
    ("Registered Charity No.", "registration"), ("Government Gazette Number", "registration"),
    ("Chamber of Commerce Number", "registration"), ("Legal Entity Number", "lei"),
    ("National Foreign ID Number", "national_id"), ("Tazkira National ID Card", "national_id"),
    ("National ID No.", "national_id"), ("Personal ID Card", "national_id"), ("Kenyan ID No.", "national_id"),
    ("Cedula No.", "national_id"), ("C.U.R.P.", "national_id"), ("Identification Number", "national_id"),
    ("Electoral Registry No.", "national_id"),
    ("Tax ID No.", "tax"), ("NIT #", "tax"), ("RUC #", "tax"), ("RIF #", "tax"), ("R.F.C.", "tax"),
    ("V.A.T. Number", "vat"), ("SSN", "ssn"), ("D-U-N-S Number", "duns"), ("MMSI", "mmsi"),
    ("Driver's License No.", "drivers_license"),
]
_IDENTIFIER_TYPES = dict(_OFAC_IDENTIFIERS)
_IDENTIFIER_LABELS = re.compile(
    "^(" + "|".join(re.escape(label) for label, _ in _OFAC_IDENTIFIERS) + ")(?![A-Za-z])"
)


def _iso_date(day: str | None, month: str | None, year: str) -> str | None:
    if month is None:
        return year
    number = _MONTHS.get(month[:3].lower())
    if number is None:
        return None
    if day is None:
        return f"{year}-{number:02d}"
    try:
        return datetime(int(year), number, int(day)).date().isoformat()
    except ValueError:
        return year


def parse_ofac_dob(text: str) -> list[str]:
    """'28 Jul 1963' -> ['1963-07-28']; '1963', 'circa 1960', 'Jul 1963', '1960 to 1962' (each year)."""
    text = text.strip().rstrip(".").strip()
    if text.lower().startswith("circa"):
        text = text[5:].strip()
    parts = re.split(r"\s+to\s+|(?<=\d{4})\s*-\s*(?=\d{4}$)", text)
    dates = []
    for part in parts:
        match = _DATE.match(part.strip())
        if match:
            value = _iso_date(*match.groups())
            if value:
                dates.append(value)
    if len(parts) == 2 and len(dates) == 2:
        first, last = int(dates[0][:4]), int(dates[1][:4])
        if dates[0][:4] == dates[1][:4]:
            return [dates[0]] if dates[0] == dates[1] else [dates[0], dates[1]]
        if 0 < last - first <= 15:
            return [str(year) for year in range(first, last + 1)]
    return dates


def _identifier(kind: str, rest: str) -> dict[str, Any] | None:
    rest = rest.strip().lstrip(":#").strip()
    rest = re.split(r"\s+(?:issued|expires|Doc\.)\b|,\s+Doc\.", rest, maxsplit=1)[0]
    countries = _PARENS.findall(rest)
    value = _PARENS.sub("", rest).strip().rstrip(".,;").strip()
    if kind == "imo" and value.upper().startswith("IMO "):
        value = value[4:].strip()
    if not value:
        return None
    country = None
    for candidate in reversed(countries):
        country = country_code(candidate)
        if country:
            break
    return {"type": kind, "value": value, "country": country}


def parse_ofac_remarks(remarks: str, entry: ParsedEntry) -> None:
    """Birth dates, nationalities, identifiers and a.k.a. names from the Remarks of an SDN entry."""
    for raw in remarks.split(";"):
        part = raw.strip()
        if part.startswith("alt. "):
            part = part[5:].strip()
        if not part:
            continue
        if part.startswith("DOB "):
            for value in parse_ofac_dob(part[4:]):
                add_unique(entry.birth_dates, value)
            continue
        aka = _AKA.match(part)
        if aka:
            entry.add_alias(aka.group(1).strip(), "aka")
            continue
        nationality = _NATIONALITY.match(part)
        if nationality:
            add_unique(entry.nationalities, country_or_text(nationality.group(1)))
            continue
        labelled = _IDENTIFIER_LABELS.match(part)
        if labelled:
            label = labelled.group(1)
            identifier = _identifier(_IDENTIFIER_TYPES[label], part[len(label):])
            if identifier and identifier not in entry.identifiers:
                if label == "UK Company Number" and not identifier["country"]:
                    identifier["country"] = "GB"
                entry.identifiers.append(identifier)


def parse_ofac(path: str | Path) -> Iterator[ParsedEntry]:
    sdn, add, alt, comments = input_files("ofac-sdn", path)
    known: set[int] = set()
    aliases: dict[int, list[tuple[str, str]]] = {}
    for line, row in _csv_rows(alt):
        name = _value(row[3])
        if name:
            aliases.setdefault(_ent_num(alt, line, row[0]), []).append((name, "aka"))
    countries: dict[int, list[str]] = {}
    for line, row in _csv_rows(add):
        country = _value(row[4])
        if country:
            add_unique(countries.setdefault(_ent_num(add, line, row[0]), []), country_or_text(country))
    continued: dict[int, str] = {}
    for line, row in _csv_rows(comments):
        number = _ent_num(comments, line, row[0])
        continued[number] = continued.get(number, "") + row[1]

    for line, row in _csv_rows(sdn):
        number = _ent_num(sdn, line, row[0])
        name = _value(row[1])
        if not name:
            raise ListFormatError(sdn, f"entry {number} has no name", line)
        if number in known:
            raise ListFormatError(sdn, f"entry {number} appears twice", line)
        known.add(number)
        kind = _OFAC_KINDS.get((_value(row[2]) or "").lower(), "entity")
        entry = ParsedEntry(external_id=str(number), kind=kind, name=name)
        entry.add_alias(name, "primary")
        programs = _value(row[3])
        entry.programs = [p.strip() for p in programs.strip("[] ").split("] [") if p.strip()] if programs else []
        remarks = (_value(row[11]) or "") + continued.get(number, "")
        remarks = remarks.strip() or None
        entry.remarks = remarks
        if remarks:
            parse_ofac_remarks(remarks, entry)
        for alias, quality in aliases.get(number, ()):
            entry.add_alias(alias, quality)
        for country in countries.get(number, ()):
            add_unique(entry.countries, country)
        flag = _value(row[9])
        if flag:
            add_unique(entry.countries, country_or_text(flag))
        yield entry
