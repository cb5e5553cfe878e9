"""Which documents an application needs (DESIGN 4.1), and whether a document's dates satisfy it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app

from ..applications.models import Application, Party
from ..applications.queries import ownership_summary
from .models import requirement_key


@dataclass(frozen=True)
class DocumentKind:
    kind: str
    label: str
    hint: str
    max_age_days: int | None = None  # must be dated within this many days
    needs_expiry: bool = False


COMPANY_KINDS = [
    DocumentKind("certificate_of_incorporation", "Certificate of incorporation",
                 "Issued by the company registry of your jurisdiction."),
    DocumentKind("articles_of_association", "Articles of association", "The current, complete version."),
    DocumentKind("register_of_directors", "Register of directors", "Lists every current director."),
    DocumentKind("register_of_shareholders", "Register of shareholders or ownership chart",
                 "Dated within the last 12 months.", max_age_days=365),
    DocumentKind("certificate_of_good_standing", "Certificate of good standing",
                 "Issued within the last 6 months.", max_age_days=183),
    DocumentKind("proof_of_business_address", "Proof of business address",
                 "A utility bill, bank statement or lease dated within the last 90 days.", max_age_days=90),
    DocumentKind("board_resolution", "Board resolution authorising the signatory",
                 "Names the authorised signatories and their powers."),
    DocumentKind("financial_statements", "Latest audited financial statements",
                 "The most recent audited annual accounts."),
]
REGULATED_KINDS = [
    DocumentKind("aml_policy", "AML/CTF policy", "Your current anti-money-laundering and counter-terrorist "
                 "financing policy."),
    DocumentKind("regulatory_licence", "Regulatory licence", "The licence issued by your regulator."),
]
IDENTITY = DocumentKind("identity_document", "Identity document",
                        "Passport or national identity card, not expired.", needs_expiry=True)
PROOF_OF_ADDRESS = DocumentKind("proof_of_address", "Proof of address",
                                "A utility bill or bank statement dated within the last 90 days.",
                                max_age_days=90)

ALL_KINDS = {k.kind: k for k in [*COMPANY_KINDS, *REGULATED_KINDS, IDENTITY, PROOF_OF_ADDRESS]}


@dataclass(frozen=True)
class Requirement:
    key: str
    kind: DocumentKind
    party: Party | None

    @property
    def subject(self) -> str:
        return self.party.name if self.party else "Company"


def required_documents(application: Application) -> list[Requirement]:
    """Company documents, then for each beneficial owner, director and controller their own."""
    requirements = [Requirement(requirement_key(k.kind, None), k, None) for k in COMPANY_KINDS]
    if application.is_regulated:
        requirements += [Requirement(requirement_key(k.kind, None), k, None) for k in REGULATED_KINDS]
    summary = ownership_summary(application)
    beneficial = set(summary.beneficial_owners)
    for party in application.parties:
        if not party.is_person:
            continue
        if party.id in beneficial or party.is_director or party.is_controller:
            requirements.append(Requirement(requirement_key(IDENTITY.kind, party.id), IDENTITY, party))
        if party.id in beneficial:
            requirements.append(Requirement(requirement_key(PROOF_OF_ADDRESS.kind, party.id), PROOF_OF_ADDRESS,
                                            party))
    return requirements


def date_problems(kind: DocumentKind, issue_date: date | None, expiry_date: date | None,
                  today: date | None = None) -> dict[str, str]:
    """Problems with a document's dates, by field name ('issue_date', 'expiry_date')."""
    today = today or date.today()
    problems: dict[str, str] = {}
    if issue_date is None:
        problems["issue_date"] = "Enter the date the document was issued."
    elif issue_date > today:
        problems["issue_date"] = "The issue date cannot be in the future."
    elif kind.max_age_days and issue_date < today - timedelta(days=kind.max_age_days):
        problems["issue_date"] = (
            f"This document must be dated within the last {_age_words(kind.max_age_days)}; "
            "upload a more recent one."
        )
    if kind.needs_expiry:
        if expiry_date is None:
            problems["expiry_date"] = "Enter the expiry date shown on the document."
        elif expiry_date <= today:
            problems["expiry_date"] = "This document has expired; upload a valid one."
        elif issue_date and expiry_date <= issue_date:
            problems["expiry_date"] = "The expiry date must be after the issue date."
    return problems


def _age_words(days: int) -> str:
    return {365: "12 months", 183: "6 months", 90: "90 days"}.get(days, f"{days} days")


def max_files() -> int:
    return current_app.config.get("MAX_DOCUMENTS_PER_APPLICATION", 60)


def max_file_bytes() -> int:
    return current_app.config.get("MAX_DOCUMENT_BYTES", 20 * 1024 * 1024)
