"""Applicant use cases on an application, called directly (no HTTP): starting (one open application,
cool-off after a rejection), editing only while editable, parties and holdings with their refusals,
completeness (DESIGN 4.1, 4.2), submission with the agreement to the exact rules shown (DESIGN 4.8),
and document uploads that store nothing when refused."""

from __future__ import annotations

import hashlib
import io
import os
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from onboarding import security
from onboarding.agreements.models import API_USAGE, Agreement
from onboarding.agreements.operations import current_rules, publish_bundled_rules, publish_rules
from onboarding.applications import operations as ops
from onboarding.applications.completeness import find_problems
from onboarding.applications.models import (
    CHANGES_REQUESTED,
    CHECKING,
    COMPANY,
    DOCUMENT_REVIEW,
    DRAFT,
    PENDING_APPROVAL,
    PERSON,
    QUALIFICATION_REVIEW,
    REJECTED,
    WITHDRAWN,
    Application,
    OwnershipLink,
    Party,
)
from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.documents.models import Document
from onboarding.documents.operations import DocumentRefused, upload_document
from onboarding.documents.requirements import required_documents
from onboarding.errors import OperationRefused
from onboarding.jobs import OutboxJob
from onboarding.storage import document_store

from .factories import (
    COMPANY_DATA,
    PROFILE_DATA,
    complete_application,
    fill_company,
    fill_ownership,
    jpeg_bytes,
    make_applicant,
    pdf_bytes,
    submit,
)

MIB = 1024 * 1024
CERTIFICATE = "company:certificate_of_incorporation"
ARTICLES = "company:articles_of_association"
DIRECTORS = "company:register_of_directors"


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path) -> Path:
    """Each test stores its documents in its own directory, so files can be counted exactly."""
    root = tmp_path / "documents"
    current_app.config["DOCUMENTS_DIR"] = str(root)
    return root


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Accounts are only scaffolding here; cheap argon2 parameters keep the suite fast."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


# --- helpers ---------------------------------------------------------------------------------------


def files_under(root: Path) -> set[Path]:
    return {Path(folder) / name for folder, _, names in os.walk(root) for name in names}


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audit_count(action: str, application: Application | None = None) -> int:
    where = [AuditEvent.action == action]
    if application is not None:
        where.append(AuditEvent.subject_id == str(application.id))
    return count(AuditEvent, *where)


def reload(application: Application) -> Application:
    db.session.expire_all()
    return db.session.get(Application, application.id)


def draft_with_parties(user) -> tuple[Application, dict[str, int]]:
    """A draft with the company step and the ownership of factories.fill_ownership, no documents."""
    publish_bundled_rules()
    application = ops.start_application(user)
    fill_company(application)
    ids = fill_ownership(application)
    db.session.commit()
    return application, ids


def days_from_today(days: int) -> date:
    return date.today() + timedelta(days=days)


def upload(application: Application, key: str, data: bytes, *, filename: str = "file.pdf",
           issue_date: date | None = None, expiry_date: date | None = None, stream=None) -> Document:
    issue_date = issue_date or days_from_today(-10)
    return upload_document(application, key, stream=stream if stream is not None else io.BytesIO(data),
                           filename=filename, issue_date=issue_date, expiry_date=expiry_date,
                           user_id=application.created_by_id)


def do_submit(application: Application, user, **overrides) -> None:
    rules = current_rules(API_USAGE)
    arguments = dict(signer_name="Carol Director", signer_title="CEO", rules_version_id=rules.id,
                     shown_sha256=rules.sha256, ip="198.51.100.7", user_agent="Mozilla/5.0 (pytest)")
    arguments.update(overrides)
    ops.submit_application(application, user, **arguments)


class LazyPdf:
    """A file-like PDF of `size` bytes made on demand: never the whole file in memory."""

    def __init__(self, size: int):
        self.size = size
        self.position = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.size - self.position
        n = min(n, self.size - self.position)
        head = b"%PDF-1.7\n" if self.position == 0 else b""
        chunk = (head + b"0" * n)[:n]
        self.position += n
        return chunk


# --- starting --------------------------------------------------------------------------------------


