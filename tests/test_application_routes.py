"""The applicant's KYB application through the test client: start, the five steps, documents
and downloads, review and submit, read-only after submission, status and withdrawal. Each test
checks what the person sees (message, status code) and what is, or is not, in the database."""

from __future__ import annotations

import hashlib
import html
import io
import re
from datetime import date, timedelta

import pyotp
import pytest
from flask import current_app
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from onboarding.accounts.operations import create_staff, find_user_by_email, totp_secret
from onboarding.agreements.models import API_USAGE, Agreement
from onboarding.agreements.operations import current_rules, publish_bundled_rules
from onboarding.applications import operations as ops
from onboarding.applications.models import (
    CHECKING,
    DOCUMENT_REVIEW,
    DRAFT,
    WITHDRAWN,
    Application,
    OwnershipLink,
    Party,
)
from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.documents.models import Document
from onboarding.jobs import OutboxJob
from onboarding.storage import document_store

from . import factories
from .conftest import FreshStateClient, csrf_token_from, submit_form

MIB = 1024 * 1024

COMPANY = {
    "legal_name": "Northwind Liquidity Ltd", "trading_names": "Northwind MM", "registration_number": "12345678",
    "jurisdiction": "GB", "incorporation_date": "2019-03-27", "lei": "5493001KJTIIGC8Y1R12",
    "registered_address": "1 King William Street\nLondon EC4N 7AR", "business_address": "Same as registered",
    "website": "https://northwind.example", "is_regulated": "no",
}
PROFILE = {
    "mm_experience_years": "6", "mm_venues": "Venue A", "volume_30d_usd": "2500000000", "capital_usd": "50000000",
    "pairs": "BTC/USDT\neth-usdt", "max_spread_bps": "15", "min_depth_usd": "250000", "uptime_pct": "95",
    "expected_order_rate": "200", "requested_scopes": ["market:read", "spot:trade"],
    "ip_allowlist": "203.0.113.10\n2001:db8::/48",
}


class CheckedClient(FreshStateClient):
    """Every response is checked: whatever the input, the applicant never gets a server error."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        assert response.status_code != 500, f"server error: {response.get_data(as_text=True)[:2000]}"
        return response


@pytest.fixture
def client(app):
    app.test_client_class = CheckedClient
    return app.test_client()


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    """Encrypted documents go to this test's own directory (the app under test and the twin)."""
    path = tmp_path / "documents"
    app.config["DOCUMENTS_DIR"] = str(path)
    current_app.config["DOCUMENTS_DIR"] = str(path)
    return path


# ---------------------------------------------------------------------------
# Helpers.


def page(response) -> str:
    """The response's HTML with entities decoded (so apostrophes and quotes read as typed)."""
    return html.unescape(response.get_data(as_text=True))


def visible(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(text))


def field_error(response, field_id: str) -> str:
    """The error shown at one field ('' when there is none)."""
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)).strip() if match else ""


def step_state(response, step: str) -> str:
    """What the stepper says about a step: Complete, In progress, Not started..."""
    match = re.search(rf'href="/application/{step}"[^>]*>.*?<span class="stepper-state">([^<]+)</span>',
                      response.get_data(as_text=True), re.S)
    assert match, f"no stepper entry for {step}"
    return match.group(1)


def token(client, url: str = "/application/status") -> str:
    return csrf_token_from(client.get(url).get_data(as_text=True))


def post(client, url: str, data: dict, *, form_url: str, prefix: str = "", follow_redirects: bool = False,
         **kwargs):
    """POST a form whose fields carry a prefix (the ownership page has three forms)."""
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    return client.post(url, data={name: token(client, form_url), **data}, follow_redirects=follow_redirects,
                       **kwargs)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def sign_in(client, email: str = "mm@northwind.example", legal_name: str = "Northwind Liquidity Ltd"):
    user = factories.make_applicant(email=email, legal_name=legal_name)
    response = submit_form(client, "/login", {"email": email, "password": factories.PASSWORD})
    assert response.status_code == 302
    return user


def reloaded(application: Application) -> Application:
    db.session.refresh(application)
    return application


def the_application(user) -> Application:
    application = ops.application_for(user)
    assert application is not None
    return application


def audit_count(action: str) -> int:
    return count(AuditEvent, AuditEvent.action == action)


@pytest.fixture
def applicant(client):
    return sign_in(client)


@pytest.fixture
def draft(client, applicant) -> Application:
    response = submit_form(client, "/application/start", {}, form_url="/application")
    assert response.status_code == 302
    return the_application(applicant)


# ---------------------------------------------------------------------------
# Start.


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/application")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_no_application_shows_the_start_page_then_start_creates_a_draft(client, applicant):
    response = client.get("/application")
    assert response.status_code == 200
    assert "Apply for API access" in page(response) and "Start the application" in page(response)
    assert count(Application) == 0

    response = submit_form(client, "/application/start", {}, form_url="/application")
    assert response.status_code == 302 and response.headers["Location"].endswith("/application/company")
    landed = client.get("/application/company")
    assert "Your application is started" in page(landed)
    assert "Step 1 of 5" in page(landed)

    application = the_application(applicant)
    assert application.state == DRAFT
    assert application.reference == f"KYB-{application.id:06d}"
    assert application.legal_name == "Northwind Liquidity Ltd", "prefilled from the registration"
    assert audit_count("application.started") == 1

    # A second start (another tab, a replayed form) is refused with a message.
    again = submit_form(client, "/application/start", {}, form_url="/application/company", follow_redirects=True)
    assert again.status_code == 200
    assert "Your institution already has an open application." in page(again)
    assert count(Application) == 1
    # /application now goes straight to the first step to do.
    assert client.get("/application").headers["Location"].endswith("/application/company")


# ---------------------------------------------------------------------------
# Step 1: company.


