"""What the applicant is asked to change: the items a reviewer lists (and the documents to replace) when
a case goes back to the applicant, answered when the applicant resubmits. The only writer of
`ChangeRequest`; review calls `list_changes`, the lifecycle calls `answer_open_changes` on submit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from ..db import db, utcnow
from ..errors import OperationRefused
from .models import CHANGE_STEPS, Application, ChangeRequest

MAX_ITEM_LENGTH = 2000


@dataclass(frozen=True)
class ChangeItem:
    step: str
    message: str
    document_slot: str | None = None


def list_changes(application: Application, items: Iterable[ChangeItem], *, by_user_id: int) -> list[ChangeRequest]:
    """Record the items of this round. Blank messages are skipped; a bad step or an over-long message
    refuses the whole list (nothing is written)."""
    created = []
    for item in items:
        message = (item.message or "").strip()
        if not message:
            continue
        if item.step not in CHANGE_STEPS:
            raise OperationRefused("Choose which part of the application each item is about.", field="items")
        if len(message) > MAX_ITEM_LENGTH:
            raise OperationRefused(f"Keep each item under {MAX_ITEM_LENGTH} characters.", field="items")
        created.append(ChangeRequest(application_id=application.id, round=application.check_round, step=item.step,
                                     document_slot=item.document_slot, message=message, created_by_id=by_user_id))
    db.session.add_all(created)
    db.session.flush()
    return created


def answer_open_changes(application: Application) -> None:
    """A (re)submission answers every open item."""
    now = utcnow()
    for change in open_change_requests(application):
        change.resolved_at = now


def open_change_requests(application: Application) -> list[ChangeRequest]:
    return list(db.session.scalars(select(ChangeRequest).where(
        ChangeRequest.application_id == application.id, ChangeRequest.resolved_at.is_(None))
        .order_by(ChangeRequest.id)))


def all_change_requests(application: Application) -> list[ChangeRequest]:
    return list(db.session.scalars(select(ChangeRequest).where(ChangeRequest.application_id == application.id)
                                   .order_by(ChangeRequest.round.desc(), ChangeRequest.id)))
