"""What people see of the checks: live progress for the applicant, an EICAR upload quarantined and
reported, new hits from ongoing monitoring after a list import, and the staff case page."""

from __future__ import annotations

import io
from datetime import date

import pyotp
from sqlalchemy import select

from onboarding.accounts.operations import create_staff, find_user_by_email, totp_secret
from onboarding.applications import operations as ops
from onboarding.applications.models import PERSON, Application
from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.documents.models import Document
from onboarding.documents.operations import upload_document
from onboarding.screening.models import ScreeningHit

from .conftest import submit_form
from .factories import PASSWORD, complete_application, make_applicant, pdf_bytes, submit
from .fixtures import SANCTIONS_FIXTURES
from .services import EICAR

OFAC_SAMPLE = SANCTIONS_FIXTURES / "ofac-sample"


def sign_in_applicant(client, email="mm@northwind.example"):
    assert submit_form(client, "/login", {"email": email, "password": PASSWORD}).status_code == 302


def sign_in_staff(client, email="reviewer@exchange.example"):
    create_staff(email=email, full_name="Riley Reviewer", password=PASSWORD, roles=["document_reviewer"])
    db.session.commit()
    submit_form(client, "/login", {"email": email, "password": PASSWORD})
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email(email))
    submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()})


def test_progress_endpoint_reports_done_and_planned(client):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)
    sign_in_applicant(client)
    progress = client.get("/application/status/progress").get_json()
    application = db.session.get(Application, application.id)
    assert progress["state"] == "document_review" and progress["running"] is False
    assert progress["done"] == progress["planned"] == application.checks_planned > 0
    assert progress["label"] == f"{progress['done']} of {progress['planned']} checks done"
    page = client.get("/application/status").get_data(as_text=True)
    assert f"{progress['done']} of {progress['planned']} checks done" in page
    assert 'data-url="/application/status/progress"' in page


def test_an_eicar_upload_is_quarantined_and_reported(make_app, clamd_server):
    app = make_app(CLAMD_SOCKET=str(clamd_server.socket))
    client = app.test_client()
    with app.app_context():
        user = make_applicant()
        application = complete_application(user)
        infected = pdf_bytes()
        infected = infected[:9] + b"%" + EICAR + b"\n" + infected[9:]
        upload_document(application, "company:articles_of_association", stream=io.BytesIO(infected),
                        filename="articles.pdf", issue_date=date(2026, 1, 5), expiry_date=None, user_id=user.id)
        db.session.commit()
        submit(application, user)
        document = db.session.scalar(select(Document).where(Document.kind == "articles_of_association"))
        assert document.quarantined_at is not None
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "document.quarantined")) is not None
        document_id = document.id

    sign_in_applicant(client)
    page = client.get("/application/status").get_data(as_text=True)
    assert "Some documents cannot be used" in page
    assert "Malware found: Eicar-Test-Signature" in page and "quarantined" in page
    refused = client.get(f"/documents/{document_id}/download")
    assert refused.status_code == 403
    assert "quarantined" in refused.get_data(as_text=True)
    assert refused.headers["Content-Type"].startswith("text/html")


def test_a_list_import_rescreens_and_opens_review_tasks_for_new_hits(app, client):
    user = make_applicant()
    application = complete_application(user)
    ops.add_party(application, PERSON, {"name": "Elvis Angus Logan Morey", "date_of_birth": date(1963, 7, 28),
                                        "nationality": "BZ", "residence": "BZ"})
    db.session.commit()
    submit(application, user)  # no list imported yet: nothing to match
    assert db.session.scalar(select(ScreeningHit)) is None

    runner = app.test_cli_runner()
    result = runner.invoke(args=["sanctions", "import", "--format", "ofac-sdn", str(OFAC_SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "re-screened" in result.output
    db.session.rollback()
    hit = db.session.scalar(select(ScreeningHit).where(ScreeningHit.subject_name == "Elvis Angus Logan Morey"))
    assert hit is not None and hit.found_by == "monitoring" and hit.disposition == "pending"
    assert hit.external_id == "10278" and hit.score >= 0.9

    again = runner.invoke(args=["sanctions", "import", "--format", "ofac-sdn", str(OFAC_SAMPLE)])
    assert again.exit_code == 0 and "nothing changed" in again.output
    db.session.rollback()
    assert len(db.session.scalars(select(ScreeningHit)).all()) == 1, "re-importing does not duplicate hits"

    sign_in_staff(client)
    home = client.get("/staff").get_data(as_text=True)
    assert "<strong>1</strong> screening hit to review" in home
    assert "<strong>1</strong> application in document review" in home
    tasks = client.get("/staff/applications/screening-hits").get_data(as_text=True)
    assert "Elvis Angus Logan Morey" in tasks and "Monitoring" in tasks and "LOGAN MOREY, Elvis Angus" in tasks
    case = client.get(f"/staff/applications/{application.id}").get_data(as_text=True)
    assert "OFAC-SDN 10278" in case and "birth date" in case


def test_applicant_never_sees_screening_results(app, client):
    user = make_applicant()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["sanctions", "import", "--format", "ofac-sdn", str(OFAC_SAMPLE)]).exit_code == 0
    db.session.rollback()
    application = complete_application(user)
    ops.add_party(application, PERSON, {"name": "Elvis Angus Logan Morey", "date_of_birth": date(1963, 7, 28),
                                        "nationality": "BZ", "residence": "BZ"})
    db.session.commit()
    submit(application, user)
    assert db.session.scalar(select(ScreeningHit)) is not None
    sign_in_applicant(client)
    page = client.get("/application/status").get_data(as_text=True)
    assert "LOGAN MOREY" not in page and "sanctions match" not in page.lower()
    assert client.get(f"/staff/applications/{application.id}").status_code == 403
