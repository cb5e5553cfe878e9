"""The review's guards on the application's transitions, and what review does after them. Registered
into the lifecycle's table when the app is built (`register_review_rules`), so the lifecycle never
imports review. Each guard returns None when satisfied, or the reason it is not, in words shown to
the reviewer."""

from __future__ import annotations

from ..accounts.models import User
from ..applications.models import Application
from ..applications.states import Actor
from ..db import db
from ..screening.queries import open_signal_count, pending_hit_count, true_match_count
from ..templating import plural
from .queries import current_qualification, documents_not_accepted
from .signoff import refresh_signoff_requirement


def assigned_to_actor(application: Application, actor: Actor | User) -> str | None:
    user = actor.user if isinstance(actor, Actor) else actor
    if application.assignee_id is None:
        return "Claim this case before deciding on it: only the assigned reviewer decides."
    if user is None or application.assignee_id != user.id:
        assignee = db.session.get(User, application.assignee_id)
        return (f"This case is assigned to {assignee.full_name if assignee else 'another reviewer'}; only the "
                "assignee can decide on it. An admin can reassign it.")
    return None


def assignee_or_compliance_on_true_match(application: Application, actor: Actor | User) -> str | None:
    """Who may reject: the assignee; or, once a sanctions match is confirmed (the case can then only be
    rejected), a compliance officer without taking the case from its reviewer."""
    user = actor.user if isinstance(actor, Actor) else actor
    if user is not None and user.has_role("compliance") and true_match_count(application):
        return None
    reason = assigned_to_actor(application, actor)
    if reason and user is not None and user.has_role("compliance"):
        return ("Only the assignee can reject this case while no sanctions match is confirmed as a true match; "
                "a compliance officer rejects after a confirmed match.")
    return reason


def four_eyes(application: Application, actor: Actor | User) -> str | None:
    user = actor.user if isinstance(actor, Actor) else actor
    if user is not None and application.qualified_by_id == user.id:
        return "You did the qualification review of this application; another approver must approve it."
    return None


def screening_hits_disposed(application: Application, actor: Actor) -> str | None:
    pending = pending_hit_count(application)
    if pending:
        return (f"{plural(pending, 'possible sanctions match', 'possible sanctions matches')} still "
                f"{'needs' if pending == 1 else 'need'} a disposition (true match or false positive, "
                "with a reason).")
    return None


def no_confirmed_sanctions_match(application: Application, actor: Actor) -> str | None:
    if true_match_count(application):
        return "A sanctions match was confirmed as a true match: this application can only be rejected."
    return None


def link_signals_reviewed(application: Application, actor: Actor) -> str | None:
    count = open_signal_count(application)
    if count:
        return (f"{plural(count, 'linked-applicant signal')} still {'needs' if count == 1 else 'need'} to be "
                "confirmed or dismissed.")
    return None


def documents_all_accepted(application: Application, actor: Actor) -> str | None:
    waiting = documents_not_accepted(application)
    if waiting:
        verb = "is" if len(waiting) == 1 else "are"
        return (f"{plural(len(waiting), 'document')} {verb} not accepted yet. Accept each document, or request "
                "changes for those that need a new file.")
    return None


def qualification_scored(application: Application, actor: Actor) -> str | None:
    if current_qualification(application) is None:
        return "Score the qualification criteria and grant access before qualifying."
    return None


def compliance_signed_off(application: Application, actor: Actor) -> str | None:
    # Computed now, not trusted from the stored flag: a linked institution may have been restricted since.
    refresh_signoff_requirement(application)
    if application.needs_compliance_signoff and application.compliance_signoff_at is None:
        return ("This case is high risk or linked to a restricted institution: a compliance officer must sign it "
                "off before it can be approved.")
    return None


# Guards that the case page shows by other means (the claim button, the qualification form), so its
# "before the case can move on" list leaves them out.
SHOWN_ELSEWHERE = (assigned_to_actor, assignee_or_compliance_on_true_match, qualification_scored)