def test_start_creates_a_draft_with_a_reference_and_an_audit_event(app):
    user = make_applicant()
    application = ops.start_application(user)
    db.session.commit()

    application = reload(application)
    assert application.state == DRAFT
    assert re.fullmatch(r"KYB-\d{6}", application.reference)
    assert application.reference == f"KYB-{application.id:06d}"
    assert application.institution_id == user.institution_id
    assert application.legal_name == "Northwind Liquidity Ltd"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "application.started")).one()
    assert event.subject_id == str(application.id)
    assert event.details["reference"] == application.reference


@pytest.mark.parametrize("state", [DRAFT, CHECKING, DOCUMENT_REVIEW, QUALIFICATION_REVIEW, PENDING_APPROVAL,
                                   CHANGES_REQUESTED])
def test_second_start_while_one_is_open_is_refused(app, state):
    user = make_applicant()
    first = ops.start_application(user)
    first.state = state  # scaffolding
    db.session.commit()

    with pytest.raises(OperationRefused) as refused:
        ops.start_application(user)
    assert refused.value.message == "Your institution already has an open application."
    db.session.rollback()
    assert count(Application) == 1
    assert audit_count("application.started") == 1


def test_a_colleague_cannot_start_a_second_one_either(app):
    from onboarding.accounts.models import User

    user = make_applicant()
    ops.start_application(user)
    colleague = User(email="colleague@northwind.example", full_name="Col League", kind="applicant",
                     institution_id=user.institution_id, password_hash="x")
    db.session.add(colleague)
    db.session.commit()
    with pytest.raises(OperationRefused, match="already has an open application"):
        ops.start_application(colleague)


def test_database_refuses_a_second_open_application(app):
    """Even bypassing the operation (two requests racing), the partial unique index holds."""
    user = make_applicant()
    ops.start_application(user)
    db.session.commit()

    db.session.add(Application(institution_id=user.institution_id, created_by_id=user.id, state=DRAFT))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    assert count(Application, Application.institution_id == user.institution_id) == 1


def test_database_accepts_closed_applications_beside_the_open_one(app):
    user = make_applicant()
    ops.start_application(user)
    db.session.commit()
    for state in (WITHDRAWN, REJECTED, "approved"):
        db.session.add(Application(institution_id=user.institution_id, created_by_id=user.id, state=state))
    db.session.commit()
    assert count(Application, Application.institution_id == user.institution_id) == 4


def test_another_institution_may_have_its_own_open_application(app):
    ops.start_application(make_applicant())
    ops.start_application(make_applicant("ops@other.example", "Other Trading Ltd"))
    db.session.commit()
    assert count(Application, Application.state == DRAFT) == 2


def reject_at(application: Application, when) -> None:
    application.state = REJECTED  # scaffolding: the decision itself is tested with the states
    application.state_changed_at = when
    db.session.commit()


def test_after_a_rejection_a_new_start_waits_for_the_cool_off(app):
    user = make_applicant()
    rejected = ops.start_application(user)
    reject_at(rejected, utcnow())

    with pytest.raises(OperationRefused) as refused:
        ops.start_application(user)
    until = (utcnow() + timedelta(days=90)).date()
    assert f"can be started from {until.day} {until:%b %Y}." in refused.value.message, "the product's date form"
    db.session.rollback()
    assert count(Application) == 1


def test_cool_off_still_running_on_day_89(app):
    user = make_applicant()
    reject_at(ops.start_application(user), utcnow() - timedelta(days=89))
    with pytest.raises(OperationRefused, match="After a rejection"):
        ops.start_application(user)


def test_after_the_cool_off_a_new_application_can_start(app):
    user = make_applicant()
    rejected = ops.start_application(user)
    reject_at(rejected, utcnow() - timedelta(days=91))

    application = ops.start_application(user)
    db.session.commit()
    assert application.state == DRAFT
    assert application.reference != rejected.reference


def test_after_withdrawal_a_new_application_can_start(app):
    user = make_applicant()
    first = ops.start_application(user)
    db.session.commit()
    ops.withdraw_application(first, user)
    db.session.commit()
    assert first.state == WITHDRAWN

    second = ops.start_application(user)
    db.session.commit()
    assert second.state == DRAFT
    assert second.id != first.id
    assert count(Application, Application.state == DRAFT) == 1


# --- editing only while editable -----------------------------------------------------------------------


@pytest.fixture
def submitted(app):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)
    return application


