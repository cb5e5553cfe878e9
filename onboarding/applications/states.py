"""The application's life (DESIGN 3) as one table of (state, action) -> next state with guards.

`transition()` is the only code that changes `Application.state`: it checks the table, the actor
and the guards, changes the state, records an audit event and queues the notifications and jobs
that follow, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app

from ..accounts.models import User
from ..audit.operations import record
from ..db import utcnow
from ..errors import OperationRefused
from .models import (
    APPROVED,
    CHANGES_REQUESTED,
    CHECKING,
    CLOSED_STATES,
    DOCUMENT_REVIEW,
    DRAFT,
    PENDING_APPROVAL,
    QUALIFICATION_REVIEW,
    REJECTED,
    STATE_LABELS,
    WITHDRAWN,
    Application,
)

APPLICANT, SYSTEM, STAFF = "applicant", "system", "staff"


@dataclass(frozen=True)
class Actor:
    """Who asks for a transition: an applicant or staff user, or the system (jobs)."""

    user: User | None = None

    @property
    def kind(self) -> str:
        if self.user is None:
            return SYSTEM
        return STAFF if self.user.is_staff else APPLICANT

    @classmethod
    def system(cls) -> Actor:
        return cls(None)


class TransitionRefused(OperationRefused):
    pass


Guard = Callable[[Application, Actor], str | None]


@dataclass(frozen=True)
class Rule:
    target: str
    actor: str  # APPLICANT, SYSTEM or STAFF
    roles: tuple[str, ...] = ()
    guards: tuple[Guard, ...] = field(default=())


# --- guards: each returns None when satisfied, or the reason it is not -------------------------


def application_complete(application: Application, actor: Actor) -> str | None:
    from .completeness import find_problems

    problems = find_problems(application)
    if problems:
        return f"The application is not complete yet: {len(problems)} item(s) to fix. See the list on the review page."
    return None


def current_rules_agreed(application: Application, actor: Actor) -> str | None:
    from ..agreements.models import API_USAGE
    from ..agreements.operations import has_agreed_to_current

    if not has_agreed_to_current(application.institution_id, API_USAGE):
        return "The current API usage rules must be agreed to before submitting."
    return None


def four_eyes(application: Application, actor: Actor) -> str | None:
    if actor.user is not None and application.qualified_by_id == actor.user.id:
        return "You did the qualification review of this application; another approver must approve it."
    return None


def assigned_to_actor(application: Application, actor: Actor) -> str | None:
    if application.assignee_id is None:
        return "Claim this case before deciding on it: only the assigned reviewer decides."
    if actor.user is None or application.assignee_id != actor.user.id:
        from ..db import db

        assignee = db.session.get(User, application.assignee_id)
        return (f"This case is assigned to {assignee.full_name if assignee else 'another reviewer'}; only the "
                "assignee can decide on it. An admin can reassign it.")
    return None


def screening_hits_disposed(application: Application, actor: Actor) -> str | None:
    from ..review.queries import pending_hit_count

    pending = pending_hit_count(application)
    if pending:
        return (f"{pending} possible sanctions match(es) still need a disposition (true match or false positive, "
                "with a reason).")
    return None


def no_confirmed_sanctions_match(application: Application, actor: Actor) -> str | None:
    from ..review.queries import true_match_count

    if true_match_count(application):
        return "A sanctions match was confirmed as a true match: this application can only be rejected."
    return None


def link_signals_reviewed(application: Application, actor: Actor) -> str | None:
    from ..review.queries import open_signal_count

    count = open_signal_count(application)
    if count:
        return f"{count} linked-applicant signal(s) still need to be confirmed or dismissed."
    return None


def documents_all_accepted(application: Application, actor: Actor) -> str | None:
    from ..review.queries import documents_not_accepted

    waiting = documents_not_accepted(application)
    if waiting:
        return (f"{len(waiting)} document(s) are not accepted yet. Accept each document, or request changes "
                "for those that need a new file.")
    return None


def qualification_scored(application: Application, actor: Actor) -> str | None:
    from ..review.queries import current_qualification

    if current_qualification(application) is None:
        return "Score the qualification criteria and grant access before qualifying."
    return None


def change_items_listed(application: Application, actor: Actor) -> str | None:
    from ..review.queries import open_change_requests

    if not open_change_requests(application):
        return "List at least one item the applicant must change."
    return None


def compliance_signed_off(application: Application, actor: Actor) -> str | None:
    from ..review.operations import refresh_signoff_requirement

    # Computed now, not trusted from the stored flag: a linked institution may have been restricted since.
    refresh_signoff_requirement(application)
    if application.needs_compliance_signoff and application.compliance_signoff_at is None:
        return ("This case is high risk or linked to a restricted institution: a compliance officer must sign it "
                "off before it can be approved.")
    return None


def own_institution(application: Application, actor: Actor) -> str | None:
    if actor.user is None or actor.user.institution_id != application.institution_id:
        return "Only users of the applying institution can do this."
    return None


_SUBMIT = Rule(CHECKING, APPLICANT, guards=(own_institution, application_complete, current_rules_agreed))
_WITHDRAW = Rule(WITHDRAWN, APPLICANT, guards=(own_institution,))

TRANSITIONS: dict[tuple[str, str], Rule] = {
    (DRAFT, "submit"): _SUBMIT,
    (CHANGES_REQUESTED, "submit"): _SUBMIT,
    (CHECKING, "checks_done"): Rule(DOCUMENT_REVIEW, SYSTEM),
    (DOCUMENT_REVIEW, "documents_accepted"): Rule(
        QUALIFICATION_REVIEW, STAFF, ("document_reviewer",),
        guards=(assigned_to_actor, screening_hits_disposed, no_confirmed_sanctions_match, link_signals_reviewed,
                documents_all_accepted)),
    (DOCUMENT_REVIEW, "request_changes"): Rule(CHANGES_REQUESTED, STAFF, ("document_reviewer",),
                                               guards=(assigned_to_actor, change_items_listed)),
    (DOCUMENT_REVIEW, "reject"): Rule(REJECTED, STAFF, ("document_reviewer",), guards=(assigned_to_actor,)),
    (QUALIFICATION_REVIEW, "qualify"): Rule(PENDING_APPROVAL, STAFF, ("qualification_reviewer",),
                                            guards=(assigned_to_actor, qualification_scored)),
    (QUALIFICATION_REVIEW, "request_changes"): Rule(CHANGES_REQUESTED, STAFF, ("qualification_reviewer",),
                                                    guards=(assigned_to_actor, change_items_listed)),
    (QUALIFICATION_REVIEW, "reject"): Rule(REJECTED, STAFF, ("qualification_reviewer",), guards=(assigned_to_actor,)),
    (PENDING_APPROVAL, "approve"): Rule(
        APPROVED, STAFF, ("approver",),
        guards=(assigned_to_actor, four_eyes, screening_hits_disposed, no_confirmed_sanctions_match,
                link_signals_reviewed, compliance_signed_off)),
    (PENDING_APPROVAL, "send_back"): Rule(QUALIFICATION_REVIEW, STAFF, ("approver",), guards=(assigned_to_actor,)),
    (PENDING_APPROVAL, "reject"): Rule(REJECTED, STAFF, ("approver",), guards=(assigned_to_actor,)),
    **{
        (state, "withdraw"): _WITHDRAW
        for state in STATE_LABELS
        if state not in CLOSED_STATES
    },
}

ACTIONS = sorted({action for _, action in TRANSITIONS})

ACTION_LABELS = {
    "submit": "submit",
    "checks_done": "finish the checks of",
    "documents_accepted": "accept the documents of",
    "request_changes": "request changes to",
    "reject": "reject",
    "qualify": "qualify",
    "approve": "approve",
    "send_back": "send back",
    "withdraw": "withdraw",
}


def allowed_actions(application: Application) -> list[str]:
    return [action for (state, action) in TRANSITIONS if state == application.state]


def transition(application: Application, action: str, actor: Actor, *, details: dict | None = None) -> str:
    """Apply `action` to the application or raise TransitionRefused. Returns the new state."""
    rule = TRANSITIONS.get((application.state, action))
    if rule is None:
        raise TransitionRefused(
            f"An application with the status “{STATE_LABELS[application.state]}” cannot be {_past(action)}."
        )
    if actor.kind != rule.actor:
        raise TransitionRefused(f"Only {'staff' if rule.actor == STAFF else rule.actor + 's'} can "
                                f"{ACTION_LABELS[action]} an application.")
    if rule.roles and not actor.user.has_any_role(rule.roles):
        raise TransitionRefused(
            f"You need the {' or '.join(r.replace('_', ' ') for r in rule.roles)} role to "
            f"{ACTION_LABELS[action]} this application."
        )
    for guard in rule.guards:
        reason = guard(application, actor)
        if reason:
            raise TransitionRefused(reason)

    source = application.state
    now = utcnow()
    application.state = rule.target
    application.state_changed_at = now
    if action == "submit":
        application.submitted_at = now
        application.check_round += 1
    if action == "qualify":
        application.qualified_by_id = actor.user.id
    if action == "request_changes":
        application.changes_requested_by_id = actor.user.id
    if rule.target in (APPROVED, REJECTED):
        application.decided_at = now
    _route_to_queue(application, action)
    record(
        f"application.{action}", "application", application.id,
        {"from": source, "to": rule.target, "reference": application.reference, **(details or {})},
    )
    _after(application, source, action, actor)
    return rule.target


def _past(action: str) -> str:
    return {
        "submit": "submitted", "checks_done": "moved on from checks", "documents_accepted": "moved to qualification",
        "request_changes": "sent back for changes", "reject": "rejected", "qualify": "qualified",
        "approve": "approved", "send_back": "sent back", "withdraw": "withdrawn",
    }.get(action, action)


REVIEW_QUEUE_ROLES = {
    DOCUMENT_REVIEW: "document_reviewer",
    QUALIFICATION_REVIEW: "qualification_reviewer",
    PENDING_APPROVAL: "approver",
}


def _route_to_queue(application: Application, action: str) -> None:
    """A case changing state leaves its reviewer and gets the deadline of its new queue. A resubmitted
    case goes back to the reviewer who asked for the changes, when they can still take it."""
    application.assignee_id = application.assigned_at = None
    application.due_at = None
    if application.state not in REVIEW_QUEUE_ROLES:
        return
    now = utcnow()
    application.due_at = now + review_deadline(application.risk_band)
    if action == "checks_done" and application.changes_requested_by_id:
        from ..db import db

        reviewer = db.session.get(User, application.changes_requested_by_id)
        if reviewer is not None and reviewer.is_active and reviewer.has_role(REVIEW_QUEUE_ROLES[application.state]):
            application.assignee_id, application.assigned_at = reviewer.id, now


def review_deadline(risk_band: str | None) -> timedelta:
    days = current_app.config["REVIEW_DEADLINE_DAYS"]
    return timedelta(days=days.get(risk_band or "medium", days["medium"]))


def _after(application: Application, source: str, action: str, actor: Actor) -> None:
    """Jobs and e-mails that follow a transition, queued in the same transaction."""
    from ..jobs import request_job
    from .notifications import notify_applicant

    if application.state == CHECKING:
        request_job("applications.run_checks", application_id=application.id)
    if action == "submit":
        from ..review.operations import after_submission

        after_submission(application)
    if action == "approve":
        from ..review.operations import after_approval

        after_approval(application, actor)
    notify_applicant(application, action)
