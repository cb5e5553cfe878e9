"""Approval letters: issued once by the job after approval, stored encrypted with their SHA-256,
e-mailed with the PDF attached (over a real SMTP server), verifiable by anyone with the code,
downloadable by the institution's users and by staff, and rendered with bundled assets only.

Approval itself belongs to the review workflow; these tests reach an approved application by
submitting one for real, then writing what a qualification and an approval would leave behind."""

from __future__ import annotations

import hashlib
import html
import io
import re

import pyotp
import pypdf
import pypdfium2
import pytest
from flask import current_app, render_template
from sqlalchemy import func, select
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError

from onboarding.accounts.models import APPLICANT, User
from onboarding.accounts.operations import create_staff, find_user_by_email, totp_secret
from onboarding.applications.models import APPROVED, DOCUMENT_REVIEW, Application
from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.institutions.models import ACTIVE, Institution
from onboarding.institutions.operations import grant_access
from onboarding.institutions.status import change_status
from onboarding.jobs import request_job
from onboarding.letters.jobs import issue_letter
from onboarding.letters.models import ApprovalLetter
from onboarding.letters.operations import associated_data, new_verification_code, normalise_code, verified_pdf
from onboarding.letters.queries import letter_for
from onboarding.letters.render import ASSETS_DIR, BundledAssetFetcher, LetterAssetRefused, render_pdf
from onboarding.notifications.delivery import AttachmentUnavailable, build_mime
from onboarding.notifications.models import EmailMessage
from onboarding.review.models import QualificationReview
from onboarding.review.qualification import CRITERION_CODES
from onboarding.storage import document_store

from .conftest import ARTIFACTS, last_email, submit_form
from .factories import PASSWORD, complete_application, make_applicant, submit

APPLICANT_EMAIL = "mm@northwind.example"
GRANTED = ["market:read", "spot:trade"]


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    """Stored files go to this test's own directory, for the app under test and its twin."""
    path = tmp_path / "documents"
    app.config["DOCUMENTS_DIR"] = str(path)
    current_app.config["DOCUMENTS_DIR"] = str(path)
    return path


# ---------------------------------------------------------------------------
# Helpers.


def staff(email: str, name: str, *roles: str) -> User:
    user = create_staff(email=email, full_name=name, password=PASSWORD, roles=roles)
    db.session.commit()
    return user


def approved_application(*, compliance: bool = False) -> tuple[Application, User]:
    """A submitted application (checks run eagerly) given what qualification and approval leave
    behind: a qualification review, the grant copied onto the application, the approved state and
    an active institution. Returns the application and the approver."""
    user = make_applicant(APPLICANT_EMAIL)
    application = complete_application(user)
    submit(application, user)
    application = db.session.get(Application, application.id)
    assert application.state == DOCUMENT_REVIEW
    qualifier = staff("quinn@exchange.example", "Quinn Qualifier", "qualification_reviewer")
    approver = staff("avery@exchange.example", "Avery Approver", "approver")
    db.session.add(QualificationReview(
        application_id=application.id, round=application.check_round, reviewer_id=qualifier.id,
        scores={code: {"score": 4, "note": "Fits the tier."} for code in CRITERION_CODES},
        total_score=4 * len(CRITERION_CODES), granted_scopes=GRANTED, rate_tier="professional", max_keys=12,
        summary="Established market maker.",
    ))
    institution = db.session.get(Institution, application.institution_id)
    grant_access(institution, scopes=GRANTED, rate_tier="professional", max_keys=12,
                 ip_allowlist=application.ip_allowlist, granted_by_id=approver.id, application_id=application.id)
    application.qualified_by_id = qualifier.id
    if compliance:
        officer = staff("cora@exchange.example", "Cora Compliance", "compliance")
        application.needs_compliance_signoff = True
        application.compliance_signoff_by_id, application.compliance_signoff_at = officer.id, utcnow()
    application.state, application.decided_at = APPROVED, utcnow()  # test set-up: approval is not ours to test
    change_status(institution, ACTIVE, reason="test set-up")
    db.session.commit()
    return application, approver


def issue(application: Application, approver: User) -> ApprovalLetter:
    """Ask for the letter as the approve transition does; the job runs after the commit."""
    request_job("letters.issue", application_id=application.id, approved_by_id=approver.id)
    db.session.commit()
    letter = letter_for(application.id)
    assert letter is not None and letter.rendered_at is not None, "the letter job did not issue the letter"
    return letter


