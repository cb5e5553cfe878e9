"""What the rules page shows: each version with how many active institutions agreed to it, the active
institutions that have not agreed to the current version (their key creation is gated), and the line diff
of a proposed text against the current one."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import func, select

from ..agreements.models import RULE_KINDS, Agreement, RuleVersion
from ..agreements.operations import current_rules
from ..db import db
from ..institutions.models import ACTIVE, Institution


@dataclass(frozen=True)
class VersionRow:
    rules: RuleVersion
    agreed_active: int
    is_current: bool


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "remove", "same" or "gap"
    old_number: int | None
    new_number: int | None
    text: str


def active_institution_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Institution).where(Institution.status == ACTIVE))


def versions_of(kind: str) -> list[VersionRow]:
    agreed = (select(Agreement.rule_version_id, func.count(func.distinct(Agreement.institution_id)).label("n"))
              .join(Institution, Institution.id == Agreement.institution_id)
              .where(Institution.status == ACTIVE, Agreement.kind == kind)
              .group_by(Agreement.rule_version_id).subquery())
    rows = db.session.execute(select(RuleVersion, func.coalesce(agreed.c.n, 0))
                              .outerjoin(agreed, agreed.c.rule_version_id == RuleVersion.id)
                              .where(RuleVersion.kind == kind).order_by(RuleVersion.id.desc())).all()
    return [VersionRow(rules, count, index == 0) for index, (rules, count) in enumerate(rows)]


def not_agreed_to_current(kind: str) -> list[Institution]:
    """Active institutions without an agreement to the current version of `kind`."""
    latest = current_rules(kind)
    query = select(Institution).where(Institution.status == ACTIVE).order_by(Institution.legal_name)
    if latest is not None:
        query = query.where(~select(Agreement.id).where(Agreement.institution_id == Institution.id,
                                                        Agreement.rule_version_id == latest.id).exists())
    return list(db.session.scalars(query))


def rule_kinds() -> dict[str, str]:
    return RULE_KINDS


def normalised(text: str) -> str:
    """The text as publishing stores it (line ends, surrounding blank space), so the diff and the
    'identical' check see what would be published."""
    return text.replace("\r\n", "\n").strip() + "\n"


def line_diff(old: str, new: str, context: int = 2) -> list[DiffLine]:
    """Changed lines with a little context around them; "gap" stands for unchanged lines left out."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine("gap", None, None, ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("same", i1 + k + 1, j1 + k + 1, old_lines[i1 + k]) for k in range(i2 - i1)]
                continue
            if tag in ("replace", "delete"):
                lines += [DiffLine("remove", i + 1, None, old_lines[i]) for i in range(i1, i2)]
            if tag in ("replace", "insert"):
                lines += [DiffLine("add", None, j + 1, new_lines[j]) for j in range(j1, j2)]
    return lines