def test_company_of_a_submitted_application_cannot_be_changed(submitted):
    saved_before = audit_count("application.company_saved", submitted)
    state = submitted.state
    with pytest.raises(OperationRefused) as refused:
        ops.save_company(submitted, {**COMPANY_DATA, "legal_name": "Changed Name Ltd", "is_regulated": True,
                                     "regulator": "FCA", "licence_number": "123"}, complete=True)
    assert "can no longer be edited" in refused.value.message
    db.session.commit()
    application = reload(submitted)
    assert application.legal_name == "Northwind Liquidity Ltd"
    assert application.is_regulated is False
    assert application.state == state
    assert audit_count("application.company_saved", submitted) == saved_before


def test_profile_of_a_submitted_application_cannot_be_changed(submitted):
    with pytest.raises(OperationRefused, match="can no longer be edited"):
        ops.save_profile(submitted, {**PROFILE_DATA, "pairs": ["DOGE/USDT"], "capital_usd": 1}, complete=True)
    db.session.commit()
    application = reload(submitted)
    assert application.pairs == ["BTC/USDT", "ETH/USDT"]
    assert application.capital_usd == 50_000_000


def test_parties_of_a_submitted_application_cannot_be_changed(submitted):
    parties = count(Party, Party.application_id == submitted.id)
    with pytest.raises(OperationRefused, match="can no longer be edited"):
        ops.add_party(submitted, PERSON, {"name": "Late Addition"})
    with pytest.raises(OperationRefused, match="can no longer be edited"):
        ops.remove_party(submitted, submitted.parties[0])
    db.session.rollback()
    assert count(Party, Party.application_id == submitted.id) == parties


def test_changes_requested_makes_it_editable_again(submitted):
    submitted.state = CHANGES_REQUESTED  # scaffolding
    ops.save_company(submitted, {**COMPANY_DATA, "website": "https://new.example"}, complete=True)
    db.session.commit()
    assert reload(submitted).website == "https://new.example"


# --- holdings ---------------------------------------------------------------------------------------------


@pytest.fixture
def people(app):
    """A draft with Alice and Bob (persons), Holdco and Midco (companies), no holdings yet."""
    user = make_applicant()
    application = ops.start_application(user)
    parties = {
        "alice": ops.add_party(application, PERSON, {"name": "Alice Founder"}),
        "bob": ops.add_party(application, PERSON, {"name": "Bob Investor"}),
        "holdco": ops.add_party(application, COMPANY, {"name": "Holdco Ltd"}),
        "midco": ops.add_party(application, COMPANY, {"name": "Midco Ltd"}),
    }
    db.session.commit()
    return application, parties


def holdings(application: Application) -> list[tuple[int, int | None, Decimal]]:
    db.session.expire_all()
    rows = db.session.scalars(select(OwnershipLink).where(OwnershipLink.application_id == application.id)
                              .order_by(OwnershipLink.id))
    return [(r.owner_id, r.owned_id, r.percentage) for r in rows]


def assert_refused_and_unchanged(application, call, *fragments: str) -> str:
    before = holdings(application)
    with pytest.raises(OperationRefused) as refused:
        call()
    for fragment in fragments:
        assert fragment in refused.value.message
    db.session.rollback()
    assert holdings(application) == before
    return refused.value.message


@pytest.mark.parametrize("percentage", ["0", "-5", "100.0001", "150"])
def test_holding_outside_0_to_100_is_refused(people, percentage):
    application, p = people
    assert_refused_and_unchanged(
        application, lambda: ops.add_holding(application, p["alice"], None, Decimal(percentage)),
        "greater than 0% and at most 100%",
    )


def test_a_share_that_would_be_stored_as_0_percent_is_refused(people):
    """Shares are kept to 4 decimal places: 0.00001% would be saved as a 0% holding."""
    application, p = people
    with pytest.raises(OperationRefused):
        ops.add_holding(application, p["alice"], None, Decimal("0.00001"))
        db.session.commit()
    db.session.rollback()
    assert all(percentage > 0 for _, _, percentage in holdings(application))


