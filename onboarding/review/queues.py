"""The review queues: which cases each team works, with filters, sorting and pagination that stay
index-driven (state, due date) so a queue page costs the same few statements at any size."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from ..accounts.models import User
from ..applications.models import DOCUMENT_REVIEW, PENDING_APPROVAL, QUALIFICATION_REVIEW, STATE_LABELS, Application
from ..db import db
from ..textsearch import containing

REVIEW_STATES = (DOCUMENT_REVIEW, QUALIFICATION_REVIEW, PENDING_APPROVAL)
PAGE_SIZE = 25


@dataclass(frozen=True)
class Queue:
    code: str
    label: str
    states: tuple[str, ...]
    role: str
    # The compliance queue holds cases waiting for a sign-off, whatever their review stage.
    signoff: bool = False


QUEUES = {
    q.code: q for q in (
        Queue("documents", "Document review", (DOCUMENT_REVIEW,), "document_reviewer"),
        Queue("qualification", "Qualification review", (QUALIFICATION_REVIEW,), "qualification_reviewer"),
        Queue("approval", "Pending approval", (PENDING_APPROVAL,), "approver"),
        Queue("compliance", "Compliance sign-off", REVIEW_STATES, "compliance", signoff=True),
    )
}

SORTS = {
    # Cases in a review queue always have a due date; outside the queues it is empty and sorts last.
    "due": ("Due date", lambda: (Application.due_at.asc().nulls_last(), Application.id.asc())),
    "age": ("Oldest first", lambda: (Application.state_changed_at.asc(), Application.id.asc())),
    "newest": ("Newest first", lambda: (Application.submitted_at.desc(), Application.id.desc())),
    # One direction for both keys, so the (state, risk_score) index is read backwards, never sorted.
    "risk": ("Highest risk", lambda: (Application.risk_score.desc(), Application.id.desc())),
    "name": ("Legal name", lambda: (Application.legal_name.asc(), Application.id.asc())),
}


@dataclass
class Filters:
    state: str = ""
    jurisdiction: str = ""
    risk_band: str = ""
    assignee: str = ""  # "", "me", "unassigned" or a user id
    search: str = ""
    sort: str = "due"
    page: int = 1
    # Queues work by due date; the list of every application reads newest first.
    default_sort: str = "due"

    @classmethod
    def from_args(cls, args, default_sort: str = "due") -> Filters:
        page = args.get("page", 1, type=int) or 1
        sort = args.get("sort", default_sort)
        return cls(
            state=args.get("state", "") if args.get("state", "") in STATE_LABELS else "",
            jurisdiction=(args.get("jurisdiction", "") or "").strip().upper()[:2],
            risk_band=args.get("risk", "") if args.get("risk", "") in ("low", "medium", "high") else "",
            assignee=(args.get("assignee", "") or "").strip()[:12],
            search=(args.get("q", "") or "").strip()[:100],
            sort=sort if sort in SORTS else default_sort,
            page=max(page, 1),
            default_sort=default_sort,
        )

    def args(self, **changes) -> dict[str, str]:
        """Query-string arguments of these filters, with `changes` applied (for links)."""
        values = {"state": self.state, "jurisdiction": self.jurisdiction, "risk": self.risk_band,
                  "assignee": self.assignee, "q": self.search, "sort": self.sort, "page": self.page}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)
                and not (k == "sort" and v == self.default_sort)}


@dataclass
class QueuePage:
    rows: list = field(default_factory=list)
    total: int = 0
    page: int = 1
    pages: int = 1


def base_query(queue: Queue | None) -> Select:
    query = select(Application.id)
    if queue is None:
        return query.where(Application.submitted_at.is_not(None))
    query = query.where(Application.state.in_(queue.states) if len(queue.states) > 1
                        else Application.state == queue.states[0])
    if queue.signoff:
        query = query.where(*awaiting_signoff())
    return query


def apply_filters(query: Select, filters: Filters, user_id: int) -> Select:
    if filters.state:
        query = query.where(Application.state == filters.state)
    if filters.jurisdiction:
        query = query.where(Application.jurisdiction == filters.jurisdiction)
    if filters.risk_band:
        query = query.where(Application.risk_band == filters.risk_band)
    if filters.assignee == "me":
        query = query.where(Application.assignee_id == user_id)
    elif filters.assignee == "unassigned":
        query = query.where(Application.assignee_id.is_(None))
    elif filters.assignee.isascii() and filters.assignee.isdigit() and len(filters.assignee) <= 9:
        query = query.where(Application.assignee_id == int(filters.assignee))
    if filters.search:
        query = query.where(containing(filters.search, Application.legal_name, Application.reference,
                                       Application.registration_number))
    return query


def queue_page(queue: Queue | None, filters: Filters, user_id: int) -> QueuePage:
    """One page of a queue: two statements (count, rows with assignee names) whatever the queue's size."""
    query = apply_filters(base_query(queue), filters, user_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(filters.page, pages)
    assignee = aliased(User)
    rows = db.session.execute(
        select(Application, assignee.full_name.label("assignee_name"))
        .outerjoin(assignee, assignee.id == Application.assignee_id)
        # A search narrows through the text index first (onboarding/textsearch.py); otherwise the sort
        # index drives the page.
        .where(Application.id.in_(query) if filters.search else query.whereclause)
        .order_by(*SORTS[filters.sort][1]()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return QueuePage(rows=rows, total=total, page=page, pages=pages)


def queue_counts() -> dict[str, int]:
    """Cases in each queue, for the navigation: one statement of per-queue counts, each answered from
    an index alone ((state, due_at) for the review states, the partial sign-off index for compliance)."""
    def count(*conditions):
        return select(func.count()).select_from(Application).where(*conditions).scalar_subquery()

    columns = {code: count(Application.state == q.states[0]) for code, q in QUEUES.items() if not q.signoff}
    columns["compliance"] = count(*awaiting_signoff())
    row = db.session.execute(select(*(c.label(code) for code, c in columns.items()))).one()
    return dict(row._mapping)


def awaiting_signoff() -> tuple:
    # Written to match the partial index ix_applications_awaiting_signoff exactly, so it is used.
    return (Application.needs_compliance_signoff == True, Application.compliance_signoff_at.is_(None),  # noqa: E712
            Application.state.in_(REVIEW_STATES))
