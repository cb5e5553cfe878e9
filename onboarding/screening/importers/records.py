"""What every list reader produces and raises: `ParsedEntry` (one list entry with its names and
identifying details), `ListFormatError` (the input is not what its format promises; the message
names the file and the line, and the column where known) and `add_unique`, the way readers add a
value to one of an entry's lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


def add_unique(values: list, value) -> None:
    """Append `value` unless it is empty or already there."""
    if value and value not in values:
        values.append(value)
