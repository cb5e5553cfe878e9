"""Linked-applicant detection (DESIGN 4.5): signals that an application belongs to the same firm
as another institution. Each signal is stored once with its evidence for reviewers to confirm or
dismiss; running the detection again adds only what is new."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..accounts.models import User
from ..agreements.models import Agreement
from ..applications.models import Application, Party
from ..applications.queries import ownership_summary
from ..db import db
from ..documents.models import Document
from ..institutions.models import Institution
from ..institutions.queries import restricted_institution_ids
from ..ipaddresses import public_address
from .models import LinkSignal
from .normalise import normalise_name

# Mailbox providers anyone can use: sharing one says nothing about being the same firm.
FREE_MAIL_DOMAINS = {
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com", "me.com",
    "proton.me", "protonmail.com", "gmx.de", "gmx.net", "web.de", "mail.ru", "yandex.ru", "qq.com", "163.com",
    "aol.com", "zoho.com",
}
IP_WINDOW = timedelta(days=30)


def _registration_key(number: str | None) -> str:
    return re.sub(r"[^0-9A-Z]", "", (number or "").upper())


def detect_links(application: Application) -> list[LinkSignal]:
    """Find every signal for this application and store the new ones. Returns all its signals."""
    candidates: list[tuple[int, str, str, dict[str, Any]]] = []
    candidates += _same_registration(application)
    candidates += _same_people(application)
    candidates += _same_documents(application)
    candidates += _same_email_domain(application)
    candidates += _same_ip(application)
    candidates += _overlapping_allowlists(application)
    existing = {
        (s.other_institution_id, s.signal, s.evidence_key): s
        for s in db.session.scalars(select(LinkSignal).where(LinkSignal.application_id == application.id))
    }
    restricted = restricted_institution_ids()
    for other_id, signal, key, evidence in candidates:
        if (other_id, signal, key) in existing:
            continue
        evidence = {**evidence, "other_institution_restricted": other_id in restricted}
        link = LinkSignal(application_id=application.id, other_institution_id=other_id, signal=signal,
                          evidence_key=key[:200], evidence=evidence)
        db.session.add(link)
        existing[(other_id, signal, key)] = link
    db.session.flush()
    return list(existing.values())


def _same_registration(application: Application):
    key = _registration_key(application.registration_number)
    if not key or not application.jurisdiction:
        return []
    rows = db.session.execute(
        select(Application.institution_id, Application.reference, Application.registration_number)
        .where(Application.institution_id != application.institution_id,
               Application.jurisdiction == application.jurisdiction,
               Application.registration_number.is_not(None))
    ).all()
    return [
        (row.institution_id, "registration_number", f"{application.jurisdiction}:{key}",
         {"registration_number": application.registration_number, "jurisdiction": application.jurisdiction,
          "other_application": row.reference})
        for row in rows if _registration_key(row.registration_number) == key
    ]


def _key_people(application: Application) -> list[Party]:
    beneficial = set(ownership_summary(application).beneficial_owners)
    return [p for p in application.parties
            if p.is_person and p.date_of_birth and (p.id in beneficial or p.is_director or p.is_controller)]


def _same_people(application: Application):
    found = []
    mine = {(normalise_name(p.name), p.date_of_birth): p for p in _key_people(application)}
    if not mine:
        return found
    births = {dob for _, dob in mine}
    rows = db.session.execute(
        select(Party, Application.institution_id, Application.reference)
        .join(Application, Party.application_id == Application.id)
        .where(Application.institution_id != application.institution_id, Party.kind == "person",
               Party.date_of_birth.in_(births))
    ).all()
    for other, institution_id, reference in rows:
        key = (normalise_name(other.name), other.date_of_birth)
        if key in mine:
            person = mine[key]
            found.append((institution_id, "person", f"{key[0]}|{key[1]}",
                          {"name": person.name, "date_of_birth": str(person.date_of_birth),
                           "other_name": other.name, "other_application": reference,
                           "roles_here": _roles(person), "roles_there": _roles(other)}))
    return found


def _roles(party: Party) -> list[str]:
    return [r for r, on in (("director", party.is_director), ("signatory", party.is_signatory),
                            ("controller", party.is_controller)) if on]


def _same_documents(application: Application):
    mine = dict(db.session.execute(
        select(Document.sha256, Document.filename).where(Document.application_id == application.id)
    ).all())
    if not mine:
        return []
    rows = db.session.execute(
        select(Document.sha256, Application.institution_id, Application.reference)
        .join(Application, Document.application_id == Application.id)
        .where(Document.sha256.in_(list(mine)), Application.institution_id != application.institution_id)
    ).all()
    return [(row.institution_id, "document", row.sha256,
             {"sha256": row.sha256, "filename": mine[row.sha256], "other_application": row.reference})
            for row in rows]


def _same_email_domain(application: Application):
    domains = {u.email.rsplit("@", 1)[-1] for u in db.session.scalars(
        select(User).where(User.institution_id == application.institution_id))}
    domains -= FREE_MAIL_DOMAINS
    if not domains:
        return []
    found = []
    for user in db.session.scalars(select(User).where(User.institution_id != application.institution_id,
                                                      User.institution_id.is_not(None))):
        domain = user.email.rsplit("@", 1)[-1]
        if domain in domains:
            found.append((user.institution_id, "email_domain", domain, {"domain": domain}))
    return found


def _same_ip(application: Application):
    """The same sign-up or submission address within 30 days."""
    institution = db.session.get(Institution, application.institution_id)
    mine: dict[str, Any] = {}
    if institution.signup_ip:
        mine[institution.signup_ip] = institution.created_at
    for agreement in db.session.scalars(select(Agreement).where(Agreement.institution_id == institution.id)):
        mine[agreement.ip] = agreement.agreed_at
    if not current_app.config.get("LINKED_PRIVATE_IP_SIGNALS"):
        # Loopback and private addresses are shared by whole offices (and by every local applicant).
        mine = {ip: when for ip, when in mine.items() if public_address(ip)}
    if not mine:
        return []
    found = []
    others = db.session.execute(select(Institution.id, Institution.signup_ip, Institution.created_at)
                                .where(Institution.id != institution.id, Institution.signup_ip.in_(list(mine)))).all()
    others += db.session.execute(select(Agreement.institution_id, Agreement.ip, Agreement.agreed_at)
                                 .where(Agreement.institution_id != institution.id, Agreement.ip.in_(list(mine)))).all()
    for other_id, ip, when in others:
        if abs(when - mine[ip]) <= IP_WINDOW:
            found.append((other_id, "ip_address", ip, {"ip": ip, "here": str(mine[ip]), "there": str(when)}))
    return found


def _networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in entries or []:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return networks


def _overlapping_allowlists(application: Application):
    mine = _networks(application.ip_allowlist)
    if not mine:
        return []
    found = []
    rows = db.session.execute(
        select(Application.institution_id, Application.reference, Application.ip_allowlist)
        .where(Application.institution_id != application.institution_id)
    ).all()
    for institution_id, reference, allowlist in rows:
        for theirs in _networks(allowlist):
            for network in mine:
                if network.version == theirs.version and network.overlaps(theirs):
                    found.append((institution_id, "ip_allowlist", f"{network}|{theirs}",
                                  {"here": str(network), "there": str(theirs), "other_application": reference}))
    return found