def test_shares_of_one_company_cannot_exceed_100(people):
    application, p = people
    ops.add_holding(application, p["alice"], None, Decimal(60))
    db.session.commit()
    message = assert_refused_and_unchanged(
        application, lambda: ops.add_holding(application, p["bob"], None, Decimal(50)),
    )
    assert message == ("Shares of the company would add up to 110%. At most 40% is left to declare.")

    ops.add_holding(application, p["bob"], None, Decimal(40))
    db.session.commit()
    assert sum(h[2] for h in holdings(application)) == 100


def test_shares_of_an_owning_company_cannot_exceed_100(people):
    application, p = people
    ops.add_holding(application, p["holdco"], None, Decimal(40))
    ops.add_holding(application, p["alice"], p["holdco"], Decimal("66.5"))
    db.session.commit()
    assert_refused_and_unchanged(
        application, lambda: ops.add_holding(application, p["bob"], p["holdco"], Decimal(34)),
        "Shares of Holdco Ltd would add up to 100.5%", "At most 33.5% is left",
    )


def test_a_company_cannot_own_itself(people):
    application, p = people
    ops.add_holding(application, p["holdco"], None, Decimal(40))
    db.session.commit()
    assert_refused_and_unchanged(
        application, lambda: ops.add_holding(application, p["holdco"], p["holdco"], Decimal(10)),
        "loop", "Holdco Ltd",
    )


def test_two_companies_cannot_own_each_other(people):
    application, p = people
    ops.add_holding(application, p["holdco"], None, Decimal(40))
    ops.add_holding(application, p["midco"], p["holdco"], Decimal(50))
    db.session.commit()
    assert_refused_and_unchanged(
        application, lambda: ops.add_holding(application, p["holdco"], p["midco"], Decimal(50)),
        "loop", "Holdco Ltd", "Midco Ltd",
    )


def test_the_same_holding_cannot_be_declared_twice(people):
    application, p = people
    ops.add_holding(application, p["alice"], None, Decimal(30))
    db.session.commit()
    assert_refused_and_unchanged(
        application, lambda: ops.add_holding(application, p["alice"], None, Decimal(10)),
        "Alice Founder is already listed as an owner of the company",
    )


def test_a_person_cannot_be_owned(people):
    application, p = people
    assert_refused_and_unchanged(
        application, lambda: ops.add_holding(application, p["bob"], p["alice"], Decimal(10)),
        "Only a company can have owners",
    )


def test_remove_party_removes_its_holdings(people):
    application, p = people
    ops.add_holding(application, p["alice"], None, Decimal(60))
    ops.add_holding(application, p["holdco"], None, Decimal(40))
    ops.add_holding(application, p["bob"], p["holdco"], Decimal(100))
    db.session.commit()

    ops.remove_party(application, p["holdco"])
    db.session.commit()

    assert holdings(application) == [(p["alice"].id, None, Decimal(60))]
    names = {party.name for party in db.session.scalars(select(Party).where(Party.application_id == application.id))}
    assert names == {"Alice Founder", "Bob Investor", "Midco Ltd"}
    assert audit_count("application.party_removed", application) == 1


def test_remove_party_removes_their_documents_and_files(app, documents_dir):
    """A person taken out of the application takes their identity document with them: no record
    left to count or show, and no copy of their passport left on disk."""
    user = make_applicant()
    application, ids = draft_with_parties(user)
    carol = db.session.get(Party, ids["carol"])
    document = upload(application, f"party:{carol.id}:identity_document", jpeg_bytes(), filename="passport.jpg",
                      expiry_date=days_from_today(3650))
    db.session.commit()
    stored = document_store().path_for(document.storage_key)
    assert stored.exists()

    ops.remove_party(application, carol)
    db.session.commit()

    assert count(Document, Document.application_id == application.id) == 0
    assert not stored.exists()


# --- completeness -----------------------------------------------------------------------------------------


def test_empty_draft_names_what_is_missing_in_each_step(app):
    user = make_applicant()
    application = ops.start_application(user)
    problems = find_problems(application)

    assert {p.step for p in problems} == {"company", "ownership", "profile", "documents"}
    messages = [p.message for p in problems]
    assert "Enter the company registration number." in messages
    assert "Say whether the company is regulated." in messages
    assert "Add the shareholders of the company." in messages
    assert "Add at least one director." in messages
    assert "Add at least one authorised signatory." in messages
    assert "List the pairs you propose to quote." in messages
    assert "Upload the certificate of incorporation." in messages
    # The legal name was taken from sign-up, so it is not asked for again.
    assert "Enter the company's legal name." not in messages


