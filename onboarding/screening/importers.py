"""Readers for the sanctions list formats: OFAC SDN legacy CSV, the UN Security Council
consolidated XML and OpenSanctions FollowTheMoney JSON lines.

Each reader is a generator of `ParsedEntry` (one list entry with its names and identifying
details) that reads its input as a stream. Anything that is not what the format promises raises
`ListFormatError`, whose message names the file and the line (and column where known)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 (a DOCTYPE is refused before parsing: see _refuse_doctype)
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry

OFAC_FILES = ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv")
_OFAC_COLUMNS = {"sdn.csv": 12, "add.csv": 6, "alt.csv": 5, "sdn_comments.csv": 2}


class ListFormatError(Exception):
    """The input is not a valid file of the expected format. The message names the file and the
    line (and column) where the problem is."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None, column: int | None = None):
        where = str(path)
        if line is not None:
            where += f", line {line}"
            if column is not None:
                where += f", column {column}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.column = column
        self.problem = problem


@dataclass
class ParsedEntry:
    external_id: str
    kind: str  # person, entity, vessel, aircraft, unknown
    name: str
    aliases: list[tuple[str, str]] = field(default_factory=list)  # (name, quality), the primary name first
    programs: list[str] = field(default_factory=list)
    birth_dates: list[str] = field(default_factory=list)  # "1963-07-28", "1963-07" or "1963"
    nationalities: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    identifiers: list[dict[str, Any]] = field(default_factory=list)
    remarks: str | None = None

    _seen: set[str] = field(default_factory=set, repr=False)

    def add_alias(self, name: str | None, quality: str = "aka") -> None:
        """Add a name unless the entry already has it (compared ignoring case and spacing)."""
        name = " ".join((name or "").split())
        folded = name.casefold()
        if not name or folded in self._seen:
            return
        self._seen.add(folded)
        self.aliases.append((name, quality))


def _add_unique(values: list, value) -> None:
    if value and value not in values:
        values.append(value)


# ---------------------------------------------------------------------------
# Countries

_COUNTRY_NAMES = {
    "korea, north": "KP", "north korea": "KP", "democratic people's republic of korea": "KP",
    "korea, south": "KR", "south korea": "KR", "republic of korea": "KR", "burma": "MM", "russia": "RU",
    "russian federation": "RU", "iran": "IR", "iran (islamic republic of)": "IR", "syria": "SY",
    "syrian arab republic": "SY", "venezuela": "VE", "bolivia": "BO", "tanzania": "TZ", "laos": "LA",
    "vietnam": "VN", "viet nam": "VN", "moldova": "MD", "taiwan": "TW", "macau": "MO", "macao": "MO",
    "turkey": "TR", "turkiye": "TR", "kosovo": "XK", "palestinian": "PS", "palestine": "PS",
    "west bank": "PS", "gaza": "PS", "region: gaza": "PS", "state of palestine": "PS",
    "congo, democratic republic of the": "CD", "democratic republic of the congo": "CD",
    "congo, republic of the": "CG", "republic of the congo": "CG", "congo": "CG",
    "cote d ivoire": "CI", "cote d'ivoire": "CI", "ivory coast": "CI", "the gambia": "GM", "gambia": "GM",
    "bahamas, the": "BS", "bahamas": "BS", "man, isle of": "IM", "isle of man": "IM",
    "virgin islands, british": "VG", "british virgin islands": "VG", "czech republic": "CZ", "czechia": "CZ",
    "united states": "US", "united states of america": "US", "usa": "US", "united kingdom": "GB", "uk": "GB",
    "united kingdom of great britain and northern ireland": "GB", "netherlands antilles": "AN",
    "swaziland": "SZ", "cape verde": "CV", "brunei": "BN", "micronesia": "FM", "region: crimea": "UA",
    "crimea": "UA", "holy see": "VA", "vatican": "VA", "east timor": "TL", "macedonia": "MK",
    "north macedonia": "MK", "the former yugoslav republic of macedonia": "MK",
    "macedonia, the former yugoslav republic of": "MK", "sao tome and principe": "ST",
    "saint kitts and nevis": "KN", "saint vincent and the grenadines": "VC", "saint lucia": "LC",
}
_COUNTRY_CODES = {country.alpha_2 for country in pycountry.countries} | {"XK", "AN"}