def test_company_save_and_continue_with_gaps_names_each_field_and_saves_nothing(client, draft):
    response = submit_form(client, "/application/company", {"legal_name": "", "save": "1"})
    assert response.status_code == 200
    expected = {
        "legal_name": "Enter the company's legal name.",
        "registration_number": "Enter the registration number.",
        "jurisdiction": "Choose the jurisdiction of incorporation.",
        "incorporation_date": "Enter the date of incorporation.",
        "registered_address": "Enter the registered address.",
        "business_address": "Enter the business address.",
        "is_regulated": "Say whether the company is regulated.",
    }
    for name, message in expected.items():
        assert field_error(response, name) == message, name
    assert "There is a problem" in page(response)

    application = reloaded(draft)
    assert application.legal_name == "Northwind Liquidity Ltd", "not blanked"
    assert application.steps_saved == {}
    assert audit_count("application.company_saved") == 0


def test_company_regulated_needs_regulator_and_licence(client, draft):
    response = submit_form(client, "/application/company", {**COMPANY, "is_regulated": "yes", "save": "1"})
    assert field_error(response, "regulator") == "Name the regulator."
    assert field_error(response, "licence_number") == "Enter the licence number."
    assert reloaded(draft).registration_number is None


def test_company_draft_with_gaps_saves_what_was_typed(client, draft):
    response = submit_form(client, "/application/company", {
        "legal_name": "Northwind Liquidity Ltd", "registration_number": "12345678", "jurisdiction": "GB",
        "draft": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/application/company")

    application = reloaded(draft)
    assert application.registration_number == "12345678"
    assert application.jurisdiction == "GB"
    assert application.registered_address is None
    assert audit_count("application.company_saved") == 1

    shown = client.get("/application/company")
    assert "Draft saved. You can come back to it at any time." in page(shown)
    assert 'value="12345678"' in page(shown)
    # Started but not finished: the stepper says so (not "Not started").
    assert step_state(shown, "company") == "In progress"


def test_company_bad_lei_checksum_keeps_the_input_and_saves_nothing(client, draft):
    response = submit_form(client, "/application/company", {**COMPANY, "lei": "5493001KJTIIGC8Y1R13", "save": "1"})
    assert response.status_code == 200
    assert field_error(response, "lei") == "This LEI fails its checksum: check it for typing errors."
    assert 'value="5493001KJTIIGC8Y1R13"' in page(response), "what the user typed is shown again"
    assert 'value="12345678"' in page(response), "the other fields are kept too"

    application = reloaded(draft)
    assert application.lei is None and application.registration_number is None
    assert audit_count("application.company_saved") == 0


def test_company_lei_of_the_wrong_length(client, draft):
    response = submit_form(client, "/application/company", {**COMPANY, "lei": "ABC123", "draft": "1"})
    assert "An LEI has exactly 20 letters and digits" in field_error(response, "lei")
    assert reloaded(draft).lei is None


def test_company_incorporation_date_in_the_future(client, draft):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = submit_form(client, "/application/company", {**COMPANY, "incorporation_date": tomorrow,
                                                             "save": "1"})
    assert response.status_code == 200
    assert field_error(response, "incorporation_date") == "This date cannot be in the future."
    assert reloaded(draft).incorporation_date is None


def test_company_valid_save_continues_to_ownership(client, draft):
    response = submit_form(client, "/application/company", {**COMPANY, "lei": "5493 001k jtii gc8y 1r12",
                                                             "website": "northwind.example", "save": "1"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/application/ownership")

    application = reloaded(draft)
    assert application.registration_number == "12345678"
    assert application.jurisdiction == "GB"
    assert application.incorporation_date == date(2019, 3, 27)
    assert application.lei == "5493001KJTIIGC8Y1R12", "spaces removed, upper case"
    assert application.website == "https://northwind.example"
    assert application.trading_names == ["Northwind MM"]
    assert application.is_regulated is False
    assert application.steps_saved == {"company": True}

    ownership = client.get("/application/ownership")
    assert "Saved." in page(ownership)
    assert step_state(ownership, "company") == "Complete"


# ---------------------------------------------------------------------------
# Step 2: ownership and control.


def add_holding(client, percentage, *, name="Alice Founder", kind="person", owner="", owned="", **extra):
    data = {"holding-owned": str(owned), "holding-owner": str(owner), "holding-new_kind": kind,
            "holding-name": name, "holding-percentage": str(percentage)}
    if kind == "person":
        data.update({"holding-date_of_birth": "1980-05-01", "holding-nationality": "GB",
                     "holding-residence": "GB"})
    else:
        data.update({"holding-jurisdiction": "CY", "holding-registration_number": "HE999"})
    data.update({f"holding-{k}": v for k, v in extra.items()})
    return post(client, "/application/ownership/holdings", data, form_url="/application/ownership",
                prefix="holding")


def party_id(name: str) -> int:
    party = db.session.scalar(select(Party).where(Party.name == name))
    assert party is not None, name
    return party.id


@pytest.mark.parametrize("percentage", ["0", "-5", "150"])
def test_holding_percentage_outside_0_to_100_is_refused(client, draft, percentage):
    response = add_holding(client, percentage)
    assert response.status_code == 422
    assert field_error(response, "holding-percentage") == "Enter a share greater than 0% and at most 100%."
    assert 'value="Alice Founder"' in page(response), "the typed name is kept"
    assert count(Party) == 0 and count(OwnershipLink) == 0


@pytest.mark.parametrize("percentage", ["", "  ", "forty"])
def test_holding_without_a_usable_percentage(client, draft, percentage):
    response = add_holding(client, percentage)
    assert response.status_code == 422
    assert "Enter the share held, in percent." in field_error(response, "holding-percentage")
    assert count(Party) == 0 and count(OwnershipLink) == 0


def test_holdings_adding_up_to_more_than_100_are_refused(client, draft):
    first = add_holding(client, "60")
    assert first.status_code == 302
    assert "Alice Founder added as a shareholder." in page(client.get("/application/ownership"))

    response = add_holding(client, "50", name="Bob Investor")
    assert response.status_code == 422
    assert field_error(response, "holding-percentage") == (
        "Shares of the company would add up to 110%. At most 40% is left to declare.")
    assert 'value="Bob Investor"' in page(response)
    # Neither the holding nor the new person it would have created is stored.
    assert count(OwnershipLink) == 1
    assert count(Party) == 1
    assert db.session.scalar(select(Party).where(Party.name == "Bob Investor")) is None


def test_ownership_loop_is_refused(client, draft):
    assert add_holding(client, "50", name="Alpha Holdings Ltd", kind="company").status_code == 302
    assert add_holding(client, "50", name="Beta Holdings Ltd", kind="company").status_code == 302
    alpha, beta = party_id("Alpha Holdings Ltd"), party_id("Beta Holdings Ltd")
    # Alpha owns 30% of Beta...
    assert add_holding(client, "30", name="", owner=alpha, owned=beta).status_code == 302
    # ...so Beta cannot own Alpha.
    response = add_holding(client, "30", name="", owner=beta, owned=alpha)
    assert response.status_code == 422
    message = field_error(response, "holding-owner")
    assert "loop" in message
    assert "Alpha Holdings Ltd" in message and "Beta Holdings Ltd" in message
    assert count(OwnershipLink) == 3
    assert count(OwnershipLink, OwnershipLink.owner_id == beta, OwnershipLink.owned_id == alpha) == 0


def test_company_cannot_own_itself(client, draft):
    add_holding(client, "50", name="Alpha Holdings Ltd", kind="company")
    alpha = party_id("Alpha Holdings Ltd")
    response = add_holding(client, "10", name="", owner=alpha, owned=alpha)
    assert response.status_code == 422
    assert "loop" in field_error(response, "holding-owner")
    assert count(OwnershipLink) == 1


def test_the_same_holding_twice_is_refused(client, draft):
    add_holding(client, "30")
    alice = party_id("Alice Founder")
    response = add_holding(client, "10", name="", owner=alice)
    assert response.status_code == 422
    assert "already listed as an owner" in field_error(response, "holding-percentage")
    assert count(OwnershipLink) == 1


def test_chain_shows_effective_percentages_and_beneficial_owners(client, draft):
    add_holding(client, "60", name="Alice Founder")
    add_holding(client, "40", name="Holdco Ltd", kind="company")
    holdco = party_id("Holdco Ltd")
    response = add_holding(client, "100", name="Bob Investor", owned=holdco,
                           date_of_birth="1975-02-02", nationality="CY", residence="CY")
    assert response.status_code == 302
    links = {(lnk.owner.name, lnk.owned_id) for lnk in db.session.scalars(select(OwnershipLink))}
    assert links == {("Alice Founder", None), ("Holdco Ltd", None), ("Bob Investor", holdco)}

    shown = client.get("/application/ownership")
    text = visible(shown)
    assert "Bob Investor · 40% effective" in text
    assert "Alice Founder · 60% effective" in text
    assert "100% of Holdco Ltd" in text
    bob_row = re.search(r'<tr id="holding-\d+">(?:(?!</tr>).)*Bob Investor(?:(?!</tr>).)*</tr>',
                        shown.get_data(as_text=True), re.S).group(0)
    assert "<strong>40%</strong>" in bob_row
    assert "Beneficial owner" in bob_row
    assert "Nobody reaches" not in text


def test_nobody_above_the_threshold_asks_for_a_senior_managing_official(client, draft):
    add_holding(client, "20", name="Alice Founder")
    add_holding(client, "20", name="Bob Investor")
    text = visible(client.get("/application/ownership"))
    assert "Nobody reaches 25%. Declare a senior managing official as controller" in text
    assert ("Nobody reaches the beneficial-ownership threshold: declare a senior managing official as "
            "controller.") in text
    assert "Beneficial owner " not in text.replace("Beneficial owners", "")

    # Declaring a controller clears that item.
    response = post(client, "/application/ownership/people", {
        "person-name": "Carol Director", "person-date_of_birth": "1970-01-01", "person-nationality": "GB",
        "person-residence": "GB", "person-is_controller": "y", "person-title": "CEO"},
        form_url="/application/ownership", prefix="person")
    assert response.status_code == 302
    text = visible(client.get("/application/ownership"))
    assert "Carol Director added." in text
    assert "declare a senior managing official as controller." not in text


@pytest.mark.parametrize("name", ["", "   "])
def test_adding_a_person_without_a_name_is_refused(client, draft, name):
    response = post(client, "/application/ownership/people", {"person-name": name, "person-is_director": "y"},
                    form_url="/application/ownership", prefix="person")
    assert response.status_code == 422
    assert field_error(response, "person-name") == "Enter the person's full name."
    assert count(Party) == 0


def test_adding_a_shareholder_without_a_name_is_refused(client, draft):
    response = add_holding(client, "20", name="")
    assert response.status_code == 422
    assert field_error(response, "holding-name") == (
        "Enter the new shareholder's name, or choose someone already listed.")
    assert count(Party) == 0


def test_person_under_18_is_refused(client, draft):
    too_young = date.today().replace(year=date.today().year - 10).isoformat()
    response = post(client, "/application/ownership/people", {"person-name": "Kid", "person-date_of_birth": too_young},
                    form_url="/application/ownership", prefix="person")
    assert response.status_code == 422
    assert "between 18 and 120 years old" in field_error(response, "person-date_of_birth")
    assert count(Party) == 0


def test_editing_a_party(client, draft):
    post(client, "/application/ownership/people", {
        "person-name": "Carol Director", "person-date_of_birth": "1970-01-01", "person-nationality": "GB",
        "person-residence": "GB", "person-is_director": "y"}, form_url="/application/ownership", prefix="person")
    carol = party_id("Carol Director")
    url = f"/application/ownership/parties/{carol}"
    form = client.get(url)
    assert form.status_code == 200
    assert 'value="Carol Director"' in page(form) and 'value="1970-01-01"' in page(form)

    refused = submit_form(client, url, {"name": " ", "is_director": "y"})
    assert refused.status_code == 200
    assert field_error(refused, "name") == "Enter the person's full name."
    assert db.session.get(Party, carol).name == "Carol Director"

    response = submit_form(client, url, {"name": "Carol Chair", "date_of_birth": "1970-01-01", "nationality": "GB",
                                         "residence": "IE", "is_director": "y", "is_signatory": "y",
                                         "title": "Chair"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/application/ownership#party-{carol}")
    party = db.session.get(Party, carol)
    assert (party.name, party.residence, party.is_director, party.is_signatory, party.title) == (
        "Carol Chair", "IE", True, True, "Chair")
    assert "Carol Chair saved." in page(client.get("/application/ownership"))
    assert audit_count("application.party_updated") == 1


def test_editing_a_company_party(client, draft):
    add_holding(client, "40", name="Holdco Ltd", kind="company")
    holdco = party_id("Holdco Ltd")
    url = f"/application/ownership/parties/{holdco}"
    response = submit_form(client, url, {"name": "Holdco Limited", "jurisdiction": "MT",
                                         "registration_number": "C12345"})
    assert response.status_code == 302
    party = db.session.get(Party, holdco)
    assert (party.name, party.jurisdiction, party.registration_number) == ("Holdco Limited", "MT", "C12345")


def test_another_institutions_party_is_not_found(client, draft, app):
    other = app.test_client()
    sign_in(other, email="ops@southwind.example", legal_name="Southwind Trading Ltd")
    submit_form(other, "/application/start", {}, form_url="/application")
    add_holding(other, "50", name="Southwind Owner")
    theirs = party_id("Southwind Owner")
    assert client.get(f"/application/ownership/parties/{theirs}").status_code == 404
    response = post(client, f"/application/ownership/parties/{theirs}/remove", {},
                    form_url="/application/ownership")
    assert response.status_code == 404
    assert count(Party, Party.id == theirs) == 1


def test_removing_a_party_removes_its_holdings(client, draft):
    add_holding(client, "60", name="Alice Founder")
    add_holding(client, "40", name="Holdco Ltd", kind="company")
    holdco = party_id("Holdco Ltd")
    add_holding(client, "100", name="Bob Investor", owned=holdco)
    assert count(OwnershipLink) == 3

    response = post(client, f"/application/ownership/parties/{holdco}/remove", {},
                    form_url="/application/ownership", follow_redirects=True)
    assert response.status_code == 200
    assert "Holdco Ltd removed, with their holdings." in page(response)
    assert db.session.get(Party, holdco) is None
    remaining = [(lnk.owner.name, lnk.owned_id) for lnk in db.session.scalars(select(OwnershipLink))]
    assert remaining == [("Alice Founder", None)], "the holding in Holdco and Holdco's own holding are gone"
    assert count(Party) == 2, "Bob stays, as a person without holdings"


def test_removing_a_holding(client, draft):
    add_holding(client, "60", name="Alice Founder")
    link = db.session.scalar(select(OwnershipLink))
    response = post(client, f"/application/ownership/holdings/{link.id}/remove", {},
                    form_url="/application/ownership", follow_redirects=True)
    assert "Holding removed." in page(response)
    assert count(OwnershipLink) == 0
    assert count(Party) == 1


def test_ownership_save_and_continue_with_problems_stays(client, draft):
    add_holding(client, "60", name="Alice Founder")
    response = post(client, "/application/ownership", {"save": "1"}, form_url="/application/ownership",
                    follow_redirects=True)
    text = visible(response)
    assert "This step is not complete yet: see the items listed at the top." in text
    assert "Add at least one director." in text
    assert reloaded(draft).steps_saved.get("ownership") is None


# ---------------------------------------------------------------------------
# Step 3: profile.


@pytest.mark.parametrize(("entry", "message"), [
    ("300.1.2.3", "“300.1.2.3” is not an IPv4 or IPv6 address or CIDR range."),
    ("not-an-ip", "“not-an-ip” is not an IPv4 or IPv6 address or CIDR range."),
    ("0.0.0.0/0", "“0.0.0.0/0” would allow the whole internet; list your own addresses."),
    ("::/0", "“::/0” would allow the whole internet; list your own addresses."),
])
def test_profile_refuses_bad_ip_entries(client, draft, entry, message):
    response = submit_form(client, "/application/profile", {"ip_allowlist": f"203.0.113.10\n{entry}",
                                                             "draft": "1"})
    assert response.status_code == 200
    assert field_error(response, "ip_allowlist") == message
    assert entry in page(response), "the list typed is shown again"
    application = reloaded(draft)
    assert application.ip_allowlist == []
    assert audit_count("application.profile_saved") == 0


def test_a_refused_list_is_shown_exactly_as_typed(client, draft):
    typed = "203.0.113.10, 300.1.2.3;"  # separators a person uses, kept while they fix the list
    response = submit_form(client, "/application/profile", {"ip_allowlist": typed, "draft": "1"})
    assert field_error(response, "ip_allowlist") == "“300.1.2.3” is not an IPv4 or IPv6 address or CIDR range."
    assert f">\n{typed}</textarea>" in page(response).replace("\r\n", "\n")


def test_profile_refuses_more_than_30_ip_entries(client, draft):
    entries = "\n".join(f"203.0.113.{i}" for i in range(1, 32))
    response = submit_form(client, "/application/profile", {"ip_allowlist": entries, "draft": "1"})
    assert field_error(response, "ip_allowlist") == "List at most 30 addresses or ranges."
    assert reloaded(draft).ip_allowlist == []


def test_profile_accepts_ipv6_and_cidr(client, draft):
    entries = "\n".join(f"203.0.113.{i}" for i in range(1, 28)) + "\n2001:DB8::1\n198.51.100.7/24\n2001:db8::/48"
    response = submit_form(client, "/application/profile", {"ip_allowlist": entries, "draft": "1"})
    assert response.status_code == 302
    saved = reloaded(draft).ip_allowlist
    assert len(saved) == 30
    assert saved[-3:] == ["2001:db8::1", "198.51.100.0/24", "2001:db8::/48"]


def test_trading_scope_needs_an_ip_list_to_continue(client, draft):
    response = submit_form(client, "/application/profile", {**PROFILE, "ip_allowlist": "", "save": "1"})
    assert response.status_code == 200
    assert field_error(response, "ip_allowlist") == "Trading scopes need at least one IP address or range."
    application = reloaded(draft)
    assert application.pairs == [] and application.requested_scopes == []


def test_profile_refuses_a_malformed_pair(client, draft):
    response = submit_form(client, "/application/profile", {**PROFILE, "pairs": "BTC/USDT\nBTCUSDT!",
                                                             "draft": "1"})
    assert field_error(response, "pairs") == "“BTCUSDT!” is not a trading pair like BTC/USDT."
    assert reloaded(draft).pairs == []


def test_profile_save_and_continue_with_gaps_names_the_fields(client, draft):
    response = submit_form(client, "/application/profile", {"save": "1"})
    assert field_error(response, "mm_experience_years") == "Enter your market-making experience."
    assert field_error(response, "requested_scopes") == "Choose at least one scope."
    assert reloaded(draft).steps_saved == {}


def test_profile_unknown_scope_is_refused(client, draft):
    response = submit_form(client, "/application/profile", {**PROFILE, "requested_scopes": ["admin:all"],
                                                             "save": "1"})
    assert response.status_code == 200
    assert field_error(response, "requested_scopes")
    assert reloaded(draft).requested_scopes == []


def test_profile_valid_save_continues_to_documents(client, draft):
    response = submit_form(client, "/application/profile", {**PROFILE, "save": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/application/documents")
    application = reloaded(draft)
    assert application.pairs == ["BTC/USDT", "ETH/USDT"]
    assert application.requested_scopes == ["market:read", "spot:trade"]
    assert application.ip_allowlist == ["203.0.113.10", "2001:db8::/48"]
    assert application.max_spread_bps == 15 and application.volume_30d_usd == 2_500_000_000


# ---------------------------------------------------------------------------
# Step 4: documents.


CERTIFICATE = "company:certificate_of_incorporation"
LAST_MONTH = (date.today() - timedelta(days=30)).isoformat()
IN_TEN_YEARS = (date.today() + timedelta(days=3650)).isoformat()


@pytest.fixture
def with_parties(client, applicant) -> dict[str, int]:
    """A draft with steps 1 and 2 done (so identity documents are required); signed in."""
    application = ops.start_application(applicant)
    factories.fill_company(application)
    ids = factories.fill_ownership(application)
    db.session.commit()
    return ids


def identity_key(party: int) -> str:
    return f"party:{party}:identity_document"


def slot(key: str) -> str:
    return key.replace(":", "-")


def upload(client, key: str, content: bytes, filename: str, *, issue_date: str = LAST_MONTH,
           expiry_date: str | None = None):
    data = {"csrf_token": token(client, "/application/documents"), "requirement": key, "issue_date": issue_date,
            "file": (io.BytesIO(content), filename)}
    if expiry_date is not None:
        data["expiry_date"] = expiry_date
    return client.post("/application/documents/upload", data=data, content_type="multipart/form-data")


def stored_files(directory) -> list:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def test_documents_page_lists_the_requirement_slots(client, with_parties):
    response = client.get("/application/documents")
    assert response.status_code == 200
    body = page(response)
    assert f'value="{CERTIFICATE}"' in body
    assert f'value="{identity_key(with_parties["alice"])}"' in body
    assert f'value="party:{with_parties["alice"]}:proof_of_address"' in body
    assert "Certificate of incorporation" in body


@pytest.mark.parametrize(("content", "message"), [
    (b"MZ" + b"\x90\x00\x03\x00" * 300, "This file is not a PDF, PNG or JPEG: it looks like a Windows program."),
    (b"", "The file is empty."),
    (b"hello, this is plain text\n", "it looks like a text file"),
])
def test_refused_content_gets_a_message_at_the_file_field(client, with_parties, documents_dir, content, message):
    response = upload(client, CERTIFICATE, content, "certificate.pdf")
    assert response.status_code == 422
    assert message in field_error(response, f"file-{slot(CERTIFICATE)}")
    assert count(Document) == 0
    assert stored_files(documents_dir) == []


def test_file_over_20_mb_gets_a_message_at_the_field(client, with_parties, documents_dir):
    content = b"%PDF-1.4\n" + b"\0" * (21 * MIB)
    response = upload(client, CERTIFICATE, content, "huge.pdf")
    assert response.status_code == 422
    assert field_error(response, f"file-{slot(CERTIFICATE)}") == (
        "The file is larger than 20 MB. Upload a smaller file (for example a compressed PDF).")
    assert count(Document) == 0
    assert stored_files(documents_dir) == [], "the partly written file is removed"


def test_request_over_the_upload_limit_gets_a_clear_413_page(client, with_parties):
    content = b"%PDF-1.4\n" + b"\0" * (26 * MIB)
    try:
        response = upload(client, CERTIFICATE, content, "enormous.pdf")
    except RequestEntityTooLarge as exc:  # raised again while rendering the error page
        raise AssertionError("the 413 page itself failed to render, so the browser gets a bare 500") from exc
    assert response.status_code == 413
    assert "The file is larger than 20 MB" in page(response)
    assert count(Document) == 0


def test_upload_without_a_file(client, with_parties):
    data = {"csrf_token": token(client, "/application/documents"), "requirement": CERTIFICATE,
            "issue_date": LAST_MONTH}
    response = client.post("/application/documents/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert field_error(response, f"file-{slot(CERTIFICATE)}") == "Choose a file to upload."


def test_unknown_requirement_is_refused(client, with_parties):
    response = upload(client, "party:999999:identity_document", factories.pdf_bytes(), "id.pdf",
                      expiry_date=IN_TEN_YEARS)
    assert response.status_code == 302
    assert "This document is no longer required" in page(client.get("/application/documents"))
    assert count(Document) == 0


def test_issue_date_in_the_future_is_refused(client, with_parties):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = upload(client, CERTIFICATE, factories.pdf_bytes(), "certificate.pdf", issue_date=tomorrow)
    assert response.status_code == 422
    assert field_error(response, f"issue-{slot(CERTIFICATE)}") == "The issue date cannot be in the future."
    assert count(Document) == 0


def test_missing_issue_date_is_refused(client, with_parties):
    response = upload(client, CERTIFICATE, factories.pdf_bytes(), "certificate.pdf", issue_date="")
    assert field_error(response, f"issue-{slot(CERTIFICATE)}") == "Enter the date the document was issued."
    assert count(Document) == 0


def test_old_proof_of_address_is_refused(client, with_parties):
    key = f"party:{with_parties['alice']}:proof_of_address"
    old = (date.today() - timedelta(days=200)).isoformat()
    response = upload(client, key, factories.pdf_bytes(), "bill.pdf", issue_date=old)
    assert "must be dated within the last 90 days" in field_error(response, f"issue-{slot(key)}")
    assert count(Document) == 0


@pytest.mark.parametrize(("expiry", "message"), [
    ((date.today() - timedelta(days=1)).isoformat(), "This document has expired; upload a valid one."),
    (date.today().isoformat(), "This document has expired; upload a valid one."),
    ("", "Enter the expiry date shown on the document."),
])
def test_identity_document_needs_a_future_expiry(client, with_parties, expiry, message):
    key = identity_key(with_parties["alice"])
    response = upload(client, key, factories.jpeg_bytes(), "passport.jpg", expiry_date=expiry)
    assert response.status_code == 422
    assert field_error(response, f"expiry-{slot(key)}") == message
    assert count(Document) == 0


def test_valid_pdf_and_jpeg_uploads(client, with_parties):
    pdf = factories.pdf_bytes()
    response = upload(client, CERTIFICATE, pdf, "Certificate of incorporation.pdf")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/application/documents#slot-{slot(CERTIFICATE)}")

    key = identity_key(with_parties["alice"])
    jpeg = factories.jpeg_bytes()
    assert upload(client, key, jpeg, "alice passport.jpg", expiry_date=IN_TEN_YEARS).status_code == 302

    shown = client.get("/application/documents")
    body = page(shown)
    assert "alice passport.jpg uploaded" in body
    for doc_slot, name in ((slot(CERTIFICATE), "Certificate of incorporation.pdf"),
                           (slot(key), "alice passport.jpg")):
        section = body.split(f'id="slot-{doc_slot}"')[1].split('class="doc-slot')[0]
        assert "Usable" in section and name in section

    certificate = db.session.scalar(select(Document).where(Document.kind == "certificate_of_incorporation"))
    assert (certificate.content_type, certificate.size, certificate.sha256) == (
        "application/pdf", len(pdf), hashlib.sha256(pdf).hexdigest())
    assert certificate.party_id is None and certificate.issue_date == date.today() - timedelta(days=30)
    passport = db.session.scalar(select(Document).where(Document.kind == "identity_document"))
    assert (passport.content_type, passport.party_id, passport.filename) == (
        "image/jpeg", with_parties["alice"], "alice passport.jpg")
    assert passport.expiry_date == date.fromisoformat(IN_TEN_YEARS)
    assert audit_count("document.uploaded") == 2


def test_replacing_a_document(client, with_parties, documents_dir):
    upload(client, CERTIFICATE, factories.pdf_bytes("first"), "first.pdf")
    first = db.session.scalar(select(Document))
    first_key = first.storage_key
    second_bytes = factories.pdf_bytes("second version")
    assert upload(client, CERTIFICATE, second_bytes, "second.pdf").status_code == 302

    documents = db.session.scalars(select(Document)).all()
    assert len(documents) == 1
    assert documents[0].filename == "second.pdf" and documents[0].storage_key != first_key
    assert documents[0].sha256 == hashlib.sha256(second_bytes).hexdigest()
    assert not document_store().path_for(first_key).exists(), "the replaced file is deleted after commit"
    assert len(stored_files(documents_dir)) == 1
    body = page(client.get("/application/documents"))
    assert "second.pdf" in body and "first.pdf" not in body


def test_removing_a_document(client, with_parties, documents_dir):
    upload(client, CERTIFICATE, factories.pdf_bytes(), "certificate.pdf")
    document = db.session.scalar(select(Document))
    response = post(client, f"/application/documents/{document.id}/remove", {}, form_url="/application/documents",
                    follow_redirects=True)
    assert response.status_code == 200
    assert "Document removed." in page(response)
    assert "certificate.pdf" not in page(response)
    assert count(Document) == 0
    assert stored_files(documents_dir) == []
    assert audit_count("document.removed") == 1


def test_removing_another_applications_document_is_refused(client, with_parties, app):
    other = app.test_client()
    sign_in(other, email="ops@southwind.example", legal_name="Southwind Trading Ltd")
    submit_form(other, "/application/start", {}, form_url="/application")
    upload(other, CERTIFICATE, factories.pdf_bytes(), "theirs.pdf")
    theirs = db.session.scalar(select(Document))
    response = post(client, f"/application/documents/{theirs.id}/remove", {}, form_url="/application/documents",
                    follow_redirects=True)
    assert "That document is not part of this application." in page(response)
    assert count(Document) == 1


def test_documents_save_and_continue_with_missing_files_stays(client, with_parties):
    response = post(client, "/application/documents", {"save": "1"}, form_url="/application/documents",
                    follow_redirects=True)
    assert "Some documents are still missing: see the list below." in page(response)
    assert "still to upload or fix" in page(response)


# --- download -------------------------------------------------------------------------------------


@pytest.fixture
def uploaded(client, with_parties) -> tuple[int, bytes]:
    content = factories.pdf_bytes("download me")
    assert upload(client, CERTIFICATE, content, "Certificate \"final\".pdf").status_code == 302
    return db.session.scalar(select(Document.id)), content


def test_owner_downloads_the_exact_bytes(client, uploaded):
    document_id, content = uploaded
    response = client.get(f"/documents/{document_id}/download")
    assert response.status_code == 200
    assert response.get_data() == content
    assert response.headers["Content-Disposition"] == f'attachment; filename="document-{document_id}.pdf"'
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Length"] == str(len(content))
    assert "no-store" in response.headers["Cache-Control"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "document.downloaded"))
    assert event is not None and event.details["document_id"] == document_id


def test_another_institutions_applicant_gets_404(client, uploaded, app):
    document_id, _ = uploaded
    other = app.test_client()
    sign_in(other, email="ops@southwind.example", legal_name="Southwind Trading Ltd")
    response = other.get(f"/documents/{document_id}/download")
    assert response.status_code == 404
    assert audit_count("document.downloaded") == 0


def test_anonymous_download_goes_to_sign_in(client, uploaded, app):
    document_id, _ = uploaded
    response = app.test_client().get(f"/documents/{document_id}/download")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert audit_count("document.downloaded") == 0


def test_missing_document_is_404(client, uploaded):
    assert client.get("/documents/999999/download").status_code == 404


def enrol_staff(client, email: str = "reviewer@exchange.example") -> None:
    create_staff(email=email, full_name="Riley Reviewer", password=factories.PASSWORD, roles=("document_reviewer",))
    db.session.commit()
    submit_form(client, "/login", {"email": email, "password": factories.PASSWORD})
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email(email))
    submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()})


def test_staff_can_download(client, uploaded, app):
    document_id, content = uploaded
    staff = app.test_client()
    enrol_staff(staff)
    assert staff.get("/staff").status_code == 200
    response = staff.get(f"/documents/{document_id}/download")
    assert response.status_code == 200
    assert response.get_data() == content
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "document.downloaded"))
    assert event.actor_id == find_user_by_email("reviewer@exchange.example").id


# ---------------------------------------------------------------------------
# Step 5: review and submit.


def review_data(client, **overrides) -> dict:
    body = client.get("/application/review").get_data(as_text=True)
    rules_id = re.search(r'name="rules_version_id" type="hidden" value="([^"]*)"', body).group(1)
    rules_sha = re.search(r'name="rules_sha256" type="hidden" value="([^"]*)"', body).group(1)
    data = {"csrf_token": csrf_token_from(body), "rules_version_id": rules_id, "rules_sha256": rules_sha,
            "agree": "y", "signer_name": "Carol Director", "signer_title": "Chief Executive Officer"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) KYB-route-tests/1.0"


@pytest.fixture
def complete(client, applicant) -> Application:
    """A complete draft, not submitted; signed in."""
    return factories.complete_application(applicant)


def test_incomplete_application_lists_problems_and_cannot_be_submitted(client, draft):
    publish_bundled_rules()
    db.session.commit()
    # A declared signatory, so what stops the submission is the missing information.
    post(client, "/application/ownership/people", {"person-name": "Carol Director", "person-is_signatory": "y"},
         form_url="/application/ownership", prefix="person")
    response = client.get("/application/review")
    assert response.status_code == 200
    body = page(response)
    assert "to fix before you can submit" in body
    assert '<a href="/application/company#registration_number">Enter the company registration number.</a>' in body
    assert '<a href="/application/ownership#owners">Add the shareholders of the company.</a>' in body
    assert '<a href="/application/profile#requested_scopes">Choose the API scopes you request.</a>' in body
    assert 'href="/application/documents#slot-company-certificate_of_incorporation"' in body

    refused = client.post("/application/review", data=review_data(client))
    assert refused.status_code == 200
    assert "The application is not complete yet" in page(refused)
    assert "to fix before you can submit" in page(refused), "the list stays on the page"
    application = reloaded(draft)
    assert application.state == DRAFT and application.submitted_at is None
    assert count(Agreement) == 0
    assert count(OutboxJob, OutboxJob.name == "applications.run_checks") == 0


def test_review_shows_the_rules_text_in_full(client, complete):
    rules = current_rules(API_USAGE)
    response = client.get("/application/review")
    body = page(response)
    assert "Everything needed is in place." in body
    assert rules.text.strip() in body
    assert f'value="{rules.sha256}"' in body
    assert rules.title in body


def test_submitting_without_ticking_the_box(client, complete):
    response = client.post("/application/review", data=review_data(client, agree=None))
    assert response.status_code == 200
    assert field_error(response, "agree") == "Tick the box to agree to the API usage rules."
    assert reloaded(complete).state == DRAFT
    assert count(Agreement) == 0


def test_submitting_without_a_signer_title(client, complete):
    response = client.post("/application/review", data=review_data(client, signer_title="  "))
    assert field_error(response, "signer_title") == "Enter your title or position."
    assert count(Agreement) == 0


def test_signer_must_be_a_declared_signatory(client, complete):
    response = client.post("/application/review", data=review_data(client, signer_name="Somebody Else"))
    assert response.status_code == 200
    assert "authorised signatory" in field_error(response, "signer_name")
    assert reloaded(complete).state == DRAFT
    assert count(Agreement) == 0


@pytest.mark.parametrize("tampered", [{"rules_sha256": "0" * 64}, {"rules_version_id": "999"},
                                      {"rules_version_id": "not a number"}])
def test_tampered_rules_are_refused(client, complete, tampered):
    response = client.post("/application/review", data=review_data(client, **tampered))
    assert response.status_code == 200
    assert "updated while you were reading" in page(response)
    assert reloaded(complete).state == DRAFT
    assert count(Agreement) == 0


def test_complete_submission_records_the_agreement_and_queues_checks(client, complete):
    rules = current_rules(API_USAGE)
    data = review_data(client)
    response = client.post("/application/review", data=data, headers={"User-Agent": USER_AGENT})
    assert response.status_code == 302 and response.headers["Location"].endswith("/application/status")

    status = client.get("/application/status")
    text = visible(status)
    assert f"Application {complete.reference} submitted. Automated checks start now." in text
    assert "Automated checks" in text
    assert "Application submitted" in text, "on the timeline"

    application = db.session.get(Application, complete.id)
    # Submitted: in checking, or already past it if the (in-process) checks have finished.
    assert application.state in (CHECKING, DOCUMENT_REVIEW) and application.submitted_at is not None
    state, submitted_at = application.state, application.submitted_at
    agreement = db.session.scalar(select(Agreement))
    assert agreement.application_id == application.id
    assert agreement.institution_id == application.institution_id
    assert agreement.user_id == complete.created_by_id
    assert (agreement.kind, agreement.version, agreement.rule_version_id) == (API_USAGE, rules.version, rules.id)
    assert agreement.text_sha256 == rules.sha256 == hashlib.sha256(rules.text.encode()).hexdigest()
    assert (agreement.signer_name, agreement.signer_title) == ("Carol Director", "Chief Executive Officer")
    assert agreement.ip == "127.0.0.1"
    assert agreement.user_agent == USER_AGENT
    jobs = db.session.scalars(select(OutboxJob).where(OutboxJob.name == "applications.run_checks")).all()
    assert [job.args for job in jobs] == [{"application_id": application.id}]

    # The same form again (a double click, or the back button and submit): harmless.
    again = client.post("/application/review", data=data, headers={"User-Agent": USER_AGENT})
    assert again.status_code == 302 and again.headers["Location"].endswith("/application/status")
    assert "This application has already been submitted." in page(client.get("/application/status"))
    assert count(Agreement) == 1
    assert count(OutboxJob, OutboxJob.name == "applications.run_checks") == 1
    db.session.refresh(application)
    assert (application.state, application.submitted_at) == (state, submitted_at)
    assert audit_count("application.submit") == 1


def test_review_without_published_rules_says_so(client, draft):
    response = client.get("/application/review")
    assert response.status_code == 200
    assert "The API usage rules have not been published yet" in page(response)


# ---------------------------------------------------------------------------
# After submission: read-only.


@pytest.fixture
def submitted(client, applicant, complete) -> Application:
    factories.submit(complete, applicant)
    return complete


def snapshot(application_id: int) -> tuple:
    application = db.session.get(Application, application_id)
    return (application.legal_name, application.registration_number, application.pairs, application.ip_allowlist,
            application.steps_saved, application.lock_version, application.state, count(Party),
            count(OwnershipLink), count(Document))


def test_nothing_can_be_changed_after_submission(client, submitted):
    before = snapshot(submitted.id)
    party = db.session.scalar(select(Party).where(Party.name == "Alice Founder"))
    link = db.session.scalar(select(OwnershipLink))
    document = db.session.scalar(select(Document))
    party_id_, link_id, document_id = party.id, link.id, document.id

    company = submit_form(client, "/application/company", {**COMPANY, "legal_name": "Changed Ltd", "save": "1"})
    assert company.status_code == 200
    assert "can no longer be edited" in page(company)

    profile = submit_form(client, "/application/profile", {**PROFILE, "pairs": "SOL/USDT", "save": "1"})
    assert profile.status_code == 200
    assert "can no longer be edited" in page(profile)

    for url, data, prefix in [
        ("/application/ownership", {"save": "1"}, ""),
        ("/application/ownership/holdings", {"holding-owner": "", "holding-owned": "", "holding-new_kind": "person",
                                             "holding-name": "Mallory", "holding-percentage": "1"}, "holding"),
        ("/application/ownership/people", {"person-name": "Mallory"}, "person"),
        (f"/application/ownership/parties/{party_id_}", {"name": "Changed Name"}, ""),
        (f"/application/ownership/parties/{party_id_}/remove", {}, ""),
        (f"/application/ownership/holdings/{link_id}/remove", {}, ""),
        (f"/application/documents/{document_id}/remove", {}, ""),
    ]:
        response = post(client, url, data, form_url="/application/status", prefix=prefix, follow_redirects=True)
        assert response.status_code in (200, 422), url
        assert "can no longer be edited" in page(response), url

    response = upload(client, CERTIFICATE, factories.pdf_bytes("late"), "late.pdf")
    assert response.status_code == 302
    assert "can no longer be edited" in page(client.get("/application/documents"))

    assert snapshot(submitted.id) == before
    assert db.session.scalar(select(Party).where(Party.name == "Mallory")) is None


@pytest.mark.parametrize("step", ["company", "ownership", "profile", "documents", "review"])
def test_step_pages_are_read_only_after_submission(client, submitted, step):
    response = client.get(f"/application/{step}")
    assert response.status_code == 200
    body = page(response)
    assert "can no longer be edited" in body
    assert "Save and continue" not in body
    assert "Agree and submit the application" not in body
    assert "Add shareholder" not in body and 'action="/application/documents/upload"' not in body


# ---------------------------------------------------------------------------
# Status and withdrawal.


def test_status_shows_the_timeline_and_withdrawing_allows_a_new_start(client, applicant, submitted):
    assert client.get("/application").headers["Location"].endswith("/application/status")
    status = client.get("/application/status")
    text = visible(status)
    assert "Timeline" in text
    assert "Application started" in text and "Application submitted" in text and "Document uploaded" in text
    assert f"Status: {db.session.get(Application, submitted.id).state_label}" in text
    assert f"Withdraw application {submitted.reference}" in text

    response = post(client, "/application/withdraw", {}, form_url="/application/status", follow_redirects=True)
    assert response.status_code == 200
    text = visible(response)
    assert f"Application {submitted.reference} withdrawn." in text
    assert "This application was withdrawn." in text
    assert "Application withdrawn" in text, "on the timeline"
    assert f"Withdraw application {submitted.reference}" not in text
    assert db.session.get(Application, submitted.id).state == WITHDRAWN

    start = client.get("/application")
    assert start.status_code == 200
    assert "Start the application" in page(start)
    assert submitted.reference in page(start), "listed under earlier applications"

    response = submit_form(client, "/application/start", {}, form_url="/application")
    assert response.status_code == 302 and response.headers["Location"].endswith("/application/company")
    assert count(Application) == 2
    assert the_application(applicant).state == DRAFT


def test_withdrawing_a_draft(client, draft):
    status = client.get("/application/status")
    assert f"Withdraw application {draft.reference}" in page(status)
    assert "Continue the application" in page(status)
    post(client, "/application/withdraw", {}, form_url="/application/status")
    assert db.session.get(Application, draft.id).state == WITHDRAWN


def test_withdrawing_twice_is_harmless(client, draft):
    data = {"csrf_token": token(client)}
    first = client.post("/application/withdraw", data=data)
    assert first.status_code == 302
    # The same form again (a double click): a friendly page, not an error.
    again = client.post("/application/withdraw", data=data, follow_redirects=True)
    assert again.status_code == 200
    assert "withdrawn" in page(again)
    assert db.session.get(Application, draft.id).state == WITHDRAWN
    assert audit_count("application.withdraw") == 1


def test_status_without_any_application_goes_to_the_start_page(client, applicant):
    response = client.get("/application/status")
    assert response.status_code == 302 and response.headers["Location"].endswith("/application")


def test_step_pages_without_an_application_are_not_found(client, applicant):
    for step in ("company", "ownership", "profile", "documents", "review"):
        assert client.get(f"/application/{step}").status_code == 404, step