def test_complete_application_has_no_problems(app):
    application = complete_application(make_applicant())
    assert find_problems(application) == []


def kinds_required(application: Application) -> set[str]:
    return {r.kind.kind for r in required_documents(application) if r.party is None}


def test_unregulated_company_needs_no_aml_policy_or_licence(app):
    application = complete_application(make_applicant())
    assert application.is_regulated is False
    assert "aml_policy" not in kinds_required(application)
    assert "regulatory_licence" not in kinds_required(application)
    assert find_problems(application) == []


def test_regulated_company_needs_regulator_licence_and_their_documents(app):
    application = complete_application(make_applicant())
    ops.save_company(application, {**COMPANY_DATA, "is_regulated": True}, complete=True)
    assert {"aml_policy", "regulatory_licence"} <= kinds_required(application)
    messages = [p.message for p in find_problems(application)]
    assert "Name the regulator." in messages
    assert "Enter the licence number." in messages
    assert "Upload the regulatory licence." in messages

    ops.save_company(application, {**COMPANY_DATA, "is_regulated": True, "regulator": "FCA",
                                   "licence_number": "FRN 123456"}, complete=True)
    assert [p.message for p in find_problems(application)] == [
        "Upload the AML/CTF policy.", "Upload the regulatory licence.",
    ]
    for key in ("company:aml_policy", "company:regulatory_licence"):
        upload(application, key, pdf_bytes())
    assert find_problems(application) == []


@pytest.mark.parametrize(("expires_in_days", "problem"), [(-1, True), (0, True), (1, False)])
def test_identity_document_expired_or_expiring_today_is_a_problem(app, expires_in_days, problem):
    user = make_applicant()
    application = complete_application(user)
    alice = next(p for p in application.parties if p.name == "Alice Founder")
    document = db.session.scalars(select(Document).where(Document.party_id == alice.id,
                                                         Document.kind == "identity_document")).one()
    document.expiry_date = days_from_today(expires_in_days)  # time has passed since the upload
    db.session.commit()

    messages = [p.message for p in find_problems(application) if p.step == "documents"]
    if problem:
        assert messages == ["Identity document for Alice Founder: This document has expired; upload a valid one."]
    else:
        assert messages == []


@pytest.mark.parametrize(("age_days", "problem"), [(91, True), (90, False)])
def test_proof_of_address_older_than_90_days_is_a_problem(app, age_days, problem):
    application = complete_application(make_applicant())
    bob = next(p for p in application.parties if p.name == "Bob Investor")
    document = db.session.scalars(select(Document).where(Document.party_id == bob.id,
                                                         Document.kind == "proof_of_address")).one()
    document.issue_date = days_from_today(-age_days)
    db.session.commit()

    problems = [p for p in find_problems(application) if p.step == "documents"]
    if problem:
        assert len(problems) == 1
        assert problems[0].message.startswith("Proof of address for Bob Investor:")
        assert "within the last 90 days" in problems[0].message
        assert problems[0].anchor == f"party:{bob.id}:proof_of_address"
    else:
        assert problems == []


def test_required_documents_per_owner_and_director(app):
    user = make_applicant()
    application, ids = draft_with_parties(user)
    requirements = required_documents(application)
    by_kind: dict[str, set[str]] = {}
    for requirement in requirements:
        by_kind.setdefault(requirement.kind.kind, set()).add(requirement.subject)

    # Alice 60% and Bob 40% (through Holdco) are beneficial owners; Carol is a director.
    assert by_kind["identity_document"] == {"Alice Founder", "Bob Investor", "Carol Director"}
    assert by_kind["proof_of_address"] == {"Alice Founder", "Bob Investor"}
    assert "Holdco Ltd" not in {r.subject for r in requirements}
    company_kinds = {r.kind.kind for r in requirements if r.party is None}
    assert company_kinds == {
        "certificate_of_incorporation", "articles_of_association", "register_of_directors",
        "register_of_shareholders", "certificate_of_good_standing", "proof_of_business_address",
        "board_resolution", "financial_statements",
    }
    assert len(requirements) == 8 + 3 + 2
    assert len({r.key for r in requirements}) == len(requirements)