@lru_cache(maxsize=4096)
def country_code(name: str | None) -> str | None:
    """ISO 3166 alpha-2 code of a country name or code as the lists write it, None if unknown."""
    if not name:
        return None
    text = " ".join(name.replace("\u2019", "'").split()).strip(" .")
    if not text:
        return None
    if len(text) == 2 and text.upper() in _COUNTRY_CODES:
        return text.upper()
    known = _COUNTRY_NAMES.get(text.casefold())
    if known:
        return known
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        pass
    if text.casefold().startswith("the "):
        return country_code(text[4:])
    return None


def _country_or_text(name: str | None) -> str | None:
    """The ISO code where known, else the name as written (the model keeps unknown ones as text)."""
    if not name:
        return None
    return country_code(name) or " ".join(name.split())


# ---------------------------------------------------------------------------
# Hashing


def input_files(source: str, path: str | Path) -> list[Path]:
    """The files that make up one list input, in the fixed order they are hashed in."""
    path = Path(path)
    if source == "ofac-sdn":
        folder = path.parent if path.is_file() and path.name.lower() == "sdn.csv" else path
        if not folder.is_dir():
            raise ListFormatError(path, "the OFAC SDN list is a folder holding " + ", ".join(OFAC_FILES))
        files = [folder / name for name in OFAC_FILES]
        for file in files:
            if not file.is_file():
                raise ListFormatError(folder, f"{file.name} is missing (expected {', '.join(OFAC_FILES)})")
        return files
    if not path.is_file():
        raise ListFormatError(path, "no such file")
    return [path]


def input_sha256(source: str, path: str | Path) -> str:
    """SHA-256 of the input bytes; for the OFAC folder, of its four files in a fixed order."""
    files = input_files(source, path)
    digest = hashlib.sha256()
    for file in files:
        if len(files) > 1:
            digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        if len(files) > 1:
            digest.update(b"\0")
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# OFAC SDN legacy CSV

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
                _add_unique(entry.birth_dates, value)
            continue
        aka = _AKA.match(part)
        if aka:
            entry.add_alias(aka.group(1).strip(), "aka")
            continue
        nationality = _NATIONALITY.match(part)
        if nationality:
            _add_unique(entry.nationalities, _country_or_text(nationality.group(1)))
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
            _add_unique(countries.setdefault(_ent_num(add, line, row[0]), []), _country_or_text(country))
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
            _add_unique(entry.countries, country)
        flag = _value(row[9])
        if flag:
            _add_unique(entry.countries, _country_or_text(flag))
        yield entry


# ---------------------------------------------------------------------------
# UN Security Council consolidated XML

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
            _add_unique(entry.birth_dates, date_text[:10])
        elif year and year.isdigit():
            _add_unique(entry.birth_dates, year)
        elif first and last and first.isdigit() and last.isdigit() and 0 <= int(last) - int(first) <= 15:
            for value in range(int(first), int(last) + 1):
                _add_unique(entry.birth_dates, str(value))
        elif first and first.isdigit():
            _add_unique(entry.birth_dates, first)


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
            _add_unique(entry.birth_dates, alias_dob)
    _add_unique(entry.programs, _text(element, "UN_LIST_TYPE"))
    for nationality in element.findall("NATIONALITY"):
        for value in nationality.findall("VALUE"):
            if value.text and value.text.strip():
                _add_unique(entry.nationalities, _country_or_text(value.text))
    for address in element.findall(f"{prefix}_ADDRESS"):
        _add_unique(entry.countries, _country_or_text(_text(address, "COUNTRY")))
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
        context = ET.iterparse(path, events=("start", "end"))  # noqa: S314 (DOCTYPE refused above)
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


# ---------------------------------------------------------------------------
# OpenSanctions FollowTheMoney JSON lines

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
        _add_unique(entry.birth_dates, _ftm_birth_date(value))
    for key in ("nationality", "citizenship"):
        for value in _ftm_values(properties, key):
            _add_unique(entry.nationalities, _country_or_text(value))
    for key in ("country", "jurisdiction", "mainCountry"):
        for value in _ftm_values(properties, key):
            _add_unique(entry.countries, _country_or_text(value))
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


PARSERS = {"ofac-sdn": parse_ofac, "un-xml": parse_un, "ftm": parse_ftm}


def parse(source: str, path: str | Path) -> Iterator[ParsedEntry]:
    """The entries of a list file (or, for OFAC, folder), read as a stream."""
    try:
        parser = PARSERS[source]
    except KeyError:
        raise ValueError(f"unknown list format {source!r}; expected one of {', '.join(PARSERS)}") from None
    return parser(path)
