"""Freeze, reinstatement and restriction notices are issued as PDF letters after the decision commits,
downloadable by the institution's own users in the portal and by staff from the case page; they say
what the institution may know (category and time of a report) and never internal notes or evidence."""

from __future__ import annotations

import io

import pypdf
from sqlalchemy import select

from onboarding.agreements.models import RISK_CONTROL
from onboarding.agreements.operations import current_rules
from onboarding.db import db
from onboarding.enforcement import decisions
from onboarding.letters.models import Notice

from .factories import granted_institution
from .test_enforcement import claimed, frozen_case, officer
from .test_enforcement_four_eyes import link
from .test_enforcement_pages import case_url, compliance_client
from .test_keys_pages import sign_in as sign_in_applicant


def notices(institution_id: int) -> list[Notice]:
    db.session.rollback()  # see what the jobs committed
    return list(db.session.scalars(select(Notice).where(Notice.institution_id == institution_id)
                                   .order_by(Notice.id)))


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())


def test_the_freeze_notice_is_a_pdf_the_institution_downloads(app):
    user = granted_institution()
    stranger = granted_institution("ops@stranger.example", "Stranger Capital")
    _, recorded = frozen_case(user, evidence_text="INTERNAL evidence: desk 7 order log")
    [notice] = notices(user.institution_id)
    assert notice.kind == "freeze" and notice.rendered_at is not None and notice.reference == \
        f"INV-{recorded.investigation.id}"
    client = app.test_client()
    sign_in_applicant(client)
    home = client.get("/portal").get_data(as_text=True)
    assert "Notices about your API access" in home and f"/institution/notices/{notice.id}" in home
    response = client.get(f"/institution/notices/{notice.id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = text_of(response.data)
    assert "Evergreen Liquidity BV" in text and "frozen" in text
    assert "Unauthorised bot trading, observed 1 Dec 2026, 09:30 UTC" in text
    assert "INTERNAL" not in text
    other = app.test_client()
    sign_in_applicant(other, stranger.email)
    assert other.get(f"/institution/notices/{notice.id}").status_code == 404, "another institution's notice"
    staff = compliance_client(app)
    assert f"/staff/notices/{notice.id}" in staff.get(case_url(recorded.investigation.id)).get_data(as_text=True)
    assert staff.get(f"/staff/notices/{notice.id}").mimetype == "application/pdf"
    assert staff.get("/staff/notices/999999").status_code == 404


def test_reinstatement_and_restriction_notices(app):
    user = granted_institution()
    sister = granted_institution("ops@sister.example", "Sister Desk Ltd")
    link(user, sister.institution_id)
    _, recorded = frozen_case(user)
    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    decisions.offer_reinstatement(investigation, "INTERNAL: first time.", cora)
    db.session.commit()
    rules = current_rules(RISK_CONTROL)
    decisions.reinstate(investigation, user=user, rules_version_id=rules.id, shown_sha256=rules.sha256,
                        signer_name="Morgan Maker", signer_title="CEO", ip="203.0.113.5", user_agent="pytest")
    db.session.commit()
    assert [n.kind for n in notices(user.institution_id)] == ["freeze", "reinstatement"]
    client = app.test_client()
    sign_in_applicant(client)
    text = text_of(client.get(f"/institution/notices/{notices(user.institution_id)[1].id}").data)
    assert "restored" in text and "Morgan Maker (CEO)" in text and "INTERNAL" not in text

    _, second = frozen_case(user, reference="SURV-2")
    investigation = claimed(second.investigation, cora)
    decisions.restrict(investigation, "INTERNAL: second offence.", cora, extend_to=[sister.institution_id])
    db.session.commit()
    decisions.confirm_proposal(investigation, officer("otto@exchange.example", "Otto Officer"))
    db.session.commit()
    assert [n.kind for n in notices(user.institution_id)] == ["freeze", "reinstatement", "freeze", "restriction"]
    [sister_notice] = notices(sister.institution_id)
    assert sister_notice.kind == "restriction" and sister_notice.rendered_at is not None
    other = app.test_client()
    sign_in_applicant(other, sister.email)
    text = text_of(other.get(f"/institution/notices/{sister_notice.id}").data)
    assert "permanently restricted" in text and "Evergreen Liquidity BV" in text and "INTERNAL" not in text
