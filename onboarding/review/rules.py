"""Review's part of the application's transition table: the guards on each staff decision and what
follows a transition. `register_review_rules()` is called once per app build by the factory."""

from __future__ import annotations

from ..applications.models import DOCUMENT_REVIEW, PENDING_APPROVAL, QUALIFICATION_REVIEW
from ..applications.states import EVERY_ACTION, register_effect, register_guards
from .guards import (
    assigned_to_actor,
    assignee_or_compliance_on_true_match,
    compliance_signed_off,
    documents_all_accepted,
    four_eyes,
    link_signals_reviewed,
    no_confirmed_sanctions_match,
    qualification_scored,
    screening_hits_disposed,
)
from .operations.assignment import route_to_queue
from .operations.case import grant_access_on_approval
from .operations.screening import clear_signoff_on_resubmission, refresh_signoff_after_checks

SCREENING_CLEAR = (screening_hits_disposed, no_confirmed_sanctions_match, link_signals_reviewed)


def register_review_rules() -> None:
    register_guards(DOCUMENT_REVIEW, "documents_accepted", assigned_to_actor, *SCREENING_CLEAR,
                    documents_all_accepted)
    register_guards(DOCUMENT_REVIEW, "request_changes", assigned_to_actor)
    register_guards(DOCUMENT_REVIEW, "reject", assignee_or_compliance_on_true_match)
    register_guards(QUALIFICATION_REVIEW, "qualify", assigned_to_actor, qualification_scored)
    register_guards(QUALIFICATION_REVIEW, "request_changes", assigned_to_actor)
    register_guards(QUALIFICATION_REVIEW, "reject", assignee_or_compliance_on_true_match)
    # Approval grants what the qualification of this round proposed: without one there is nothing to grant.
    register_guards(PENDING_APPROVAL, "approve", assigned_to_actor, four_eyes, *SCREENING_CLEAR,
                    compliance_signed_off, qualification_scored)
    register_guards(PENDING_APPROVAL, "send_back", assigned_to_actor)
    register_guards(PENDING_APPROVAL, "reject", assignee_or_compliance_on_true_match)

    register_effect(EVERY_ACTION, route_to_queue)
    register_effect("submit", clear_signoff_on_resubmission)
    register_effect("checks_done", refresh_signoff_after_checks)
    register_effect("approve", grant_access_on_approval)
