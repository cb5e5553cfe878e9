"""Builders for test data, through the real operations (so audit events and rules hold)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from onboarding.accounts.models import User
from onboarding.accounts.operations import register_applicant
from onboarding.agreements.models import API_USAGE
from onboarding.agreements.operations import current_rules, publish_bundled_rules
from onboarding.applications import operations as ops
from onboarding.applications.models import COMPANY, PERSON, Application
from onboarding.db import db, utcnow
from onboarding.demo import document_pdf, identity_jpeg, upload_every_document

PASSWORD = "correct horse battery staple"


def pdf_bytes(text: str = "Certificate") -> bytes:
    """A real one-page PDF, made with Pillow."""
    return document_pdf(text)


def jpeg_bytes(size: tuple[int, int] = (800, 500)) -> bytes:
    return identity_jpeg(size)


def make_applicant(email: str = "mm@northwind.example", legal_name: str = "Northwind Liquidity Ltd") -> User:
    user = register_applicant(email=email, password=PASSWORD, full_name="Morgan Maker", legal_name=legal_name,
                              ip="198.51.100.7", send_verification=False)
    user.email_verified_at = utcnow()
    db.session.commit()
    return user


COMPANY_DATA = {
    "legal_name": "Northwind Liquidity Ltd", "trading_names": ["Northwind MM"], "registration_number": "12345678",
    "jurisdiction": "GB", "incorporation_date": date(2019, 3, 27), "lei": "5493001KJTIIGC8Y1R12",
    "registered_address": "1 King William Street\nLondon EC4N 7AR", "business_address": "Same as registered",
    "website": "https://northwind.example", "is_regulated": False, "regulator": None, "licence_number": None,
}
PROFILE_DATA = {
    "mm_experience_years": 6, "mm_venues": ["Venue A"], "volume_30d_usd": 2_500_000_000, "capital_usd": 50_000_000,
    "pairs": ["BTC/USDT", "ETH/USDT"], "max_spread_bps": Decimal("15"), "min_depth_usd": 250_000,
    "uptime_pct": Decimal("95"), "expected_order_rate": 200, "requested_scopes": ["market:read", "spot:trade"],
    "ip_allowlist": ["203.0.113.10", "2001:db8::/48"],
}


def fill_company(application: Application) -> None:
    ops.save_company(application, dict(COMPANY_DATA), complete=True)


def fill_ownership(application: Application) -> dict[str, int]:
    """Alice 60% directly; Holdco 40%, itself 100% Bob's; Carol director and signatory."""
    alice = ops.add_party(application, PERSON, {"name": "Alice Founder", "date_of_birth": date(1980, 5, 1),
                                                "nationality": "GB", "residence": "GB"})
    holdco = ops.add_party(application, COMPANY, {"name": "Holdco Ltd", "jurisdiction": "CY",
                                                  "registration_number": "HE999"})
    bob = ops.add_party(application, PERSON, {"name": "Bob Investor", "date_of_birth": date(1975, 2, 2),
                                              "nationality": "CY", "residence": "CY"})
    carol = ops.add_party(application, PERSON, {"name": "Carol Director", "date_of_birth": date(1970, 1, 1),
                                                "nationality": "GB", "residence": "GB", "is_director": True,
                                                "is_signatory": True, "title": "CEO"})
    ops.add_holding(application, alice, None, Decimal(60))
    ops.add_holding(application, holdco, None, Decimal(40))
    ops.add_holding(application, bob, holdco, Decimal(100))
    ops.mark_ownership_saved(application, True)
    return {"alice": alice.id, "holdco": holdco.id, "bob": bob.id, "carol": carol.id}


def fill_profile(application: Application) -> None:
    ops.save_profile(application, dict(PROFILE_DATA), complete=True)


def upload_all_documents(application: Application, user: User) -> None:
    upload_every_document(application, user)
    ops.mark_documents_saved(application, True)


def complete_application(user: User) -> Application:
    """A draft with every step complete and every document uploaded (not submitted)."""
    publish_bundled_rules()
    application = ops.start_application(user)
    fill_company(application)
    fill_ownership(application)
    fill_profile(application)
    upload_all_documents(application, user)
    db.session.commit()
    return application


def submit(application: Application, user: User) -> None:
    rules = current_rules(API_USAGE)
    ops.submit_application(application, user, signer_name="Carol Director", signer_title="CEO",
                           rules_version_id=rules.id, shown_sha256=rules.sha256, ip="198.51.100.7",
                           user_agent="pytest")
    db.session.commit()


# --- staff review -----------------------------------------------------------------------------------

