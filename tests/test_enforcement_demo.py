"""seed-demo's enforcement and referrals: a frozen institution with an open investigation, a reinstatable one
waiting for its agreement, a restricted one and a self-referral waiting for compliance; and every job the
seeding asked for ran (the approval letters of institutions reported in the same transaction included)."""

from __future__ import annotations

from sqlalchemy import select

from onboarding.accounts.operations import find_user_by_email
from onboarding.db import db
from onboarding.demo import DEMO_ENFORCEMENT, DEMO_SELF_REFERRAL
from onboarding.enforcement.queries import unresolved_investigation
from onboarding.institutions.models import Institution
from onboarding.jobs import DONE, OutboxJob
from onboarding.letters.queries import latest_approved_application, letter_for
from onboarding.referrals.models import Referral

from .test_cli import cli  # noqa: F401 (the fixture)


def test_seed_demo_shows_every_enforcement_case(cli):  # noqa: F811
    result = cli("seed-demo")
    assert result.exit_code == 0, result.output
    expected = {"frozen": ("frozen", "open"), "reinstatable": ("frozen", "awaiting_agreement"),
                "restricted": ("restricted", None)}
    for email, _, legal_name, _, case in DEMO_ENFORCEMENT:
        institution = db.session.get(Institution, find_user_by_email(email).institution_id)
        investigation = unresolved_investigation(institution.id)
        assert (institution.status, investigation.status if investigation else None) == expected[case], legal_name
        letter = letter_for(latest_approved_application(institution.id).id)
        assert letter is not None and letter.rendered_at is not None, f"{legal_name}'s approval letter is issued"
    referred = find_user_by_email(DEMO_SELF_REFERRAL[0])
    referral = db.session.scalar(select(Referral).where(Referral.referred_institution_id == referred.institution_id))
    assert referral.status == "held"
    states = set(db.session.scalars(select(OutboxJob.state)))
    assert states == {DONE}, "no job left pending"