def pdf_text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", text)


def sign_in(client, email: str = APPLICANT_EMAIL) -> None:
    assert submit_form(client, "/login", {"email": email, "password": PASSWORD}).status_code == 302


def sign_in_staff(client, email: str = "riley@exchange.example") -> User:
    user = staff(email, "Riley Reviewer", "document_reviewer")
    submit_form(client, "/login", {"email": email, "password": PASSWORD})
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email(email))
    response = submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, "staff sign-in did not complete"
    return user


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audit_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def visible(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


# ---------------------------------------------------------------------------
# Issuing.


def test_the_job_issues_one_letter_stored_encrypted_with_everything_the_letter_must_say(app, documents_dir):
    application, approver = approved_application(compliance=True)
    letter = issue(application, approver)

    assert letter.institution_id == application.institution_id
    assert re.fullmatch(r"([A-Z2-7]{4}-){4}[A-Z2-7]{4}", letter.verification_code)
    raw = (documents_dir / letter.storage_key[:2] / letter.storage_key).read_bytes()
    assert not raw.startswith(b"%PDF") and b"Northwind" not in raw  # encrypted at rest
    pdf = document_store().read_all(letter.storage_key, associated_data=b"letter:%d" % application.id)
    assert pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == letter.sha256 and len(pdf) == letter.size
    assert letter.key_id == document_store().ring.current_id
    # Bound to its letter: the same file under another letter's associated data does not open.
    with pytest.raises(Exception, match="integrity"):
        document_store().read_all(letter.storage_key, associated_data=associated_data(application.id + 1))

    text = pdf_text(pdf)
    verify_url = f"http://localhost/letters/verify/{letter.verification_code}"
    for expected in (
        application.reference, "Northwind Liquidity Ltd", "12345678", "United Kingdom", "5493001KJTIIGC8Y1R12",
        "1 King William Street", "Market data (read)", "market:read", "Spot trading", "spot:trade",
        "Professional: 100 requests/s, 50 orders/s", "At most 12 active keys", "203.0.113.10", "2001:db8::/48",
        "API usage rules, version 2026-11", "Carol Director", "Quinn Qualifier", "Qualification reviewer",
        "Avery Approver", "Approver", verify_url,
    ):
        assert expected in text, f"{expected!r} missing from the letter"
    # A compliance sign-off happens only for high-risk or linked cases: naming it would tip the applicant off.
    assert "Cora Compliance" not in text and "Compliance officer" not in text
    assert "Futures trading" not in text  # only what was granted
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1

    facts = letter.facts
    assert facts["reference"] == application.reference and facts["verification"]["url"] == verify_url
    assert [s["code"] for s in facts["access"]["scopes"]] == GRANTED
    assert [p["name"] for p in facts["signatories"]] == ["Quinn Qualifier", "Avery Approver"]
    assert facts["rules"]["version"] == "2026-11" and facts["rules"]["current"] is True
    [event] = audit_events("letter.issued")
    assert event.subject_id == str(application.id) and event.details["sha256"] == letter.sha256


def test_the_letter_looks_like_a_letter_on_one_a4_page(app):
    application, approver = approved_application(compliance=True)
    letter = issue(application, approver)
    pdf = verified_pdf(letter)
    page = pypdfium2.PdfDocument(pdf)[0]
    rendered = page.render(scale=100 / 72).to_pil()
    out = ARTIFACTS / "letters" / "approval-letter.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    rendered.save(out)
    image = rendered.convert("L")

    width, height = image.size
    assert abs(width / height - 210 / 297) < 0.005, "not A4"
    assert abs(width - 827) <= 2  # 210 mm at 100 dpi

    def ink(top: float, bottom: float) -> int:
        band = image.crop((0, int(top * height), width, int(bottom * height)))
        return sum(band.point(lambda v: 255 if v < 128 else 0).histogram()[255:])

    assert ink(0.03, 0.10) > 500, "no letterhead"
    assert ink(0.35, 0.75) > 5000, "no body"
    assert ink(0.90, 0.99) > 500, "no footer (verification code and QR)"
    # Margins are left blank: nothing runs into the edges.
    assert ink(0.0, 0.02) == 0 and image.crop((0, 0, int(0.05 * width), height)).getextrema()[0] > 128


def test_running_the_job_twice_makes_one_letter_and_one_email(app):
    application, approver = approved_application()
    first = issue(application, approver)
    issue_letter(application.id, approver.id)  # the handler again, as after a crash before "done"
    db.session.commit()
    second = issue(application, approver)  # and a second outbox job for the same approval

    assert second.id == first.id and second.sha256 == first.sha256
    assert count(ApprovalLetter) == 1
    assert count(EmailMessage, EmailMessage.template == "application_approved") == 1
    assert len(audit_events("letter.issued")) == 1


def test_a_job_for_an_application_that_is_not_approved_issues_nothing(app):
    user = make_applicant(APPLICANT_EMAIL)
    application = complete_application(user)
    approver = staff("avery@exchange.example", "Avery Approver", "approver")
    issue_letter(application.id, approver.id)
    issue_letter(999_999, approver.id)
    db.session.commit()
    assert count(ApprovalLetter) == 0 and count(EmailMessage, EmailMessage.template == "application_approved") == 0


# ---------------------------------------------------------------------------
# The approval e-mail.


def test_the_approval_email_reaches_every_active_verified_user_with_the_pdf_attached(
    make_app, smtp_server, tmp_path
):
    mail_app = make_app(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port,
                        DOCUMENTS_DIR=str(tmp_path / "smtp-documents"))
    with mail_app.app_context():
        application, approver = approved_application()
        colleagues = [
            User(email=address, full_name=name, password_hash="x", kind=APPLICANT,
                 institution_id=application.institution_id, email_verified_at=verified, is_active=active)
            for address, name, verified, active in (
                ("ops@northwind.example", "Olive Ops", utcnow(), True),
                ("new@northwind.example", "Not Verified", None, True),
                ("gone@northwind.example", "Left Company", utcnow(), False),
            )
        ]
        db.session.add_all(colleagues)
        db.session.commit()
        letter = issue(application, approver)

        subject = f"Application {application.reference} approved: your approval letter"
        approvals = [m for m in smtp_server.messages if m["Subject"] == subject]
        assert sorted(m["To"] for m in approvals) == ["mm@northwind.example", "ops@northwind.example"]
        message = next(m for m in approvals if m["To"] == APPLICANT_EMAIL)
        body = message.get_body(("plain",)).get_content()
        assert "Hello Morgan Maker" in body and letter.facts["verification"]["url"] in body
        assert "Spot trading (spot:trade), only from your allow-listed IP addresses" in body
        [attachment] = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == f"approval-letter-{application.reference}.pdf"
        assert hashlib.sha256(attachment.get_content()).hexdigest() == letter.sha256
        stored = db.session.scalar(select(EmailMessage).where(EmailMessage.to_address == APPLICANT_EMAIL,
                                                              EmailMessage.template == "application_approved"))
        assert stored.sent_at is not None and stored.attachments[0]["kind"] == "approval_letter"
        assert stored.attachments[0]["id"] == letter.id
        db.session.remove()


def test_the_console_backend_names_the_attachment(app, capfd):
    application, approver = approved_application()
    letter = issue(application, approver)
    printed = capfd.readouterr().err
    assert f"Attachment: approval-letter-{application.reference}.pdf (application/pdf, {letter.size} bytes)" in printed


def test_an_attachment_that_does_not_match_its_hash_is_not_sent(app):
    application, approver = approved_application()
    issue(application, approver)
    message = last_email(APPLICANT_EMAIL)
    assert build_mime(message).get_payload()[-1].get_filename().endswith(".pdf")
    message.attachments = [{**message.attachments[0], "sha256": "0" * 64}]
    with pytest.raises(AttachmentUnavailable):
        build_mime(message)
    db.session.rollback()


# ---------------------------------------------------------------------------
# Public verification.


def test_the_verify_page_confirms_a_genuine_letter_and_todays_access(app, client):
    application, approver = approved_application()
    letter = issue(application, approver)
    response = client.get(f"/letters/verify/{letter.verification_code}")
    assert response.status_code == 200
    page = visible(response)
    for expected in ("This letter is genuine", "Northwind Liquidity Ltd", application.reference,
                     letter.facts["issued_on"], "Market data (read)", "Spot trading",
                     "Professional: 100 requests/s, 50 orders/s", "API access today Active"):
        assert expected in page, expected
    # Nothing the public does not need: no addresses, people, allow-list or registration details.
    for private in ("203.0.113.10", "King William", "Carol Director", "Avery Approver", "12345678"):
        assert private not in page
    assert 'name="robots" content="noindex' in response.get_data(as_text=True)

    institution = db.session.get(Institution, application.institution_id)
    institution.status = "frozen"
    db.session.commit()
    page = visible(client.get(f"/letters/verify/{letter.verification_code}"))
    assert "API access today Suspended (frozen)" in page and "not active today" in page
    institution.status = "restricted"
    db.session.commit()
    assert "Permanently restricted" in visible(client.get(f"/letters/verify/{letter.verification_code}"))


def test_a_code_is_read_as_people_type_it(app, client):
    application, approver = approved_application()
    code = issue(application, approver).verification_code
    typed = " " + code.lower().replace("-", " ") + " "
    response = client.get("/letters/verify", query_string={"code": typed})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/letters/verify/{code}")
    response = client.get(f"/letters/verify/{code.replace('-', '').lower()}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/letters/verify/{code}")
    assert normalise_code(code.replace("O", "0").replace("I", "1").replace("B", "8")) == code


def test_an_unknown_code_says_so_with_a_404(app, client):
    response = client.get("/letters/verify/AAAA-BBBB-CCCC-DDDD-EEEE")
    assert response.status_code == 404
    page = visible(response)
    assert "No letter with this code" in page and "AAAA-BBBB-CCCC-DDDD-EEEE" in page
    assert "Page not found" not in page  # not the generic error page
    assert client.get("/letters/verify/not-a-code").status_code == 404

    form = client.get("/letters/verify")
    assert form.status_code == 200 and "Verify an approval letter" in visible(form)
    bad = client.get("/letters/verify", query_string={"code": "12345"})
    assert bad.status_code == 422 and "This is not a verification code" in visible(bad)


def test_codes_are_long_random_and_well_formed():
    codes = {new_verification_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(normalise_code(code) == code and len(code.replace("-", "")) == 20 for code in codes)
    assert normalise_code("ABCD-EFGH") is None and normalise_code("ABCD-EFGH-IJKL-MNOP-QRS!") is None


# ---------------------------------------------------------------------------
# Downloads.


def test_the_institutions_users_download_their_letter_and_others_cannot(app, client):
    application, approver = approved_application()
    letter = issue(application, approver)
    sign_in(client)
    response = client.get("/application/letter")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="approval-letter-{application.reference}.pdf"'
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert hashlib.sha256(response.data).hexdigest() == letter.sha256
    [event] = audit_events("letter.downloaded")
    assert event.subject_id == str(application.id) and event.actor_label == APPLICANT_EMAIL

    make_applicant("mm@other.example", legal_name="Other Markets Ltd")
    other = app.test_client()
    sign_in(other, "mm@other.example")
    response = other.get("/application/letter")
    assert response.status_code == 404 and "no approved application" in visible(response)
    assert other.get(f"/staff/applications/{application.id}/letter").status_code == 403


def test_an_approved_application_without_its_letter_yet_says_it_is_being_prepared(app, client):
    application, _ = approved_application()
    sign_in(client)
    response = client.get("/application/letter")
    assert response.status_code == 404 and "being prepared" in visible(response)


def test_staff_download_the_letter_and_it_is_audited(app, client):
    application, approver = approved_application()
    letter = issue(application, approver)
    reviewer = sign_in_staff(client)
    response = client.get(f"/staff/applications/{application.id}/letter")
    assert response.status_code == 200 and hashlib.sha256(response.data).hexdigest() == letter.sha256
    [event] = audit_events("letter.downloaded")
    assert event.actor_id == reviewer.id
    assert client.get("/staff/applications/999999/letter").status_code == 404


def test_a_letter_whose_file_no_longer_matches_its_hash_is_refused(app, client, documents_dir):
    application, approver = approved_application()
    letter = issue(application, approver)
    genuine_sha256 = letter.sha256
    letter.sha256 = hashlib.sha256(b"something else").hexdigest()
    db.session.commit()
    sign_in(client)
    response = client.get("/application/letter")
    assert response.status_code == 409 and "failed its integrity check" in visible(response)
    assert response.mimetype == "text/html" and len(audit_events("letter.integrity_failed")) == 1

    # The same for a file damaged on disk.
    letter = letter_for(application.id)
    letter.sha256 = genuine_sha256
    db.session.commit()
    assert client.get("/application/letter").status_code == 200
    path = documents_dir / letter.storage_key[:2] / letter.storage_key
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01
    path.write_bytes(bytes(data))
    assert client.get("/application/letter").status_code == 409


def test_the_letter_panel_shows_the_letter_or_that_it_is_being_prepared(app):
    application, approver = approved_application()
    with current_app.test_request_context():
        preparing = render_template("letters/_letter_panel.html", letter=None, application=application,
                                    download_url="/application/letter")
        assert "being prepared" in preparing
    letter = issue(application, approver)
    with current_app.test_request_context():
        panel = render_template("letters/_letter_panel.html", letter=letter, application=application,
                                download_url="/application/letter")
    assert letter.verification_code in panel and 'href="/application/letter"' in panel
    assert letter.sha256[:16] in panel and letter.sha256[-16:] in panel
    assert f"/letters/verify/{letter.verification_code}" in panel


# ---------------------------------------------------------------------------
# Rendering fetches bundled assets only.


def test_the_asset_fetcher_serves_bundled_files_and_data_uris_only(tmp_path):
    fetcher = BundledAssetFetcher()
    css = fetcher((ASSETS_DIR / "letter.css").as_uri())
    assert css.content_type == "text/css" and b"@page" in css.read()
    assert fetcher("data:text/plain;base64,aGk=").read() == b"hi"

    outside = tmp_path / "secret.css"
    outside.write_text("body { color: red }")
    for url in (
        "http://127.0.0.1:9/letter.css", "https://example.com/logo.svg", "ftp://example.com/x",
        outside.as_uri(), "file:///etc/passwd", ASSETS_DIR.as_uri() + "/../css/site.css",
        "file://evil.example/" + str(ASSETS_DIR / "letter.css"), (ASSETS_DIR / "missing.css").as_uri(),
    ):
        with pytest.raises(LetterAssetRefused):
            fetcher(url)


def test_a_letter_asking_for_anything_else_is_not_rendered(app, tmp_path):
    outside = tmp_path / "logo.svg"
    outside.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    for markup in (
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"><p>Letter</p>',
        f'<img src="{outside.as_uri()}"><p>Letter</p>',
    ):
        with pytest.raises(FatalURLFetchingError):
            HTML(string=markup, base_url=ASSETS_DIR.as_uri() + "/", url_fetcher=BundledAssetFetcher()).write_pdf()


def test_text_typed_by_the_applicant_is_printed_not_interpreted(app):
    application, approver = approved_application()
    facts = dict(issue(application, approver).facts)
    hostile = '<img src="http://127.0.0.1:9/x.png"> & <b>Ltd</b>'
    facts["institution"] = {**facts["institution"], "legal_name": hostile}
    with current_app.test_request_context():
        text = pdf_text(render_pdf(facts))  # fetching the image would stop the rendering
    assert hostile in text


# ---------------------------------------------------------------------------
# In a browser.


@pytest.mark.e2e
def test_someone_holding_a_letter_checks_it_in_a_browser(live_app, browser):
    application, approver = approved_application()
    code = issue(application, approver).verification_code
    shots = ARTIFACTS / "letters"
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=live_app.config["BASE_URL"], viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto("/letters/verify")
        page.get_by_label("Verification code").fill(" " + code.lower().replace("-", " "))
        page.screenshot(path=shots / "verify-form.png", full_page=True)
        page.get_by_role("button", name="Check the code").click()
        page.wait_for_url(f"**/letters/verify/{code}")
        assert page.get_by_role("heading", level=1).inner_text() == "This letter is genuine"
        assert "Active" in page.locator(".status").inner_text()
        page.screenshot(path=shots / "verify-genuine.png", full_page=True)

        response = page.goto("/letters/verify/AAAA-BBBB-CCCC-DDDD-EEEE")
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "No letter with this code"
        page.screenshot(path=shots / "verify-unknown.png", full_page=True)
    finally:
        context.close()
