"""Whether a case needs a compliance officer's sign-off before approval (DESIGN 4.6, 4.5): high risk,
or linked to a restricted institution. Recomputed from the records whenever it matters, never trusted
from the stored flag alone (a linked institution may have been restricted since)."""

from __future__ import annotations

from ..applications.models import Application
from ..screening.queries import linked_to_restricted


def signoff_required(application: Application) -> bool:
    return application.risk_band == "high" or linked_to_restricted(application)


def refresh_signoff_requirement(application: Application) -> None:
    """Keep the stored flag (which the compliance queue reads from its index) in step with the records."""
    application.needs_compliance_signoff = signoff_required(application)
