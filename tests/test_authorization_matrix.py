"""The authorization matrix: every route of the URL map, every method, every actor (anonymous, an
applicant of institution A, one of institution B, each staff role, a service token of each scope), asked
with A's objects in the URL, against ONE declared policy table below. A route without a declared policy
fails, and so does any answer that differs from the policy: B never reaches A's application, documents,
letter, keys or investigation; a role never reaches another role's action.

What counts: "reached" is any answer of the view itself (a page, a redirect elsewhere, a refusal such as
409 or 422 for a business rule); "denied" is 401, 403, 404 (an object that is not yours does not exist
for you) or a redirect to the sign-in page. A 500 fails whatever the policy. CSRF is off here so that a
POST with no fields reaches the view's own checks; no field is sent, so allowed POSTs are refused by
their forms and change nothing (the ones that need no field, such as signing out, are asked last).

Policies:
  public         everyone reaches it (404 allowed: the URL's token or code is made up)
  signed_in      every signed-in user, applicant or staff
  applicant      every applicant (each sees their own)
  owner          only A, the applicant whose objects are in the URL
  staff          every staff role
  staff:a,b      only those staff roles
  p|q            either
  token:scope    only a service token with that scope
  a trailing ?   the world below has no such object (A has no approval letter yet): only the denial side
                 is checked here, the allowed side by the part's own tests
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import select

from onboarding.accounts.models import STAFF_ROLES, AdminGrant
from onboarding.accounts.operations import find_user_by_email, set_totp_secret
from onboarding.agreements.models import API_USAGE
from onboarding.agreements.operations import current_rules, record_agreement
from onboarding.api.tokens import create_service_token
from onboarding.applications import operations as app_ops
from onboarding.applications.models import Application, OwnershipLink, Party
from onboarding.db import db, utcnow
from onboarding.documents.models import Document
from onboarding.enforcement.intake import Report, report_violation
from onboarding.enforcement.models import Investigation
from onboarding.institutions.allowlist import request_allowlist_change
from onboarding.institutions.models import ACTIVE, AllowlistChange, Institution
from onboarding.institutions.operations import grant_access
from onboarding.institutions.status import change_status
from onboarding.jobs import OutboxJob
from onboarding.keys.models import ApiKey
from onboarding.letters.models import Notice
from onboarding.referrals.models import Referral
from onboarding.screening.models import LinkSignal, ListImport, ListSnapshot, ScreeningHit

from .factories import (
    COMPANY_DATA,
    GRANTED_IPS,
    PASSWORD,
    add_listed_director,
    complete_application,
    make_applicant,
    make_staff,
    review_team,
    submit,
)
from .test_api import service_token
from .test_keys import hmac_key

SCOPES = ("authorize", "violations:write", "institutions:read", "metrics:read")
STAFF = tuple(STAFF_ROLES)
ALL_STAFF = "staff"

POLICY: dict[str, str] = {
    # Signing up, signing in (each step of it) and out, recovering access: no authorization to check.
    "accounts.check_inbox": "public", "accounts.enrol_mfa": "public", "accounts.forgot_password": "public",
    "accounts.login": "public", "accounts.logout": "public", "accounts.register": "public",
    "accounts.resend_verification": "public", "accounts.reset_password": "public",
    "accounts.second_factor": "public", "accounts.verify_email": "public",
    "accounts.accept_invitation": "public",
    "accounts.recovery_codes": "signed_in", "accounts.account": "signed_in", "accounts.change_password": "signed_in",
    "accounts.end_other_sessions": "signed_in",
    # Machine callers.
    "api.authorize": "token:authorize", "api.institution": "token:institutions:read",
    "api.violations": "token:violations:write", "api.openapi": "public", "metrics.metrics": "token:metrics:read",
    # The applicant's own application (the URL names no object, or only the asker's own).
    "applications.overview": "applicant", "applications.start": "applicant", "applications.withdraw": "applicant",
    "applications.company": "applicant", "applications.ownership": "applicant", "applications.profile": "applicant",
    "applications.add_holding": "applicant", "applications.add_person": "applicant",
    "applications.edit_party": "owner", "applications.remove_holding": "owner", "applications.remove_party": "owner",
    "documents.step": "applicant", "documents.upload": "applicant", "documents.remove": "applicant",
    "documents.download": "owner|staff",
    "portal.review": "applicant", "portal.status": "applicant", "portal.progress": "applicant",
    "home.applicant": "applicant",
    "keys.index": "applicant", "keys.create": "applicant", "keys.agree": "applicant",
    "keys.ask_allowlist_change": "applicant", "keys.revoke": "owner", "keys.rotate": "owner",
    "enforcement.reinstatement": "applicant",
    "letters.applicant_download": "owner?", "letters.applicant_notice": "owner",
    # Staff. Case decisions are open to every staff role at the route: the operation then checks the role
    # the decision needs and that the case is assigned to the asker (tests/test_review_*.py).
    "home.staff": "staff", "review.applications": "staff", "review.queue": "staff", "review.case": "staff",
    "review.screening_hits": "staff",
    "decisions.claim": "staff", "decisions.release": "staff", "decisions.add_note": "staff",
    "decisions.accept_documents": "staff", "decisions.document_decision": "staff",
    "decisions.document_preview": "staff", "decisions.hit_disposition": "staff", "decisions.signal_review": "staff",
    "decisions.signals_review": "staff",
    "decisions.request_changes": "staff", "decisions.qualify": "staff", "decisions.send_back": "staff",
    "decisions.approve": "staff", "decisions.reject": "staff",
    "decisions.assign": "staff:admin", "decisions.signoff": "staff:compliance",
    "letters.staff_download": "staff?", "letters.staff_notice": "staff",
    "keys.staff_view": "staff", "keys.allowlist_changes": "staff",
    "keys.decide_allowlist": "staff:admin,compliance,qualification_reviewer",
    "keys.staff_revoke": "staff:admin,compliance",
    "enforcement.queue": "staff", "enforcement.case": "staff",
    "enforcement.new_violation": "staff:compliance", "enforcement.claim": "staff:compliance",
    "enforcement.dismiss": "staff:compliance", "enforcement.reinstatable": "staff:compliance",
    "enforcement.restrict": "staff:compliance", "enforcement.confirm": "staff:compliance",
    "enforcement.send_back": "staff:compliance",
    "referrals.index": "staff", "referrals.decide": "staff:compliance",
    "sanctions.lists": "staff:admin", "sanctions.upload": "staff:admin", "sanctions.official": "staff:admin",
    "sanctions.import_run": "staff:admin", "sanctions.import_progress": "staff:admin",
    "sanctions.snapshot": "staff:admin",
    "audit.log": "staff:admin,compliance",
    "dashboard.jobs": "staff:admin", "dashboard.retry_job": "staff:admin",
    **{f"admin.{name}": "staff:admin" for name in (
        "index", "staff_list", "member", "invite", "resend_invitation", "change_roles", "reset_mfa", "deactivate",
        "decide_grant", "rules", "edit_rules", "preview_rules", "publish", "tokens", "create_token", "revoke_token")},
    # Everyone.
    "home.index": "public", "home.favicon": "public", "static": "public", "health.healthz": "public",
    "health.readyz": "public", "letters.verify_form": "public", "letters.verify": "public",
}

# Asked after every other route, in this order: they end the application or the session of the asker.
LAST = ("applications.withdraw", "accounts.logout")


def actors() -> list[str]:
    # A, the owner, asks last: what the others asked before must have left A's objects as they were.
    return ["anonymous", "applicant_b", *(f"staff:{role}" for role in STAFF),
            *(f"token:{scope}" for scope in SCOPES), "applicant_a"]


def allowed_actors(policy: str) -> set[str]:
    policy = policy.removesuffix("?")
    if "|" in policy:
        return set().union(*(allowed_actors(part) for part in policy.split("|")))
    everyone = set(actors())
    applicants = {"applicant_a", "applicant_b"}
    staff = {f"staff:{role}" for role in STAFF}
    if policy == "public":
        return everyone
    if policy == "signed_in":
        return applicants | staff
    if policy == "applicant":
        return applicants
    if policy == "owner":
        return {"applicant_a"}
    if policy == "staff":
        return staff
    if policy.startswith("staff:"):
        return {f"staff:{role}" for role in policy.removeprefix("staff:").split(",")}
    if policy.startswith("token:"):
        return {policy}
    raise AssertionError(f"unknown policy {policy!r}")


def outcome(response) -> str:
    if response.status_code >= 500:
        return "error"
    if response.status_code in (401, 403, 404):
        return "denied"
    if response.status_code in (301, 302, 303, 307, 308):
        if urlsplit(response.headers.get("Location", "")).path.startswith("/login"):
            return "denied"
    return "reached"


def build_world() -> dict[str, str]:
    """A's objects (an application in review with documents, a sanctions hit and a link signal to B; an
    active institution with a key, an allow-list change and an investigation) and the URL values naming
    them."""
    team = review_team()
    b = make_applicant("desk@beta.example", "Beta Markets BV")
    other = complete_application(b)
    # The same registration number as A's: A's application, submitted after, gets a
    # link signal to B.
    app_ops.save_company(other, {**COMPANY_DATA, "legal_name": "Beta Markets BV", "lei": None, "website": None},
                         complete=True)
    db.session.commit()
    submit(other, b)
    a = make_applicant("desk@alpha.example", "Alpha Liquidity BV")
    application = complete_application(a)
    add_listed_director(application, a)
    db.session.commit()
    submit(application, a)
    # A's institution also holds a grant and is active (as after an earlier approval): keys and enforcement.
    institution = db.session.get(Institution, a.institution_id)
    grant_access(institution, scopes=["market:read", "spot:trade"], rate_tier="professional", max_keys=5,
                 ip_allowlist=list(GRANTED_IPS), granted_by_id=None)
    change_status(institution, ACTIVE, reason="matrix set-up")
    rules = current_rules(API_USAGE)
    record_agreement(rules=rules, shown_sha256=rules.sha256, institution_id=institution.id, user_id=a.id,
                     application_id=None, signer_name="Morgan Maker", signer_title="CEO", ip="203.0.113.5",
                     user_agent="pytest")
    db.session.commit()
    issued = hmac_key(a)
    change = request_allowlist_change(institution, addresses=["203.0.113.0/25"], reason="fewer hosts",
                                      user_id=a.id)
    db.session.commit()
    report_violation(Report(institution_id=institution.id, key_public_id=None, category="api_abuse",
                            observed_at=datetime.now(UTC), market_impact="none", malicious=False,
                            evidence_text="burst", evidence={}, reference="matrix-1"), reporter="matrix")
    db.session.commit()

    # A staff member the admin pages act on (not one of the actors: an allowed admin's empty POST must not
    # strip an actor's roles), an admin grant for them asked by the admin actor (who may not confirm it),
    # and a service token no actor uses.
    target = make_staff("terry@exchange.example", "Terry Target", ["document_reviewer"])
    db.session.add(AdminGrant(user_id=target.id, requested_by_id=team["admin"].id))
    spare_token, _ = create_service_token("matrix spare", ["institutions:read"], created_by="matrix")
    db.session.commit()
    # A referral from A to B (a self-referral held for compliance), and a finished list import on record.
    db.session.add(Referral(application_id=other.id, referrer_institution_id=institution.id,
                            referred_institution_id=b.institution_id, status="held", signals=[]))
    db.session.add(ListImport(source="ofac-sdn", origin="upload", state="unchanged", filename="sdn.zip",
                              requested_by="matrix"))
    db.session.commit()

    def first(model, *where):
        found = db.session.scalars(select(model).where(*where).order_by(model.id)).first()
        assert found is not None, f"the matrix world has no {model.__name__}"
        return str(found.id)

    return {
        "application_id": str(application.id),
        "document_id": first(Document, Document.application_id == application.id),
        "party_id": first(Party, Party.application_id == application.id),
        "link_id": first(OwnershipLink, OwnershipLink.application_id == application.id),
        "institution_id": str(institution.id),
        "public_id": issued.key.public_id,
        "change_id": str(change.id),
        "hit_id": first(ScreeningHit, ScreeningHit.application_id == application.id),
        "signal_id": first(LinkSignal, LinkSignal.application_id == application.id),
        "investigation_id": first(Investigation, Investigation.institution_id == institution.id),
        "job_id": first(OutboxJob),
        "notice_id": first(Notice, Notice.institution_id == institution.id),
        "referral_id": first(Referral),
        "import_id": first(ListImport),
        "snapshot_id": first(ListSnapshot),
        "source": "ofac-sdn",
        "user_id": str(target.id),
        "grant_id": first(AdminGrant),
        "decision": "confirm",
        "token_id": str(spare_token.id),
        "code": "documents",
        "token": "made-up-token",
        "filename": "css/site.css",
        "team": ",".join(u.email for u in team.values()),
    }


def fingerprint_of_a(app, values: dict[str, str]) -> tuple:
    """What the other actors must not change: A's application and its parts, keys, case and requests."""
    with app.app_context():
        application_id, institution_id = int(values["application_id"]), int(values["institution_id"])
        application = db.session.get(Application, application_id)

        def rows(model, *where, column="id"):
            return tuple(db.session.execute(select(model.id, getattr(model, column)).where(*where)
                                            .order_by(model.id)).all())

        found = (application.state, application.assignee_id, application.lock_version,
                 rows(Document, Document.application_id == application_id, column="review_status"),
                 rows(Party, Party.application_id == application_id, column="name"),
                 rows(OwnershipLink, OwnershipLink.application_id == application_id, column="percentage"),
                 rows(ApiKey, ApiKey.institution_id == institution_id, column="status"),
                 rows(Investigation, Investigation.institution_id == institution_id, column="status"),
                 rows(AllowlistChange, AllowlistChange.institution_id == institution_id, column="status"),
                 db.session.get(Institution, institution_id).status)
        db.session.remove()
        return found


