"""What an approval letter says, gathered once at issue and frozen in `ApprovalLetter.facts`.

The PDF is rendered from these facts and the public verification page reads them, so both keep
saying what was true on the day of issue even if the application, the names of the staff or the
rules change later. Everything here is plain JSON."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..accounts.models import STAFF_ROLES, User
from ..agreements.models import API_USAGE, Agreement
from ..agreements.operations import current_rules
from ..applications.models import Application
from ..countries import country_name
from ..db import db
from ..institutions.access import RATE_TIERS, SCOPES, TRADE_SCOPES
from ..institutions.queries import grant_from_application
from ..templating import external_url

FACTS_VERSION = 1


def long_date(value: datetime) -> str:
    """27 March 2026: the form a letter uses."""
    return f"{value.day} {value:%B %Y}"


def exchange_name() -> str:
    return current_app.config.get("APP_NAME") or current_app.jinja_env.globals.get("APP_NAME", "")


def gather_facts(application: Application, *, approved_by_id: int, code: str, issued_at: datetime) -> dict[str, Any]:
    """Everything the letter will say, from the current state of the records."""
    agreement = rules_agreement(application.institution_id)
    return {
        "version": FACTS_VERSION,
        "exchange": {
            "name": exchange_name(),
            "contact": parseaddr(current_app.config["MAIL_FROM"])[1],
            "portal": current_app.config["BASE_URL"].rstrip("/"),
        },
        "reference": application.reference,
        "application_id": application.id,
        "issued_at": issued_at.isoformat(),
        "issued_on": long_date(issued_at),
        "institution": institution_facts(application),
        "addressee": {"name": agreement.signer_name, "title": agreement.signer_title} if agreement else None,
        "access": access_facts(application),
        "rules": rules_facts(agreement),
        "signatories": signatories(application, approved_by_id),
        "verification": {"code": code, "url": external_url("letters.verify", code=code)},
    }


def institution_facts(application: Application) -> dict[str, Any]:
    address = application.registered_address or ""
    return {
        "legal_name": application.legal_name,
        "registration_number": application.registration_number,
        "jurisdiction": {"code": application.jurisdiction, "name": country_name(application.jurisdiction)},
        "registered_address": [line.strip() for line in address.splitlines() if line.strip()],
        "lei": application.lei or None,
    }


def access_facts(application: Application) -> dict[str, Any]:
    """What the approval of this application granted (the institution's grant made from it)."""
    grant = grant_from_application(application.id)
    scopes = list(grant.scopes) if grant else []
    tier_code = grant.rate_tier if grant else None
    max_keys = grant.max_keys if grant else None
    tier = RATE_TIERS.get(tier_code or "")
    ordered = [code for code in SCOPES if code in scopes] + [code for code in scopes if code not in SCOPES]
    return {
        "scopes": [{"code": code, "label": SCOPES.get(code, code), "trade": code in TRADE_SCOPES} for code in ordered],
        "trade": any(code in TRADE_SCOPES for code in ordered),
        "rate_tier": {"code": tier.code, "label": tier.label, "description": tier.description} if tier else
        {"code": tier_code, "label": tier_code, "description": tier_code},
        "max_keys": max_keys,
        "ip_allowlist": list(grant.ip_allowlist) if grant else [],
    }


def rules_agreement(institution_id: int) -> Agreement | None:
    """The institution's latest agreement to the current API usage rules; failing that, its latest
    agreement to any version (the letter then names the version actually agreed)."""
    query = select(Agreement).where(Agreement.institution_id == institution_id, Agreement.kind == API_USAGE)
    current = current_rules(API_USAGE)
    if current is not None:
        agreement = db.session.scalar(
            query.where(Agreement.rule_version_id == current.id).order_by(Agreement.id.desc()).limit(1)
        )
        if agreement is not None:
            return agreement
    return db.session.scalar(query.order_by(Agreement.id.desc()).limit(1))


def rules_facts(agreement: Agreement | None) -> dict[str, Any] | None:
    if agreement is None:
        return None
    current = current_rules(API_USAGE)
    return {
        "title": agreement.rule_version.title,
        "version": agreement.version,
        "sha256": agreement.text_sha256,
        "current": current is not None and current.id == agreement.rule_version_id,
        "agreed_at": agreement.agreed_at.isoformat(),
        "agreed_on": long_date(agreement.agreed_at),
        "signer_name": agreement.signer_name,
        "signer_title": agreement.signer_title,
    }


def signatories(application: Application, approved_by_id: int) -> list[dict[str, str]]:
    """Who decided, in the order they acted: qualification, then approval. A compliance sign-off is
    never named: it happens only for high-risk or linked cases, so naming it would tip the applicant off."""
    people: list[tuple[int | None, str]] = [
        (application.qualified_by_id, "qualification_reviewer"), (approved_by_id, "approver")]
    result = []
    for user_id, role in people:
        user = db.session.get(User, user_id) if user_id else None
        if user is not None:
            result.append({"name": user.full_name, "role": STAFF_ROLES[role]})
    return result
