"""Read-only views of applications for pages and checks."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from ..db import db
from .models import CLOSED_STATES, Application
from .ownership import Link, OwnershipSummary, summarise


def beneficial_owner_threshold() -> Decimal:
    return Decimal(str(current_app.config.get("BENEFICIAL_OWNER_THRESHOLD", 25)))


def ownership_links(application: Application) -> list[Link]:
    return [Link(link.owner_id, link.owned_id, link.percentage) for link in application.ownership_links]


def ownership_summary(application: Application) -> OwnershipSummary:
    persons = {p.id for p in application.parties if p.is_person}
    return summarise(ownership_links(application), persons, beneficial_owner_threshold())


def open_application(institution_id: int) -> Application | None:
    return db.session.scalar(
        select(Application).where(Application.institution_id == institution_id,
                                  Application.state.notin_(CLOSED_STATES))
    )


def latest_application(institution_id: int) -> Application | None:
    return db.session.scalar(
        select(Application).where(Application.institution_id == institution_id)
        .order_by(Application.id.desc()).limit(1)
    )