# --- submission ----------------------------------------------------------------------------------------------


def test_submit_records_the_agreement_to_the_exact_text_and_moves_to_checking(app):
    user = make_applicant()
    application = complete_application(user)
    rules = current_rules(API_USAGE)

    do_submit(application, user, signer_name="  Carol Director ", signer_title="Chief Executive")
    assert application.state == CHECKING
    assert application.submitted_at is not None
    db.session.commit()

    agreement = db.session.scalars(select(Agreement)).one()
    assert agreement.kind == API_USAGE
    assert agreement.rule_version_id == rules.id
    assert agreement.version == rules.version
    assert agreement.text_sha256 == hashlib.sha256(rules.text.encode("utf-8")).hexdigest()
    assert agreement.institution_id == user.institution_id
    assert agreement.user_id == user.id
    assert agreement.application_id == application.id
    assert agreement.signer_name == "Carol Director"
    assert agreement.signer_title == "Chief Executive"
    assert agreement.ip == "198.51.100.7"
    assert agreement.user_agent == "Mozilla/5.0 (pytest)"
    application = reload(application)
    assert application.submitted_at is not None
    assert audit_count("application.submit", application) == 1
    assert audit_count("agreement.recorded") == 1


def assert_nothing_submitted(application: Application) -> None:
    assert count(Agreement) == 0
    application = reload(application)
    assert application.state == DRAFT
    assert application.submitted_at is None
    assert audit_count("application.submit", application) == 0
    assert audit_count("agreement.recorded") == 0
    assert count(OutboxJob, OutboxJob.name == "applications.run_checks") == 0


def test_submit_refused_when_the_rules_changed_while_reading(app):
    user = make_applicant()
    application = complete_application(user)
    shown = current_rules(API_USAGE)
    publish_rules(API_USAGE, "2027-01", "Revised API usage rules with a new clause. " * 5)
    db.session.commit()

    with pytest.raises(OperationRefused) as refused:
        do_submit(application, user, rules_version_id=shown.id, shown_sha256=shown.sha256)
    assert "updated while you were reading" in refused.value.message
    assert refused.value.field == "agree"
    db.session.rollback()
    assert_nothing_submitted(application)


def test_submit_refused_when_the_shown_text_differs(app):
    user = make_applicant()
    application = complete_application(user)
    with pytest.raises(OperationRefused) as refused:
        do_submit(application, user, shown_sha256=hashlib.sha256(b"another text").hexdigest())
    assert "Read the current version" in refused.value.message
    db.session.rollback()
    assert_nothing_submitted(application)


def test_incomplete_application_records_no_agreement(app):
    """Company and ownership done (Carol is the signatory), profile and documents missing."""
    user = make_applicant()
    application, _ = draft_with_parties(user)
    with pytest.raises(OperationRefused, match="not complete"):
        do_submit(application, user)
    db.session.rollback()
    assert_nothing_submitted(application)


def test_another_institution_cannot_submit_or_agree_for_it(app):
    user = make_applicant()
    application = complete_application(user)
    stranger = make_applicant("ops@other.example", "Other Trading Ltd")
    with pytest.raises(OperationRefused, match="applying institution"):
        do_submit(application, stranger)
    db.session.rollback()
    assert_nothing_submitted(application)


def test_submitting_twice_records_one_agreement(app):
    user = make_applicant()
    application = complete_application(user)
    do_submit(application, user)
    db.session.commit()
    state = reload(application).state

    with pytest.raises(OperationRefused) as refused:
        do_submit(application, user)
    assert "already submitted" in refused.value.message
    db.session.rollback()

    assert count(Agreement) == 1
    assert audit_count("application.submit", application) == 1
    assert reload(application).state == state


# --- documents ----------------------------------------------------------------------------------------------


@pytest.fixture
def draft(app):
    """A draft with parties and one document already stored."""
    user = make_applicant()
    application, ids = draft_with_parties(user)
    upload(application, DIRECTORS, pdf_bytes())
    db.session.commit()
    return application, ids


