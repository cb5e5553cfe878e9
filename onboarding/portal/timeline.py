"""The applicant's timeline on the status page: milestones each on their own line, and the edits between two
milestones folded into one line that says what changed ("3 people added · 13 documents uploaded"), with
every change behind a disclosure. Like a pull request's timeline: the story first, the commits on demand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..audit.models import AuditEvent
from ..templating import humanise_action, plural

# What moves the application on, or is a key event the applicant waits for.
MILESTONES = {
    "application.started", "application.submit", "application.withdraw", "application.request_changes",
    "application.checks_done", "application.documents_accepted", "application.qualify", "application.approve",
    "application.reject", "letter.issued",
}

# How a run of edits is counted: (action, party kind) -> (one, many).
_COUNTED = {
    ("application.party_added", "person"): ("person added", "people added"),
    ("application.party_added", "company"): ("company added", "companies added"),
    ("application.party_updated", None): ("person or company changed", "people or companies changed"),
    ("application.party_removed", None): ("person or company removed", "people or companies removed"),
    ("application.holding_added", None): ("shareholding added", "shareholdings added"),
    ("application.holding_removed", None): ("shareholding removed", "shareholdings removed"),
    ("document.uploaded", None): ("document uploaded", "documents uploaded"),
    ("document.removed", None): ("document removed", "documents removed"),
}
# Saving a step again and again is one fact: that it was saved.
_SAVED = {"application.company_saved": "company details saved",
          "application.profile_saved": "market-making profile saved"}


# Decisions only our staff take: never "automated", whatever recorded them (a seeded demo, a script).
REVIEW_DECISIONS = {
    "application.request_changes", "application.documents_accepted", "application.qualify", "application.approve",
    "application.reject",
}

# Steps the system takes by itself.
AUTOMATIC = {"application.checks_done": "automated checks", "letter.issued": "automatically"}


def who_did(event: AuditEvent, viewer_id: int, colleagues: dict[int, str]) -> str:
    """The actor as the applicant may know them: themselves, a colleague, or our team; never a staff name."""
    if event.actor_id is not None and event.actor_id == viewer_id:
        return "you"
    if event.actor_id in colleagues:
        return colleagues[event.actor_id]
    if event.action in REVIEW_DECISIONS:
        return "our review team"
    if event.action in AUTOMATIC:
        return AUTOMATIC[event.action]
    # Everything else the applicant sees is the applicant's own work (staff cannot edit an application):
    # by someone no longer among the institution's users, or recorded by a script such as the demo seed.
    return "your institution"


@dataclass
class Change:
    label: str
    detail: str
    at: datetime
    who: str


@dataclass
class TimelineEntry:
    title: str
    at: datetime  # the latest event of the entry
    who: str
    milestone: bool
    detail: str = ""
    summary: list[str] = field(default_factory=list)  # an edit run: what changed, counted
    changes: list[Change] = field(default_factory=list)  # an edit run: each change, newest first


def _detail(event: AuditEvent) -> str:
    details = event.details or {}
    return str(details.get("name") or details.get("filename") or "")


def _key(event: AuditEvent) -> tuple[str, str | None]:
    kind = (event.details or {}).get("kind") if event.action == "application.party_added" else None
    return (event.action, kind if (event.action, kind) in _COUNTED else None)


def _one(event: AuditEvent) -> str:
    """A lone edit's title: 'Person added', 'Document uploaded'."""
    key = _key(event)
    return _COUNTED[key][0].capitalize() if key in _COUNTED else humanise_action(event.action)


def _summary(edits: list[AuditEvent]) -> list[str]:
    counts: Counter[tuple[str, str | None]] = Counter()
    order: list[tuple[str, str | None]] = []
    for event in reversed(edits):  # oldest first, so the summary reads in the order things were done
        key = _key(event)
        if key not in counts:
            order.append(key)
        counts[key] += 1
    said = []
    for key in order:
        action, _ = key
        if action in _SAVED:
            said.append(_SAVED[action])
        elif key in _COUNTED:
            said.append(plural(counts[key], *_COUNTED[key]))
        else:
            said.append(humanise_action(action).lower() + ("" if counts[key] == 1 else f" {counts[key]} times"))
    if said:
        said[0] = said[0][0].upper() + said[0][1:]
    return said


def _who(names: list[str]) -> str:
    distinct = list(dict.fromkeys(names))
    return distinct[0] if len(distinct) == 1 else ", ".join(distinct[:-1]) + " and " + distinct[-1]


def build_timeline(events: list[AuditEvent], who: Callable[[AuditEvent], str]) -> list[TimelineEntry]:
    """`events` newest first, as the page lists them; `who` names an event's actor for the applicant."""
    submits = [e for e in events if e.action == "application.submit"]
    first_submit = submits[-1] if submits else None
    entries: list[TimelineEntry] = []
    run: list[AuditEvent] = []

    def close_run() -> None:
        if not run:
            return
        changes = [Change(humanise_action(e.action), _detail(e), e.occurred_at, who(e)) for e in run]
        title = _one(run[0]) if len(run) == 1 else "Application edited"
        entries.append(TimelineEntry(title=title, at=run[0].occurred_at, who=_who([c.who for c in changes]),
                                     milestone=False, detail=_detail(run[0]) if len(run) == 1 else "",
                                     summary=_summary(run) if len(run) > 1 else [],
                                     changes=changes if len(run) > 1 else []))
        run.clear()

    for event in events:
        if event.action in MILESTONES:
            close_run()
            title = ("Application resubmitted" if event.action == "application.submit" and event is not first_submit
                     else humanise_action(event.action))
            entries.append(TimelineEntry(title=title, at=event.occurred_at, who=who(event), milestone=True))
        else:
            run.append(event)
    close_run()
    return entries
