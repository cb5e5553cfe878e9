"""Read-only questions about agreements, as SQL that other parts can put inside their own statements."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select

from .models import Agreement, RuleVersion


def agreed_to_current(institution_id: ColumnElement, kind: str) -> ColumnElement[bool]:
    """True where the institution agreed to the latest published version of `kind` (the authorize decision
    asks this inside its one statement)."""
    latest = select(RuleVersion.id).where(RuleVersion.kind == kind).order_by(RuleVersion.id.desc()).limit(1)
    return exists().where(Agreement.institution_id == institution_id,
                          Agreement.rule_version_id == latest.scalar_subquery())