def url_for_rule(app, rule, values: dict[str, str]) -> str:
    missing = [name for name in rule.arguments if name not in values]
    assert not missing, f"{rule.endpoint}: the matrix has no value for {missing}; add one to build_world()"
    adapter = app.url_map.bind("localhost")
    arguments = {name: int(values[name]) if values[name].isdigit() else values[name] for name in rule.arguments}
    return adapter.build(rule.endpoint, arguments, method=sorted(rule.methods - {"HEAD", "OPTIONS"})[0])


def sign_in(app, client, email: str, *, staff: bool) -> None:
    """Password, then for staff a TOTP code (the secret set directly). No CSRF token here: it is off."""
    if staff:
        with app.app_context():
            user = find_user_by_email(email)
            secret = pyotp.random_base32()
            set_totp_secret(user, secret)
            user.totp_enrolled_at = utcnow()
            db.session.commit()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    if staff:
        response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]


@pytest.fixture()
def matrix_app(make_app):
    return make_app(WTF_CSRF_ENABLED=False)


def test_every_route_answers_every_actor_as_the_policy_says(matrix_app):
    # Requests are made outside an application context: inside one, Flask would share `g` (and the
    # signed-in user cached there) between requests.
    with matrix_app.app_context():
        values = build_world()
        tokens = {f"token:{scope}": service_token(scope) for scope in SCOPES}
        db.session.remove()
    clients = {}
    for actor in actors():
        client = matrix_app.test_client()
        # From outside the networks that may scrape /metrics without a token.
        client.environ_base["REMOTE_ADDR"] = "198.51.100.20"
        if actor == "applicant_a":
            sign_in(matrix_app, client, "desk@alpha.example", staff=False)
        elif actor == "applicant_b":
            sign_in(matrix_app, client, "desk@beta.example", staff=False)
        elif actor.startswith("staff:"):
            role = actor.removeprefix("staff:")
            email = {"document_reviewer": "dana", "qualification_reviewer": "quinn", "approver": "avery",
                     "compliance": "casey", "admin": "alex"}[role] + "@exchange.example"
            sign_in(matrix_app, client, email, staff=True)
        clients[actor] = client

    rules = sorted((r for r in matrix_app.url_map.iter_rules()),
                   key=lambda r: (r.endpoint in LAST, LAST.index(r.endpoint) if r.endpoint in LAST else 0,
                                  r.rule))
    undeclared = sorted({r.endpoint for r in rules} - set(POLICY))
    observed: dict[str, dict[str, str]] = {}
    wrong = []
    for rule in rules:
        url = url_for_rule(matrix_app, rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answers = {}
            policy = POLICY.get(rule.endpoint)
            expected = allowed_actors(policy) if policy else set()
            for actor in actors():
                denied = actor not in expected
                before = fingerprint_of_a(matrix_app, values) if denied else None
                client = clients[actor]
                headers = {"Authorization": f"Bearer {tokens[actor]}"} if actor in tokens else {}
                if rule.endpoint.startswith("api.") and method == "POST":
                    response = client.post(url, json={}, headers=headers)
                else:
                    response = client.open(url, method=method, data={} if method == "POST" else None,
                                           headers=headers)
                response.get_data()  # a streamed download ends its request context only when read
                response.close()
                answers[actor] = outcome(response)
                if denied and fingerprint_of_a(matrix_app, values) != before:
                    wrong.append(f"{method} {url}: {actor}, not allowed, changed A's objects")
                if answers[actor] == "error":
                    wrong.append(f"{method} {url} as {actor}: {response.status_code}")
            observed[f"{method} {rule.endpoint}"] = answers
            if policy is None:
                continue
            for actor, answer in answers.items():
                if answer == "error":
                    continue
                should = actor in expected
                if should and answer != "reached" and policy != "public" and not policy.endswith("?"):
                    wrong.append(f"{method} {url}: {actor} is allowed by '{policy}' but was {answer}")
                if not should and answer == "reached":
                    wrong.append(f"{method} {url}: {actor} reached it, but the policy is '{policy}'")
    if os.environ.get("MATRIX_PRINT"):  # to declare a new route: print who reaches what
        for key, answers in sorted(observed.items()):
            print(key, sorted(a for a, o in answers.items() if o == "reached"))
    assert not undeclared, f"routes without a declared policy: {undeclared}"
    assert not wrong, "\n".join(wrong)
