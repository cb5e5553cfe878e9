"""The PDF notices enforcement issues to an institution (through the letters part): what each says is
gathered here, from what the institution may see: the category and time of each report, the rules it
agreed to, the date of a restriction; never internal notes, reasons or evidence."""

from __future__ import annotations

from ..agreements.models import Agreement, RuleVersion
from ..db import utcnow
from ..letters.facts import long_date
from ..letters.models import FREEZE, REINSTATEMENT, RESTRICTION
from ..letters.notices import request_notice
from ..templating import written_time
from .models import CATEGORIES, Investigation, Violation


def report_summary(violation: Violation) -> str:
    """What the institution may see of a report: the category and when; never notes or evidence."""
    return f"{CATEGORIES[violation.category]}, observed {written_time(violation.observed_at)}"


def case_reference(investigation: Investigation) -> str:
    return f"INV-{investigation.id}"


def freeze_notice(investigation: Investigation, reports: list[Violation]) -> None:
    request_notice(investigation.institution_id, FREEZE, reference=case_reference(investigation),
                   details={"reports": [report_summary(v) for v in reports]})


def reinstatement_notice(investigation: Investigation, agreement: Agreement, rules: RuleVersion) -> None:
    request_notice(investigation.institution_id, REINSTATEMENT, reference=case_reference(investigation),
                   details={"rules": {"title": rules.title, "version": rules.version,
                                      "signer_name": agreement.signer_name, "signer_title": agreement.signer_title,
                                      "agreed_on": long_date(agreement.agreed_at or utcnow())}})


def restriction_notice(institution_id: int, investigation: Investigation, *, extended_from: str | None = None) -> None:
    request_notice(institution_id, RESTRICTION, reference=case_reference(investigation),
                   details={"effective_on": long_date(utcnow()), "extended_from": extended_from})
