"""What is still missing or invalid in an application, step by step, with where to fix it."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Application
from .queries import ownership_summary

STEPS = [
    ("company", "Company"),
    ("ownership", "Ownership and control"),
    ("profile", "Market-making profile"),
    ("documents", "Documents"),
    ("review", "Review and submit"),
]
STEP_LABELS = dict(STEPS)
TRADE_SCOPES = {"spot:trade", "margin:trade", "futures:trade"}


@dataclass(frozen=True)
class Problem:
    step: str
    message: str
    anchor: str = ""


def company_problems(app: Application) -> list[Problem]:
    required = [
        ("legal_name", "Enter the company's legal name."),
        ("registration_number", "Enter the company registration number."),
        ("jurisdiction", "Choose the jurisdiction of incorporation."),
        ("incorporation_date", "Enter the date of incorporation."),
        ("registered_address", "Enter the registered address."),
        ("business_address", "Enter the business address."),
    ]
    problems = [Problem("company", message, name) for name, message in required if not getattr(app, name)]
    if app.is_regulated is None:
        problems.append(Problem("company", "Say whether the company is regulated.", "is_regulated"))
    elif app.is_regulated:
        if not app.regulator:
            problems.append(Problem("company", "Name the regulator.", "regulator"))
        if not app.licence_number:
            problems.append(Problem("company", "Enter the licence number.", "licence_number"))
    return problems


def ownership_problems(app: Application) -> list[Problem]:
    problems: list[Problem] = []
    names = {p.id: p.name for p in app.parties}
    summary = ownership_summary(app)
    if summary.loop:
        cycle = " → ".join(names.get(i, "?") for i in summary.loop)
        problems.append(Problem("ownership", f"The ownership structure loops back on itself ({cycle}). Remove one "
                                             "of these holdings."))
    for owned, total in summary.overallocated.items():
        who = "the company" if owned is None else names.get(owned, "a company")
        total_text = format(total.normalize(), "f")
        problems.append(Problem("ownership", f"Declared shares of {who} add up to {total_text}%, more than 100%."))
    if not any(link.owned_id is None for link in app.ownership_links):
        problems.append(Problem("ownership", "Add the shareholders of the company.", "owners"))
    companies_without_owners = [
        p.name for p in app.parties
        if p.is_company and not any(link.owned_id == p.id for link in app.ownership_links)
        and any(link.owner_id == p.id for link in app.ownership_links)
    ]
    for name in companies_without_owners:
        problems.append(Problem("ownership", f"Add the owners of {name}, up to the natural persons at the top.",
                                "owners"))
    if app.ownership_links and summary.needs_controller and not any(p.is_controller for p in app.parties):
        problems.append(Problem("ownership", "Nobody reaches the beneficial-ownership threshold: declare a senior "
                                             "managing official as controller.", "controller"))
    if not any(p.is_director for p in app.parties):
        problems.append(Problem("ownership", "Add at least one director.", "people"))
    if not any(p.is_signatory for p in app.parties):
        problems.append(Problem("ownership", "Add at least one authorised signatory.", "people"))
    for party in app.parties:
        if party.is_person and not (party.date_of_birth and party.nationality and party.residence):
            problems.append(Problem("ownership", f"Complete the date of birth, nationality and residence of "
                                                 f"{party.name}.", f"party-{party.id}"))
        if party.is_company and not (party.jurisdiction and party.registration_number):
            problems.append(Problem("ownership", f"Complete the jurisdiction and registration number of "
                                                 f"{party.name}.", f"party-{party.id}"))
    return problems


def profile_problems(app: Application) -> list[Problem]:
    required = [
        ("mm_experience_years", "Enter your market-making experience in years."),
        ("volume_30d_usd", "Enter your traded volume over the last 30 days."),
        ("capital_usd", "Enter the capital available for market making."),
        ("pairs", "List the pairs you propose to quote."),
        ("max_spread_bps", "Enter the maximum spread you commit to."),
        ("min_depth_usd", "Enter the minimum depth you commit to."),
        ("uptime_pct", "Enter the quoting uptime you commit to."),
        ("expected_order_rate", "Enter your expected order rate."),
        ("requested_scopes", "Choose the API scopes you request."),
    ]
    problems = [Problem("profile", message, name) for name, message in required
                if getattr(app, name) in (None, [], "")]
    if set(app.requested_scopes or []) & TRADE_SCOPES and not app.ip_allowlist:
        problems.append(Problem("profile", "Trading scopes need an IP allow-list: list the addresses your "
                                           "systems trade from.", "ip_allowlist"))
    return problems


def document_problems(app: Application) -> list[Problem]:
    from sqlalchemy import select

    from ..db import db
    from ..documents.models import Document
    from ..documents.requirements import date_problems, required_documents

    uploaded = {d.requirement_key: d for d in db.session.scalars(
        select(Document).where(Document.application_id == app.id)
    )}
    problems: list[Problem] = []
    for requirement in required_documents(app):
        document = uploaded.get(requirement.key)
        label = requirement.kind.label + ("" if requirement.party is None else f" for {requirement.party.name}")
        if document is None:
            problems.append(Problem("documents", f"Upload the {_lower_first(label)}.", requirement.key))
            continue
        for message in date_problems(requirement.kind, document.issue_date, document.expiry_date).values():
            problems.append(Problem("documents", f"{label}: {message}", requirement.key))
        if document.review_status in ("reupload", "rejected"):
            # A reviewer turned this file down: only a new upload (a new record) clears it.
            problems.append(Problem("documents", f"{label}: our reviewers need a new file. Upload a replacement.",
                                    requirement.key))
    return problems


def _lower_first(label: str) -> str:
    """'Certificate of ...' -> 'certificate of ...', but 'AML/CTF policy' stays as it is."""
    return label if label[1:2].isupper() else label[0].lower() + label[1:]


def find_problems(app: Application) -> list[Problem]:
    return company_problems(app) + ownership_problems(app) + profile_problems(app) + document_problems(app)


def _document_count(app: Application) -> int:
    from ..documents.requirements import required_documents

    return len(required_documents(app))


def step_status(app: Application) -> dict[str, str]:
    """'complete', 'incomplete' or 'not_started' per step, for the progress indicator."""
    problems_by_step = {
        "company": company_problems(app),
        "ownership": ownership_problems(app),
        "profile": profile_problems(app),
        "documents": document_problems(app),
    }
    saved = app.steps_saved or {}
    started = {
        "company": "company" in saved,
        "ownership": bool(saved.get("ownership") or app.parties),
        "profile": "profile" in saved,
        "documents": bool(saved.get("documents") or len(problems_by_step["documents"]) < _document_count(app)),
    }
    status = {}
    for step, problems in problems_by_step.items():
        if not problems:
            status[step] = "complete"
        elif started[step]:
            status[step] = "incomplete"
        else:
            status[step] = "not_started"
    status["review"] = "complete" if app.submitted_at and not app.is_editable else (
        "ready" if all(v == "complete" for v in status.values()) else "not_started"
    )
    return status