def make_staff(email: str, name: str, roles: list[str]) -> User:
    from onboarding.accounts.operations import create_staff, find_user_by_email

    user = find_user_by_email(email) or create_staff(email=email, full_name=name, password=PASSWORD, roles=roles)
    db.session.commit()
    return user


def review_team() -> dict[str, User]:
    """One staff member per role, as the four-eyes rule wants them."""
    return {
        "documents": make_staff("dana@exchange.example", "Dana Documents", ["document_reviewer"]),
        "qualification": make_staff("quinn@exchange.example", "Quinn Qualify", ["qualification_reviewer"]),
        "approver": make_staff("avery@exchange.example", "Avery Approver", ["approver"]),
        "compliance": make_staff("casey@exchange.example", "Casey Compliance", ["compliance"]),
        "admin": make_staff("alex@exchange.example", "Alex Admin", ["admin"]),
    }


QUALIFICATION_SCORES = {code: (4, f"{code} looks solid") for code in
                        ("experience", "volume", "capital", "obligations", "order_rate", "regulatory")}


def accept_documents(application: Application, reviewer: User) -> None:
    """Claim the case in document review, accept every document and disposition what is pending."""
    from sqlalchemy import select

    from onboarding.documents.models import Document
    from onboarding.review import operations as review
    from onboarding.screening.models import LinkSignal, ScreeningHit

    review.claim(application, reviewer)
    for document in db.session.scalars(select(Document).where(Document.application_id == application.id)):
        if document.review_status != "accepted":
            review.decide_document(application, document, "accepted", None, None, reviewer)
    for hit in db.session.scalars(select(ScreeningHit).where(ScreeningHit.institution_id == application.institution_id,
                                                              ScreeningHit.disposition == "pending")):
        review.disposition_hit(application, hit, "false_positive", "Different date of birth and nationality.", reviewer)
    for signal in db.session.scalars(select(LinkSignal).where(LinkSignal.application_id == application.id,
                                                               LinkSignal.status == "open")):
        review.review_signal(application, signal, "dismissed", "Unrelated firm.", reviewer)
    review.accept_documents(application, reviewer)
    db.session.commit()


def qualify(application: Application, reviewer: User, scopes=("market:read", "spot:trade")) -> None:
    from onboarding.review import operations as review

    review.claim(application, reviewer)
    review.qualify(application, scores=QUALIFICATION_SCORES, granted_scopes=list(scopes), rate_tier="professional",
                   max_keys=10, summary="Strong desk.", user=reviewer)
    db.session.commit()


def approve(application: Application, approver: User) -> None:
    from onboarding.review import operations as review

    review.claim(application, approver)
    review.approve(application, approver)
    db.session.commit()


def add_listed_director(application: Application, user: User) -> None:
    """A director on the bundled OFAC sample (name and birth date): the application gets a hit to review."""
    from onboarding.demo import import_demo_lists

    import_demo_lists()
    ops.add_party(application, PERSON, {
        "name": "Elvis Angus Logan Morey", "date_of_birth": date(1963, 7, 28), "nationality": "BZ",
        "residence": "BZ", "is_director": True, "title": "Non-executive director"})
    upload_all_documents(application, user)


# --- granted institutions and keys -------------------------------------------------------------------

GRANTED_IPS = ["203.0.113.0/24", "2001:db8::/48"]


def granted_institution(email: str = "desk@evergreen.example", legal_name: str = "Evergreen Liquidity BV", *,
                        scopes=("account:read", "market:read", "spot:trade"), max_keys: int = 5,
                        ip_allowlist=tuple(GRANTED_IPS), agree: bool = True) -> User:
    """An applicant whose institution holds a grant and is active, having agreed to the current API usage
    rules: made through the institutions and agreements operations (the review path is tested elsewhere)."""
    from onboarding.agreements.operations import record_agreement
    from onboarding.institutions.models import ACTIVE, Institution
    from onboarding.institutions.operations import grant_access
    from onboarding.institutions.status import change_status

    user = make_applicant(email, legal_name)
    publish_bundled_rules()
    institution = db.session.get(Institution, user.institution_id)
    grant_access(institution, scopes=list(scopes), rate_tier="professional", max_keys=max_keys,
                 ip_allowlist=list(ip_allowlist), granted_by_id=None)
    change_status(institution, ACTIVE, reason="test set-up")
    if agree:
        rules = current_rules(API_USAGE)
        record_agreement(rules=rules, shown_sha256=rules.sha256, institution_id=institution.id, user_id=user.id,
                         application_id=None, signer_name="Morgan Maker", signer_title="CEO", ip="203.0.113.5",
                         user_agent="pytest")
    db.session.commit()
    return user
