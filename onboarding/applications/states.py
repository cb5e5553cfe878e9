"""The application's life (DESIGN 3) as one table of (state, action) -> next state with guards.

`transition()` is the only code that changes `Application.state`: it checks the table, the actor
and the guards, changes the state, records an audit event and queues the notifications and jobs
that follow, all in the caller's transaction.

The table keeps targets and roles, and the guards about the application itself (complete, rules
agreed, the applicant's own, items to change listed). Parts above it (review) register the guards and
effects they own when the app is built (`register_guards`, `register_effect`), so the lifecycle never
imports them. A staff action with no registered guard is refused: a missing registration fails closed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..accounts.models import User
from ..agreements.models import API_USAGE
from ..agreements.operations import has_agreed_to_current
from ..audit.operations import record
from ..db import utcnow
from ..errors import OperationRefused
from ..jobs import request_job
from ..templating import plural
from .changes import answer_open_changes, open_change_requests
from .completeness import find_problems
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
from .notifications import notify_applicant

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
    problems = find_problems(application)
    if problems:
        return (f"The application is not complete yet: {plural(len(problems), 'item')} to fix. "
                "See the list on the review page.")
    return None


def current_rules_agreed(application: Application, actor: Actor) -> str | None:
    if not has_agreed_to_current(application.institution_id, API_USAGE):
        return "The current API usage rules must be agreed to before submitting."
    return None


def own_institution(application: Application, actor: Actor) -> str | None:
    if actor.user is None or actor.user.institution_id != application.institution_id:
        return "Only users of the applying institution can do this."
    return None


def change_items_listed(application: Application, actor: Actor) -> str | None:
    if not open_change_requests(application):
        return "List at least one item the applicant must change."
    return None


_SUBMIT = Rule(CHECKING, APPLICANT, guards=(own_institution, application_complete, current_rules_agreed))
_WITHDRAW = Rule(WITHDRAWN, APPLICANT, guards=(own_institution,))

TRANSITIONS: dict[tuple[str, str], Rule] = {
    (DRAFT, "submit"): _SUBMIT,
    (CHANGES_REQUESTED, "submit"): _SUBMIT,
    (CHECKING, "checks_done"): Rule(DOCUMENT_REVIEW, SYSTEM),
    (DOCUMENT_REVIEW, "documents_accepted"): Rule(QUALIFICATION_REVIEW, STAFF, ("document_reviewer",)),
    (DOCUMENT_REVIEW, "request_changes"): Rule(CHANGES_REQUESTED, STAFF, ("document_reviewer",),
                                               guards=(change_items_listed,)),
    # Compliance may reject a case whose sanctions match it confirmed (review's guard says when).
    (DOCUMENT_REVIEW, "reject"): Rule(REJECTED, STAFF, ("document_reviewer", "compliance")),
    (QUALIFICATION_REVIEW, "qualify"): Rule(PENDING_APPROVAL, STAFF, ("qualification_reviewer",)),
    (QUALIFICATION_REVIEW, "request_changes"): Rule(CHANGES_REQUESTED, STAFF, ("qualification_reviewer",),
                                                    guards=(change_items_listed,)),
    (QUALIFICATION_REVIEW, "reject"): Rule(REJECTED, STAFF, ("qualification_reviewer", "compliance")),
    (PENDING_APPROVAL, "approve"): Rule(APPROVED, STAFF, ("approver",)),
    (PENDING_APPROVAL, "send_back"): Rule(QUALIFICATION_REVIEW, STAFF, ("approver",)),
    (PENDING_APPROVAL, "reject"): Rule(REJECTED, STAFF, ("approver", "compliance")),
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


# --- guards and effects registered by the parts that own them ------------------------------------

Effect = Callable[[Application, str, Actor], None]
EVERY_ACTION = "*"

# Filled when the app is built (review.rules.register_review_rules). Registering again replaces, so
# building several apps in one process (tests) leaves the same table.
_registered_guards: dict[tuple[str, str], tuple[Guard, ...]] = {}
_effects: dict[str, tuple[Effect, ...]] = {}


def register_guards(state: str, action: str, *guards: Guard) -> None:
    if (state, action) not in TRANSITIONS:
        raise KeyError(f"no transition {action!r} from {state!r} to guard")
    _registered_guards[(state, action)] = tuple(guards)


def register_effect(action: str, effect: Effect) -> None:
    """Run `effect(application, action, actor)` after every `action` (EVERY_ACTION: after any), in order of
    registration, inside the transition's transaction."""
    if action != EVERY_ACTION and action not in ACTIONS:
        raise KeyError(f"no action {action!r}")
    if effect not in _effects.get(action, ()):
        _effects[action] = (*_effects.get(action, ()), effect)


def guards_for(state: str, action: str) -> tuple[Guard, ...]:
    """Every guard of the transition: the registered ones first (who may decide), then the table's own."""
    rule = TRANSITIONS[(state, action)]
    return _registered_guards.get((state, action), ()) + rule.guards


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
    if rule.actor == STAFF and (application.state, action) not in _registered_guards:
        raise TransitionRefused(f"Nobody can {ACTION_LABELS[action]} an application yet: its review rules are "
                                "not configured.")
    for guard in guards_for(application.state, action):
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
    if action == "submit":
        answer_open_changes(application)
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


def _after(application: Application, source: str, action: str, actor: Actor) -> None:
    """Jobs, effects of other parts and e-mails that follow a transition, in the same transaction."""
    if application.state == CHECKING:
        request_job("applications.run_checks", application_id=application.id)
    for effect in _effects.get(EVERY_ACTION, ()) + _effects.get(action, ()):
        effect(application, action, actor)
    notify_applicant(application, action)
