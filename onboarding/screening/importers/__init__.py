"""Readers for the sanctions list formats, behind one entry point: `parse(format, path)`.

Formats (the codes of `flask --app app sanctions import --format`):
  - `ofac-sdn`: the OFAC SDN legacy CSV folder (ofac.py)
  - `un-xml`: the UN Security Council consolidated XML (un.py)
  - `ftm`: OpenSanctions FollowTheMoney JSON lines (ftm.py)

Each reader is a generator of `ParsedEntry` (one list entry with its names and identifying
details) that reads its input as a stream. Anything that is not what the format promises raises
`ListFormatError`, whose message names the file and the line (and column where known); both live in
records.py. `input_sha256` (inputs.py) fingerprints an input; `country_code` (countries.py) is the
country-name lookup all readers share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from .countries import country_code
from .ftm import FTM_KINDS, parse_ftm
from .inputs import OFAC_FILES, input_files, input_sha256
from .ofac import parse_ofac, parse_ofac_dob, parse_ofac_remarks
from .records import ListFormatError, ParsedEntry
from .un import parse_un

__all__ = [
    "FTM_KINDS", "OFAC_FILES", "PARSERS", "ListFormatError", "ParsedEntry", "country_code", "input_files",
    "input_sha256", "parse", "parse_ftm", "parse_ofac", "parse_ofac_dob", "parse_ofac_remarks", "parse_un",
]

PARSERS: dict[str, Callable[[str | Path], Iterator[ParsedEntry]]] = {
    "ofac-sdn": parse_ofac, "un-xml": parse_un, "ftm": parse_ftm,
}


def parse(source: str, path: str | Path) -> Iterator[ParsedEntry]:
    """The entries of a list file (or, for OFAC, folder), read as a stream."""
    try:
        parser = PARSERS[source]
    except KeyError:
        raise ValueError(f"unknown list format {source!r}; expected one of {', '.join(PARSERS)}") from None
    return parser(path)
