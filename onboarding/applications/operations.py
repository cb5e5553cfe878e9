"""Applicant use cases on an application: start, save each step, parties and holdings, submit,
withdraw. Operations check, change, flush and audit; the route commits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..accounts.models import User
from ..agreements.models import API_USAGE
from ..agreements.operations import current_rules, record_agreement
from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from ..institutions.models import PROSPECT, RESTRICTED
from ..templating import day
from .models import CLOSED_STATES, PERSON, REJECTED, Application, OwnershipLink, Party
from .ownership import Link, find_loop
from .queries import latest_application, open_application
from .states import TRANSITIONS, Actor, TransitionRefused, current_rules_agreed, guards_for, transition

COMPANY_FIELDS = (
    "legal_name", "trading_names", "registration_number", "jurisdiction", "incorporation_date", "lei",
    "registered_address", "business_address", "website", "is_regulated", "regulator", "licence_number",
    "referred_by_institution_id",
)
PROFILE_FIELDS = (
    "mm_experience_years", "mm_venues", "volume_30d_usd", "capital_usd", "pairs", "max_spread_bps",
    "min_depth_usd", "uptime_pct", "expected_order_rate", "requested_scopes", "ip_allowlist",
)
PERSON_FIELDS = ("name", "date_of_birth", "nationality", "residence", "is_director", "is_signatory",
                 "is_controller", "title")
COMPANY_PARTY_FIELDS = ("name", "jurisdiction", "registration_number")


def percent(value: Decimal) -> str:
    """12.5000 -> '12.5', 100 -> '100'."""
    text = format(value.normalize(), "f")
    return text


def _require_editable(application: Application) -> None:
    if not application.is_editable:
        raise OperationRefused(
            f"This application can no longer be edited: its status is “{application.state_label}”."
            + ("" if application.state in CLOSED_STATES else " You can change it again if our team asks for changes.")
        )


def _mark_saved(application: Application, step: str, complete: bool) -> None:
    saved = dict(application.steps_saved or {})
    saved[step] = complete or saved.get(step, False)
    application.steps_saved = saved


def start_application(user: User) -> Application:
    """A new draft for the user's institution; refused while one is open, during the cool-off, for good
    once the institution is permanently restricted, and once it holds access (it manages its keys then;
    it does not apply again)."""
    if user.institution.status == RESTRICTED:
        raise OperationRefused("Your institution's API access is permanently restricted: it cannot apply again.")
    if user.institution.status != PROSPECT:
        raise OperationRefused("Your institution already has API access: manage it on the API keys page.")
    if open_application(user.institution_id) is not None:
        raise OperationRefused("Your institution already has an open application.")
    previous = latest_application(user.institution_id)
    cool_off = timedelta(days=current_app.config.get("REAPPLY_COOL_OFF_DAYS", 90))
    if previous is not None and previous.state == REJECTED and utcnow() - previous.state_changed_at < cool_off:
        until = (previous.state_changed_at + cool_off).date()
        raise OperationRefused(f"After a rejection a new application can be started from {day(until)}.")
    application = Application(
        institution_id=user.institution_id, created_by_id=user.id, legal_name=user.institution.legal_name,
        trading_names=[], mm_venues=[], pairs=[], requested_scopes=[], ip_allowlist=[], steps_saved={},
    )
    db.session.add(application)
    db.session.flush()
    application.reference = f"KYB-{application.id:06d}"
    record("application.started", "application", application.id, {"reference": application.reference,
                                                                  "institution_id": user.institution_id})
    return application


def _apply(application_or_party: Any, fields: tuple[str, ...], data: dict[str, Any]) -> dict[str, Any]:
    changed = {}
    for name in fields:
        if name in data and getattr(application_or_party, name) != data[name]:
            setattr(application_or_party, name, data[name])
            changed[name] = data[name]
    return changed


def save_company(application: Application, data: dict[str, Any], *, complete: bool) -> None:
    _require_editable(application)
    if not data.get("is_regulated"):
        data = {**data, "regulator": None, "licence_number": None}
    changed = _apply(application, COMPANY_FIELDS, data)
    _mark_saved(application, "company", complete)
    record("application.company_saved", "application", application.id, {"fields": sorted(changed)})


def save_profile(application: Application, data: dict[str, Any], *, complete: bool) -> None:
    _require_editable(application)
    changed = _apply(application, PROFILE_FIELDS, data)
    _mark_saved(application, "profile", complete)
    record("application.profile_saved", "application", application.id, {"fields": sorted(changed)})


# --- parties and holdings -------------------------------------------------------------------------


def add_party(application: Application, kind: str, data: dict[str, Any]) -> Party:
    _require_editable(application)
    fields = PERSON_FIELDS if kind == PERSON else COMPANY_PARTY_FIELDS
    party = Party(application_id=application.id, kind=kind, **{k: data.get(k) for k in fields if k in data})
    for flag in ("is_director", "is_signatory", "is_controller"):
        setattr(party, flag, bool(data.get(flag)) if kind == PERSON else False)
    application.parties.append(party)
    db.session.flush()
    record("application.party_added", "application", application.id,
           {"party_id": party.id, "kind": kind, "name": party.name})
    return party


def update_party(application: Application, party: Party, data: dict[str, Any]) -> None:
    _require_editable(application)
    fields = PERSON_FIELDS if party.is_person else COMPANY_PARTY_FIELDS
    changed = _apply(party, fields, data)
    record("application.party_updated", "application", application.id,
           {"party_id": party.id, "fields": sorted(changed)})


# What other parts do when a person or company leaves the application (documents: discard their files).
# Registered when the app is built, so this module imports none of them.
_party_removal_hooks: list[Callable[[Application, Party], None]] = []


def register_party_removal(hook: Callable[[Application, Party], None]) -> None:
    if hook not in _party_removal_hooks:
        _party_removal_hooks.append(hook)


def remove_party(application: Application, party: Party) -> None:
    """Remove a person or company, with every holding it has or that is held in it."""
    _require_editable(application)
    for discard in _party_removal_hooks:
        discard(application, party)
    for link in [lnk for lnk in application.ownership_links if party.id in (lnk.owner_id, lnk.owned_id)]:
        application.ownership_links.remove(link)
    application.parties.remove(party)
    db.session.flush()
    record("application.party_removed", "application", application.id, {"party_id": party.id, "name": party.name})


def add_holding(application: Application, owner: Party, owned: Party | None, percentage: Decimal) -> OwnershipLink:
    """`owner` holds `percentage` of `owned` (None: the applicant company). Refuses a share outside
    (0, 100], a total above 100% for one company, a company that would own itself, and duplicates."""
    _require_editable(application)
    if owned is not None and not owned.is_company:
        raise OperationRefused("Only a company can have owners.", field="owned")
    percentage = Decimal(percentage).quantize(Decimal("0.0001"))  # as stored: 4 decimal places
    if not (Decimal(0) < percentage <= Decimal(100)):
        raise OperationRefused("Enter a share greater than 0% and at most 100% (at most 4 decimal places).",
                               field="percentage")
    if any(lnk.owner_id == owner.id and lnk.owned_id == (owned.id if owned else None)
           for lnk in application.ownership_links):
        raise OperationRefused(f"{owner.name} is already listed as an owner of "
                               f"{owned.name if owned else 'the company'}; change that holding instead.",
                               field="percentage")
    owned_id = owned.id if owned else None
    links = [Link(lnk.owner_id, lnk.owned_id, lnk.percentage) for lnk in application.ownership_links]
    loop = find_loop([*links, Link(owner.id, owned_id, percentage)])
    if loop:
        names = {p.id: p.name for p in application.parties}
        raise OperationRefused(
            "This would make an ownership loop (" + " → ".join(names[i] for i in loop) + "): a company "
            "cannot own, directly or through others, a company that owns it.", field="owner",
        )
    already = sum((lnk.percentage for lnk in application.ownership_links if lnk.owned_id == owned_id), Decimal(0))
    if already + percentage > Decimal(100):
        left = Decimal(100) - already
        raise OperationRefused(
            f"Shares of {owned.name if owned else 'the company'} would add up to {percent(already + percentage)}%. "
            f"At most {percent(left)}% is left to declare.", field="percentage",
        )
    link = OwnershipLink(application_id=application.id, owner_id=owner.id, owned_id=owned_id, percentage=percentage)
    application.ownership_links.append(link)
    db.session.flush()
    record("application.holding_added", "application", application.id,
           {"owner_id": owner.id, "owned_id": owned_id, "percentage": str(percentage)})
    return link


def remove_holding(application: Application, link: OwnershipLink) -> None:
    _require_editable(application)
    application.ownership_links.remove(link)
    db.session.flush()
    record("application.holding_removed", "application", application.id,
           {"owner_id": link.owner_id, "owned_id": link.owned_id})


def mark_ownership_saved(application: Application, complete: bool) -> None:
    _require_editable(application)
    _mark_saved(application, "ownership", complete)


def mark_documents_saved(application: Application, complete: bool) -> None:
    _require_editable(application)
    _mark_saved(application, "documents", complete)


# --- submission and withdrawal -------------------------------------------------------------------


def submit_application(
    application: Application, user: User, *, signer_name: str, signer_title: str, rules_version_id: int,
    shown_sha256: str, ip: str, user_agent: str,
) -> None:
    """Record the agreement to the rules exactly as shown, then move to `checking`. If anything is
    refused, the caller rolls back and neither the agreement nor the state change remains."""
    rules = current_rules(API_USAGE)
    if rules is None:
        raise OperationRefused("The API usage rules have not been published yet; please try again later.")
    if rules.id != rules_version_id:
        raise OperationRefused("The API usage rules were updated while you were reading them. Read the "
                               "current version below and agree again.", field="agree")
    actor = Actor(user)
    signatory = declared_signatory(application, signer_name)
    if signatory is None:
        names = ", ".join(p.name for p in application.parties if p.is_signatory) or "none declared yet"
        raise OperationRefused(
            f"The agreement must be signed by an authorised signatory declared in step 2 ({names}). "
            "Enter their full name as declared, or add the signer as a signatory first.", field="signer_name",
        )
    # Check every other guard first, so an incomplete application records no agreement.
    if (application.state, "submit") not in TRANSITIONS:
        raise TransitionRefused(f"This application was already submitted (its status is "
                                f"“{application.state_label}”).")
    for guard in guards_for(application.state, "submit"):
        if guard is not current_rules_agreed:
            reason = guard(application, actor)
            if reason:
                raise TransitionRefused(reason)
    record_agreement(
        rules=rules, shown_sha256=shown_sha256, institution_id=application.institution_id, user_id=user.id,
        application_id=application.id, signer_name=signer_name, signer_title=signer_title, ip=ip,
        user_agent=user_agent,
    )
    transition(application, "submit", actor)


def _name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def declared_signatory(application: Application, name: str) -> Party | None:
    key = _name_key(name or "")
    return next((p for p in application.parties if p.is_signatory and _name_key(p.name) == key), None)


def withdraw_application(application: Application, user: User) -> None:
    transition(application, "withdraw", Actor(user))


def application_for(user: User, application_id: int | None = None) -> Application | None:
    """The user's institution's open application (or a given one of theirs)."""
    if application_id is None:
        return open_application(user.institution_id)
    application = db.session.get(Application, application_id)
    if application is None or application.institution_id != user.institution_id:
        return None
    return application


def institution_applications(user: User) -> list[Application]:
    return db.session.scalars(
        select(Application).where(Application.institution_id == user.institution_id).order_by(Application.id.desc())
    ).all()
