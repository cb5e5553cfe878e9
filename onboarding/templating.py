"""Jinja helpers shared by every page: dates, labels, navigation."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, current_app
from markupsafe import Markup

from .db import utcnow


def day(value) -> str:
    """A calendar date (no time zone involved) as 27 Mar 2019: the one way the product writes a date."""
    return f"{value.day} {value:%b %Y}" if value else "–"


def written_time(value: datetime | None) -> str:
    """A UTC time as plain text, 1 Dec 2026, 09:30 UTC: for banners, messages and PDFs (pages use `time`)."""
    return f"{day(value)}, {value:%H:%M} UTC" if value else "–"


def format_time(value: datetime | None, with_time: bool = True) -> Markup:
    """A UTC time in a <time> element; static/js/local-time.js shows it in the viewer's zone."""
    if value is None:
        return Markup("&ndash;")
    text = written_time(value) if with_time else day(value)
    kind = "datetime" if with_time else "date"
    return Markup('<time datetime="{}" data-local="{}">{}</time>').format(value.isoformat(), kind, text)


def external_url(endpoint: str, **values) -> str:
    """An absolute URL under BASE_URL, for e-mails and letters. Never built from the request's
    Host header, which a client controls."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


# Wording for events people see; anything not listed falls back to a readable form of its name.
ACTION_LABELS = {
    "institution.registered": "Institution registered",
    "user.registered": "Account created",
    "user.email_verified": "E-mail address confirmed",
    "user.logged_in": "Signed in",
    "user.password_reset_requested": "Password reset requested",
    "user.password_reset": "Password changed",
    "staff.created": "Staff account created",
    "staff.mfa_enrolled": "Two-factor authentication set up",
    "application.started": "Application started",
    "application.company_saved": "Company details saved",
    "application.profile_saved": "Market-making profile saved",
    "application.party_added": "Person or company added",
    "application.party_updated": "Person or company changed",
    "application.party_removed": "Person or company removed",
    "application.holding_added": "Shareholding added",
    "application.holding_removed": "Shareholding removed",
    "application.submit": "Application submitted",
    "application.withdraw": "Application withdrawn",
    "application.checks_done": "Automated checks finished",
    "document.quarantined": "Document quarantined (malware)",
    "screening.hit_found": "Possible sanctions match found",
    "application.request_changes": "Changes requested",
    "application.reject": "Application rejected",
    "application.approve": "Application approved",
    "document.uploaded": "Document uploaded",
    "document.removed": "Document removed",
    "document.downloaded": "Document downloaded",
    "agreement.recorded": "Rules agreed",
    "application.documents_accepted": "Documents accepted",
    "application.qualify": "Qualification recorded",
    "application.send_back": "Sent back to qualification review",
    "application.claimed": "Case claimed",
    "application.released": "Case released",
    "application.assigned": "Case assigned",
    "application.compliance_signoff": "Compliance sign-off",
    "application.note_added": "Internal note added",
    "document.reviewed": "Document reviewed",
    "screening.hit_dispositioned": "Screening hit dispositioned",
    "linked.signal_reviewed": "Linked-applicant signal reviewed",
    "linked.signals_reviewed": "Linked-applicant signals decided",
    "institution.activated": "Institution activated",
    "institution.access_granted": "Access granted",
    "institution.frozen": "Institution frozen",
    "institution.reactivated": "Institution active again",
    "institution.restricted": "Institution permanently restricted",
    "institution.allowlist_change_requested": "Change of granted IP addresses requested",
    "institution.allowlist_change_approved": "Change of granted IP addresses approved",
    "institution.allowlist_change_declined": "Change of granted IP addresses declined",
    "violation.reported": "Violation reported",
    "investigation.claimed": "Investigation claimed",
    "investigation.dismissed": "Investigation dismissed",
    "investigation.awaiting_agreement": "Reinstatement offered",
    "investigation.reinstated": "Reinstated after agreeing to the risk-control rules",
    "investigation.restricted": "Permanent restriction decided",
    "key.created": "API key created",
    "key.rotated": "API key rotated",
    "key.revoked": "API key revoked",
    "key.frozen": "API key frozen",
    "key.unfrozen": "API key unfrozen",
    "key.expired": "API key expired",
    "letter.issued": "Approval letter issued",
    "letter.downloaded": "Approval letter downloaded",
    "job.retried": "Failed job retried",
}

def filesize(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 hit', '3 hits', '2 matches' (given 'matches'): a count with its noun, never a parenthesised plural."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def age(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or, for a future time, how far ahead): '3 d 4 h', '5 h', '12 min'."""
    if value is None:
        return "–"
    seconds = abs(((now or utcnow()) - value).total_seconds())
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h"
    return f"{max(rest // 60, 1)} min"


def humanise_action(action: str) -> str:
    return ACTION_LABELS.get(action) or action.replace(".", " ").replace("_", " ").capitalize()


def register_template_helpers(app: Flask, *, role_labels: dict[str, str],
                              institution_status_labels: dict[str, str]) -> None:
    """Filters and globals every page uses. The labels come from the parts that own them (the factory
    passes them in), so this module imports no feature part."""
    app.jinja_env.filters["time"] = format_time
    app.jinja_env.filters["date"] = lambda value: format_time(value, with_time=False)
    app.jinja_env.filters["action"] = humanise_action
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["written_time"] = written_time
    app.jinja_env.filters["plural"] = plural
    app.jinja_env.filters["age"] = age
    app.jinja_env.filters["institution_status"] = lambda status: institution_status_labels.get(status, status)
    app.jinja_env.globals["ROLE_LABELS"] = role_labels
    app.jinja_env.globals["APP_NAME"] = "Institutional API Access"
