"""What is still missing or invalid in an application, step by step, with where to fix it.

The company, ownership and profile steps are checked here. Steps owned by parts above applications (the
documents step) register their checker when the app is built (`register_step_checker`); a step with no
checker makes every completeness question fail, so a missing registration can never let an incomplete
application through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..institutions.access import has_trade_scope
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
    if has_trade_scope(app.requested_scopes) and not app.ip_allowlist:
        problems.append(Problem("profile", "Trading scopes need an IP allow-list: list the addresses your "
                                           "systems trade from.", "ip_allowlist"))
    return problems


@dataclass(frozen=True)
class StepChecker:
    problems: Callable[[Application], list[Problem]]
    # Whether the applicant has begun the step (for the progress indicator).
    started: Callable[[Application], bool]


_checkers: dict[str, StepChecker] = {
    "company": StepChecker(company_problems, lambda app: "company" in (app.steps_saved or {})),
    "ownership": StepChecker(ownership_problems,
                             lambda app: bool((app.steps_saved or {}).get("ownership") or app.parties)),
    "profile": StepChecker(profile_problems, lambda app: "profile" in (app.steps_saved or {})),
}
CHECKED_STEPS = tuple(step for step, _ in STEPS if step != "review")


def register_step_checker(step: str, problems: Callable[[Application], list[Problem]],
                          started: Callable[[Application], bool]) -> None:
    """A part above applications checks its own step (registering again replaces: tests build many apps)."""
    if step not in CHECKED_STEPS:
        raise KeyError(f"no step {step!r}")
    _checkers[step] = StepChecker(problems, started)


def _checker(step: str) -> StepChecker:
    try:
        return _checkers[step]
    except KeyError:
        raise RuntimeError(f"No completeness checker is registered for the {step!r} step.") from None


def find_problems(app: Application) -> list[Problem]:
    return [problem for step in CHECKED_STEPS for problem in _checker(step).problems(app)]


def step_status(app: Application) -> dict[str, str]:
    """'complete', 'incomplete' or 'not_started' per step, for the progress indicator."""
    status = {}
    for step in CHECKED_STEPS:
        checker = _checker(step)
        if not checker.problems(app):
            status[step] = "complete"
        elif checker.started(app):
            status[step] = "incomplete"
        else:
            status[step] = "not_started"
    status["review"] = "complete" if app.submitted_at and not app.is_editable else (
        "ready" if all(v == "complete" for v in status.values()) else "not_started"
    )
    return status