REFUSALS = {
    "windows-program": dict(data=b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200), filename="statement.pdf",
                            message="a Windows program", field="file"),
    "empty-file": dict(data=b"", message="The file is empty.", field="file"),
    "too-large": dict(stream=lambda: LazyPdf(21 * MIB), message="larger than 20 MB", field="file"),
    "issue-date-in-future": dict(issue_in_days=1, message="cannot be in the future",
                                 field="issue_date"),
    "identity-without-expiry": dict(key="identity", data="jpeg", filename="passport.jpg",
                                    message="Enter the expiry date", field="expiry_date"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_upload_stores_nothing(draft, documents_dir, case):
    application, ids = draft
    spec = REFUSALS[case]
    key = f"party:{ids['alice']}:identity_document" if spec.get("key") == "identity" else CERTIFICATE
    data = spec.get("data", pdf_bytes())
    data = jpeg_bytes() if data == "jpeg" else data
    stream = spec["stream"]() if "stream" in spec else None
    documents_before = count(Document)
    files_before = files_under(documents_dir)
    assert len(files_before) == 1

    with pytest.raises(DocumentRefused) as refused:
        upload(application, key, data, filename=spec.get("filename", "certificate.pdf"),
               issue_date=days_from_today(spec.get("issue_in_days", -10)), stream=stream)
    assert spec["message"] in refused.value.message
    assert refused.value.field == spec["field"]
    db.session.rollback()

    assert count(Document) == documents_before
    assert files_under(documents_dir) == files_before
    assert audit_count("document.uploaded") == 1


def test_files_beyond_the_limit_are_refused(draft, documents_dir):
    application, ids = draft
    current_app.config["MAX_DOCUMENTS_PER_APPLICATION"] = 3
    upload(application, CERTIFICATE, pdf_bytes())
    upload(application, ARTICLES, pdf_bytes())
    db.session.commit()
    files_before = files_under(documents_dir)

    with pytest.raises(DocumentRefused) as refused:
        upload(application, "company:board_resolution", pdf_bytes())
    assert "at most 3 files" in refused.value.message
    db.session.rollback()
    assert count(Document) == 3
    assert files_under(documents_dir) == files_before

    # At the limit, a document can still be replaced in its slot.
    upload(application, ARTICLES, pdf_bytes("Articles, amended"))
    db.session.commit()
    assert count(Document) == 3


def test_replacing_a_document_keeps_one_row_and_deletes_the_old_file_after_commit(draft):
    application, _ = draft
    old = upload(application, CERTIFICATE, pdf_bytes("First"))
    db.session.commit()
    old_key = old.storage_key
    old_path = document_store().path_for(old_key)
    assert old_path.exists()

    new = upload(application, CERTIFICATE, jpeg_bytes(), filename="scan.jpg")
    jobs = db.session.scalars(select(OutboxJob).where(OutboxJob.name == "documents.delete_blob")).all()
    assert [job.args for job in jobs] == [{"storage_key": old_key}]
    assert old_path.exists()  # never before the commit: a rollback would still need it
    db.session.commit()

    rows = db.session.scalars(select(Document).where(Document.application_id == application.id,
                                                     Document.kind == "certificate_of_incorporation")).all()
    assert [row.id for row in rows] == [new.id]
    assert rows[0].filename == "scan.jpg"
    assert rows[0].content_type == "image/jpeg"
    assert count(Document, Document.storage_key == old_key) == 0
    assert not old_path.exists()
    assert document_store().path_for(new.storage_key).exists()


def test_replacement_rolled_back_keeps_the_old_document(draft):
    application, _ = draft
    old = upload(application, CERTIFICATE, pdf_bytes("First"))
    db.session.commit()
    old_key, old_path = old.storage_key, document_store().path_for(old.storage_key)

    upload(application, CERTIFICATE, jpeg_bytes(), filename="scan.jpg")
    db.session.rollback()

    assert count(Document, Document.storage_key == old_key) == 1
    assert old_path.exists()
    assert count(OutboxJob, OutboxJob.name == "documents.delete_blob") == 0


def test_same_bytes_give_the_same_sha256(draft):
    application, _ = draft
    data = pdf_bytes("Certificate of incorporation")
    first = upload(application, CERTIFICATE, data)
    db.session.commit()
    first_sha, first_key = first.sha256, first.storage_key
    second = upload(application, CERTIFICATE, data)
    db.session.commit()

    assert first_sha == second.sha256 == hashlib.sha256(data).hexdigest()
    assert second.size == len(data)
    assert second.storage_key != first_key
