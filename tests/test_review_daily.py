"""Issue 12, the reviewer's and compliance officer's daily work: what the case page says and offers
after a true sanctions match, who may disposition a hit, linked-applicant signals decided per
institution, the labels and dates staff read, and what the timeline and audit pages show."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.applications.models import Application
from onboarding.db import db
from onboarding.errors import OperationRefused
from onboarding.review import operations as review
from onboarding.screening.models import LinkSignal, ScreeningHit

from . import factories
from .factories import complete_application, make_applicant, review_team, submit
from .test_review_pages import post_case, sign_in


def submitted(listed_director: bool = False) -> Application:
    user = make_applicant()
    application = complete_application(user)
    if listed_director:
        factories.add_listed_director(application, user)
        db.session.commit()
    submit(application, user)
    return db.session.get(Application, application.id)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def case_text(client, application_id: int) -> str:
    response = client.get(f"/staff/applications/{application_id}")
    assert response.status_code == 200
    return text_of(response)


def refused(operation, *args, **kwargs) -> str:
    with pytest.raises(OperationRefused) as caught:
        operation(*args, **kwargs)
    db.session.rollback()
    return caught.value.message


def hits_of(application: Application) -> list[ScreeningHit]:
    return db.session.scalars(select(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id)).all()


# --- agreements --------------------------------------------------------------------------------------

def test_the_case_page_names_the_api_usage_agreement(app, client):
    review_team()
    application = submitted()
    sign_in(client, "dana@exchange.example")
    page = case_text(client, application.id)
    agreements = page.split('id="agreements"', 1)[1].split("</section>", 1)[0]
    assert "API usage rules version" in agreements
    assert "Risk-control rules" not in agreements


# --- a true sanctions match ----------------------------------------------------------------------------

def test_a_hit_is_not_dispositioned_on_an_unclaimed_case(app):
    team = review_team()
    application = submitted(listed_director=True)
    hit = hits_of(application)[0]
    for who in ("compliance", "documents"):
        message = refused(review.disposition_hit, application, hit, "false_positive", "Different birth date.",
                          team[who])
        assert "Claim this case" in message
    assert db.session.get(ScreeningHit, hit.id).disposition == "pending"


def test_compliance_can_reject_after_a_true_match_and_is_not_offered_a_signoff(app, client):
    team = review_team()
    application = submitted(listed_director=True)
    reviewer = team["documents"]
    review.claim(application, reviewer)
    for hit in hits_of(application):
        review.disposition_hit(application, hit, "true_match", "Same name, birth date and nationality.", reviewer)
    application.needs_compliance_signoff = True
    db.session.commit()

    sign_in(client, "casey@exchange.example")
    page = case_text(client, application.id)
    assert "can only be rejected" in page
    assert ">Sign off</button>" not in page
    assert not re.search(r"\d+ hits? to review", page) and "confirmed as a true match" in page
    assert "Reject the application" in page
    assert "Only Dana Documents can decide" not in page, "not told they cannot, next to the form that lets them"
    response = post_case(client, application.id, "reject", {"category": "compliance",
                                                            "note": "SDN true match on a director."})
    assert response.status_code == 303, text_of(response)[:2000]
    application = db.session.get(Application, application.id)
    assert application.state == "rejected" and application.decision_category == "compliance"


def test_compliance_cannot_reject_a_case_without_a_true_match(app, client):
    team = review_team()
    application = submitted()
    review.claim(application, team["documents"])
    db.session.commit()
    sign_in(client, "casey@exchange.example")
    response = post_case(client, application.id, "reject", {"category": "compliance", "note": "Not for us."})
    assert response.status_code == 422
    assert "Only the assignee" in text_of(response)
    assert db.session.get(Application, application.id).state == "document_review"


def test_a_signoff_is_refused_after_a_true_match(app):
    team = review_team()
    application = submitted(listed_director=True)
    review.claim(application, team["documents"])
    for hit in hits_of(application):
        review.disposition_hit(application, hit, "true_match", "Same person.", team["documents"])
    application.needs_compliance_signoff = True
    db.session.commit()
    assert "can only be rejected" in refused(review.compliance_signoff, application, "Fine.", team["compliance"])


def test_the_risk_reasons_say_when_the_hits_are_dispositioned(app, client):
    team = review_team()
    application = submitted(listed_director=True)
    sign_in(client, "dana@exchange.example")
    assert re.search(r"\b\d+ hits? to review", case_text(client, application.id))
    review.claim(application, team["documents"])
    for hit in hits_of(application):
        review.disposition_hit(application, hit, "false_positive", "Different nationality.", team["documents"])
    db.session.commit()
    page = case_text(client, application.id)
    assert not re.search(r"\d+ hits? to review", page) and "all dispositioned as false positives" in page


# --- linked-applicant signals ---------------------------------------------------------------------------

def linked_case():
    """A case whose institution shares company, people, files and addresses with two earlier applicants."""
    for email, name in (("ops@first.example", "First Copy Ltd"), ("ops@second.example", "Second Copy Ltd")):
        submit(complete_application(make_applicant(email, name)), db.session.get(User, find_user(email)))
    return submitted()


def find_user(email: str) -> int:
    return db.session.scalar(select(User.id).where(User.email == email))


def signals_of(application: Application) -> list[LinkSignal]:
    return db.session.scalars(select(LinkSignal).where(LinkSignal.application_id == application.id)
                              .order_by(LinkSignal.id)).all()


def test_signals_are_decided_per_institution_with_one_reason(app, client):
    team = review_team()
    application = linked_case()
    signals = signals_of(application)
    others = sorted({s.other_institution_id for s in signals})
    assert len(others) == 2 and len(signals) > 4
    first = others[0]
    review.claim(application, team["documents"])
    db.session.commit()
    sign_in(client, "dana@exchange.example")
    page = case_text(client, application.id)
    assert page.count("Record decision</button>") == 2, "one form per other institution"
    assert f'id="linked-{first}"' in page

    # A decision without a reason is refused at the group's form, and nothing is saved.
    refused_page = post_case(client, application.id, f"linked/{first}/review", {"status": "dismissed", "note": " "})
    assert refused_page.status_code == 422
    assert 'id="form-linked-' + str(first) + '"' in refused_page.get_data(as_text=True)
    assert "Give the reason for your decision" in text_of(refused_page)
    assert all(s.status == "open" for s in signals_of(application))

    response = post_case(client, application.id, f"linked/{first}/review",
                         {"status": "dismissed", "note": "A shared accountant; different owners."})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"#linked-{first}"), "the page stays at the group"
    decided = {s.other_institution_id: s for s in signals_of(application) if s.status != "open"}
    after = signals_of(application)
    assert all(s.status == "dismissed" and s.review_note == "A shared accountant; different owners."
               for s in after if s.other_institution_id == first)
    assert all(s.status == "open" for s in after if s.other_institution_id != first)
    assert set(decided) == {first}
    page = case_text(client, application.id)
    assert page.count("Record decision</button>") == 1


def test_a_shared_loopback_or_private_address_is_not_a_signal_unless_configured(app):
    from flask import current_app

    from onboarding.agreements.models import Agreement
    from onboarding.institutions.models import Institution
    from onboarding.screening.linked import detect_links

    first = submitted_for_ip("ops@first.example", "First Desk Ltd")
    second = submitted_for_ip("ops@second.example", "Second Desk Ltd")
    for application, address in ((first, "127.0.0.1"), (second, "127.0.0.1")):
        db.session.get(Institution, application.institution_id).signup_ip = address
        for agreement in db.session.scalars(select(Agreement).where(
                Agreement.institution_id == application.institution_id)):
            agreement.ip = "192.168.1.20"
    for signal in signals_of(second):  # found at submission, from the public test address
        db.session.delete(signal)
    db.session.commit()
    assert not [s for s in detect_links(second) if s.signal == "ip_address"]
    current_app.config["LINKED_PRIVATE_IP_SIGNALS"] = True
    try:
        found = [s for s in detect_links(second) if s.signal == "ip_address"]
    finally:
        current_app.config["LINKED_PRIVATE_IP_SIGNALS"] = False
    assert {s.evidence["ip"] for s in found} == {"127.0.0.1", "192.168.1.20"}


def submitted_for_ip(email: str, legal_name: str) -> Application:
    from onboarding.applications import operations as app_ops

    from .factories import COMPANY_DATA

    user = make_applicant(email, legal_name)
    application = complete_application(user)
    app_ops.save_company(application, {**COMPANY_DATA, "legal_name": legal_name,
                                       "registration_number": legal_name[:5], "lei": None, "website": None},
                         complete=True)
    db.session.commit()
    submit(application, user)
    return db.session.get(Application, application.id)


# --- speed of the long case page -------------------------------------------------------------------------

def test_a_preview_is_rendered_once_not_on_every_reload_of_the_case(app, client, monkeypatch):
    """Each decision reloads the case page and its previews; rendering 15 PDF pages again every time
    held up the decisions posted meanwhile."""
    from onboarding.documents.models import Document
    from onboarding.review import preview
    from onboarding.review.preview_cache import forget_previews

    forget_previews()
    renders = []
    real = preview.render_preview
    monkeypatch.setattr(preview, "render_preview", lambda *a: renders.append(a) or real(*a))
    review_team()
    application = submitted()
    document = db.session.scalars(select(Document).where(Document.application_id == application.id)).first()
    sign_in(client, "dana@exchange.example")
    url = f"/staff/applications/{application.id}/documents/{document.id}/preview.png"
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 200 and first.data == second.data
    assert first.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert second.headers["Cache-Control"] == "private, no-store", "still never kept by the browser"
    assert len(renders) == 1


# --- the approval letter ---------------------------------------------------------------------------------

@pytest.mark.parametrize("last_line", ["London EC4N 7AR, United Kingdom", "United Kingdom", "London EC4N 7AR"])
def test_the_letter_prints_the_country_of_the_address_once(app, last_line):
    from flask import current_app

    from onboarding.letters.render import letter_html

    from .test_letters import approved_application, issue

    application, approver = approved_application()
    facts = dict(issue(application, approver).facts)
    facts["institution"] = {**facts["institution"], "registered_address": ["1 King William Street", last_line],
                            "jurisdiction": {"code": "GB", "name": "United Kingdom"}}
    with current_app.test_request_context():
        page = letter_html(facts)
    addressee = page.split('class="addressee"', 1)[1].split("</div>", 1)[0]
    assert addressee.count("United Kingdom") == 1


# --- words, not codes ------------------------------------------------------------------------------------

def test_the_timeline_says_the_reason_and_counts_repeated_steps(app, client):
    from onboarding.documents.models import Document

    team = review_team()
    application = submitted()
    review.claim(application, team["documents"])
    document = db.session.scalars(select(Document).where(Document.application_id == application.id)).first()
    review.decide_document(application, document, "reupload", "illegible", None, team["documents"])
    db.session.commit()
    sign_in(client, "dana@exchange.example")
    page = case_text(client, application.id)
    timeline = page.split('id="timeline"', 1)[1]
    assert "The document is not legible." in timeline
    assert ": illegible" not in timeline and "None" not in timeline
    assert timeline.count("Person or company added") == 1
    assert re.search(r'Person or company added\s*<span class="badge">× 4</span>', timeline), \
        "the four parties added are one line"


def test_the_audit_log_leaves_out_empty_details(app, client):
    from onboarding.documents.models import Document

    team = review_team()
    application = submitted()
    review.claim(application, team["documents"])
    document = db.session.scalars(select(Document).where(Document.application_id == application.id)).first()
    review.decide_document(application, document, "accepted", None, None, team["documents"])
    db.session.commit()
    sign_in(client, "alex@exchange.example")
    page = text_of(client.get("/staff/audit?action=document.reviewed"))
    row = page.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert "accepted" in row
    assert "None" not in row and "comment" not in row and "reason" not in row


def test_one_scoring_is_not_called_round_2(app, client):
    team = review_team()
    application = submitted()
    factories.accept_documents(application, team["documents"])
    application = db.session.get(Application, application.id)
    application.check_round = 2  # as after a change request and resubmission
    db.session.commit()
    factories.qualify(application, team["qualification"])
    sign_in(client, "dana@exchange.example")
    page = case_text(client, application.id)
    assert "round 2)" not in page.split('id="qualification-record"', 1)[1].split("</h2>", 1)[0]


# --- the staff header ------------------------------------------------------------------------------------

def test_the_staff_header_keeps_the_account_apart_from_the_pages(app, client):
    """Admin and compliance have the most links: their e-mail address and "Sign out" wrapped onto a line
    of their own. The account now sits on the brand's row for every staff member."""
    from .factories import make_staff

    make_staff("alex.administrator@exchange.example", "Alex Admin", ["admin", "compliance"])
    sign_in(client, "alex.administrator@exchange.example")
    page = client.get("/staff/audit").get_data(as_text=True)
    header = page.split('<header class="site-header">', 1)[1].split("</header>", 1)[0]
    account = header.split('class="header-account"', 1)[1].split("</div>", 1)[0]
    nav = header.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert "alex.administrator@exchange.example" in account and "Sign out" in account
    assert "exchange.example" not in nav and "Sign out" not in nav
    assert "Audit log" in nav and ">Admin<" in nav  # the jobs page sits in the admin console's tabs


def test_listed_birth_dates_are_written_as_on_every_page(app, client):
    review_team()
    application = submitted(listed_director=True)
    sign_in(client, "dana@exchange.example")
    hits = case_text(client, application.id).split('id="hits"', 1)[1].split("</section>", 1)[0]
    assert "born 28 Jul 1963" in hits and "1963-07-28" not in hits
