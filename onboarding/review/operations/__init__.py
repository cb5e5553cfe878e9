"""Reviewers' decisions on a case. Each function checks who may do it (`review.permissions`), changes
the case and records an audit event in the caller's transaction; state changes go through
`applications.states.transition`.

Concurrency: the routes load the case with `lock_case()` (a row lock on PostgreSQL) and pass the
version of the form the reviewer saw; a decision made on a stale page is refused, never applied twice.

One module per kind of decision; this package names them all for the routes and the case page."""

from ...applications.models import CHANGE_STEPS, REJECTION_CATEGORIES
from .assignment import assign, claim, eligible_assignees, release, release_cases_of
from .case import accept_documents, add_note, approve, qualify, reject, request_changes, send_back
from .common import STALE, CaseChanged, ReviewRefused, lock_case, touch
from .documents import DOCUMENT_DECISIONS, DOCUMENT_REASONS, decide_document
from .screening import (
                         HIT_DISPOSITIONS,
                         SIGNAL_DECISIONS,
                         compliance_signoff,
                         disposition_hit,
                         review_signal,
                         review_signals_with,
)

__all__ = [
    "CHANGE_STEPS", "DOCUMENT_DECISIONS", "DOCUMENT_REASONS", "HIT_DISPOSITIONS", "REJECTION_CATEGORIES",
    "SIGNAL_DECISIONS", "STALE", "CaseChanged", "ReviewRefused", "accept_documents", "add_note", "approve",
    "assign", "claim", "compliance_signoff", "decide_document", "disposition_hit", "eligible_assignees",
    "lock_case", "qualify", "reject", "release", "release_cases_of", "request_changes", "review_signal",
    "review_signals_with", "send_back", "touch",
]
