"""The whole life of institutions, applications, keys and investigations, driven at random by hypothesis
through the product's own operations (the functions the routes call), with the invariants checked against
the database after every step:

- a key the gateway may use (authorize answers `ok`) belongs to an active institution that agreed to the
  current API usage rules; a key whose status is active belongs to an active institution;
- a restricted institution holds no active or frozen key (nothing that an unfreeze could bring back);
- every status change (institution, key, investigation) has its audit event, and the events of each
  record form an unbroken chain from its first status to its current one;
- the authorize decision, asked through Redis from ANOTHER app than the one that made the change (as the
  gateway's process would), gives for every key the reason the database says it should;
- a refused operation leaves nothing half-saved;
- the audit chain verifies (`flask audit verify`) at the end of every example.

Each example starts from empty tables. The operations run in one app (`staff`), the decisions in another
(`gateway`), both on the same database and the same real Redis."""

from __future__ import annotations

import base64
import ipaddress
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from onboarding import security
from onboarding.accounts.models import User
from onboarding.agreements.models import API_USAGE, RISK_CONTROL
from onboarding.agreements.operations import current_rules, has_agreed_to_current, publish_rules, record_agreement
from onboarding.applications.models import Application
from onboarding.audit.models import AuditEvent
from onboarding.audit.operations import verify_chain
from onboarding.db import db, utcnow
from onboarding.enforcement import decisions
from onboarding.enforcement.intake import Report, report_violation
from onboarding.enforcement.models import UNRESOLVED, DecisionProposal, Investigation, Violation
from onboarding.enforcement.queries import pending_proposal
from onboarding.errors import OperationRefused
from onboarding.institutions.allowlist import decide_allowlist_change, request_allowlist_change
from onboarding.institutions.models import Institution
from onboarding.institutions.queries import current_grant
from onboarding.keys.models import ApiKey
from onboarding.keys.operations import create_key, revoke_key, rotate_key
from onboarding.keys.status import expire_due_keys
from onboarding.keys.usage import flush_usage
from onboarding.review import operations as review

from . import factories
from .conftest import empty_all_tables
from .test_keys import ORDER, TRADER_IP, ask, signed

# Bounded so that the test takes about a minute per database (the loaded profile's other settings kept;
# a step costs about twice as much on PostgreSQL); HYPOTHESIS_PROFILE=thorough hunts longer, with longer lives.
_THOROUGH = settings.default.max_examples > 25
_BOUNDED_EXAMPLES = 12 if os.environ.get("TEST_DATABASE") == "postgresql" else 20
LIFECYCLE = settings(settings.default, max_examples=settings.default.max_examples if _THOROUGH else _BOUNDED_EXAMPLES,
                     stateful_step_count=40 if _THOROUGH else 25)

MARKET_DATA = "symbol=BTCUSDT&limit=5"
KEY_SHAPES = {
    # name: (scopes, allow-list); TRADER_IP (203.0.113.10) is inside the first two lists only.
    "trader": (["market:read", "spot:trade"], ["203.0.113.10"]),
    "trading-desk": (["market:read", "spot:trade"], ["203.0.113.0/25"]),
    "elsewhere": (["market:read", "spot:trade"], ["203.0.113.200"]),
    "read-only": (["market:read"], []),
}
# Allow-lists an institution may ask for instead of the one granted (203.0.113.0/24 and 2001:db8::/48).
NARROWER_LISTS = (["203.0.113.128/25"], ["203.0.113.0/28"], ["203.0.113.0/24"])
IMPACTS = ("none", "minor", "significant")
NEWER_TEXT = "Rules of the exchange, edition {n}. " * 10 + "Every key is bound to an IP allow-list."

OPERATION_REFUSED = OperationRefused


# What the examples went through (printed with -s): shows that the lives reach the interesting states.
SEEN: Counter[str] = Counter()


def note(what: str) -> None:
    event(what)
    SEEN[what] += 1


def _in(app, work):
    with app.app_context():
        try:
            return work()
        finally:
            db.session.remove()


def expected_reason(key: ApiKey, institution: Institution) -> str:
    """What the gateway must be told about a correctly signed request from TRADER_IP with this key, read
    from the database in the order the decision documents (key, institution, rules, addresses, scope)."""
    if key.status == "revoked":
        return "key_revoked"
    if key.status == "expired" or (key.expires_at is not None and key.expires_at <= utcnow()):
        return "key_expired"
    if key.status == "frozen":
        return "key_frozen"
    if institution.status == "frozen":
        return "institution_frozen"
    if institution.status != "active":
        return "institution_restricted"
    if not has_agreed_to_current(institution.id, API_USAGE):
        return "rules_not_agreed"
    grant = current_grant(institution.id)
    if grant is None:
        return "scope_not_granted"
    trader = ipaddress.ip_address(TRADER_IP)

    def inside(entries):
        return any(trader in ipaddress.ip_network(entry, strict=False) for entry in entries or [])

    if key.ip_allowlist and not (inside(key.ip_allowlist) and inside(grant.ip_allowlist)):
        return "ip_not_allowed"
    scope = needed_scope(key)
    if scope not in key.scopes or scope not in grant.scopes:
        return "scope_not_granted"
    return "ok"


def needed_scope(key: ApiKey) -> str:
    return "spot:trade" if "spot:trade" in key.scopes else "market:read"


def status_chain(events, first: str) -> list[str]:
    """The statuses a record went through according to its audit events (each event's `from` must be the
    status the one before it left)."""
    chain = [first]
    for move in events:
        assert move.details["from"] == chain[-1], (
            f"audit event #{move.id} {move.action} moves from {move.details['from']!r}, but the record was "
            f"{chain[-1]!r}: a status change went unrecorded")
        chain.append(move.details["to"])
    return chain


INSTITUTION_MOVES = ("institution.activated", "institution.frozen", "institution.reactivated",
                     "institution.restricted")


def live_keys(machine) -> bool:
    return any(status in ("active", "frozen") for status in machine.view["keys"].values())


class Lifecycle(RuleBasedStateMachine):
    """One example: institutions join (granted directly or through the full review), agree to rules, make
    and lose keys, get reported, frozen, reinstated or restricted, while admins publish newer rules."""

    staff_app = None
    gateway_app = None
    review_app = None

    def __init__(self):
        super().__init__()
        self.institutions: list[dict] = []  # {"id", "user_id"}
        self.keys: dict[int, dict] = {}  # key id -> {"api_key", "secret" | "private"}
        self.serial = 0
        self.applied = False
        self.published = 0
        self.address_changes = 0
        self.view = {"institutions": {}, "cases": {}, "keys": {}}

    # --- plumbing ------------------------------------------------------------------------------------

    def staff(self, work):
        return _in(self.staff_app, work)

    def gateway(self, work):
        return _in(self.gateway_app, work)

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def snapshot(self) -> dict:
        """Every status the invariants talk about, to show that a refused operation changed nothing."""
        return {
            "institutions": sorted(db.session.execute(select(Institution.id, Institution.status)).all()),
            "keys": sorted(db.session.execute(select(ApiKey.id, ApiKey.status, ApiKey.expires_at)).all()),
            "investigations": sorted(db.session.execute(select(Investigation.id, Investigation.status,
                                                               Investigation.assignee_id)).all()),
            "proposals": sorted(db.session.execute(select(DecisionProposal.id, DecisionProposal.status)).all()),
            "events": db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)),
        }

    def attempt(self, operation, name: str | None = None) -> bool:
        """Run one operation and commit; a refusal is rolled back and must leave everything as it was."""
        name = name or getattr(operation, "__name__", "operation")
        def work():
            before = self.snapshot()
            db.session.rollback()
            try:
                result = operation()
            except OPERATION_REFUSED as refused:
                assert refused.message, "a refusal says why"
                db.session.rollback()
                assert self.snapshot() == before, f"refused ({refused.message}) but something changed"
                note(f"{name}: refused: {refused.message[:70]}")
                return False
            db.session.commit()
            note(f"{name}: {result if isinstance(result, str) else 'done'}")
            return True

        try:
            return self.staff(work)
        finally:
            self.look()

    def look(self) -> None:
        """What the rules choose from next (read after every step): statuses, open cases and proposals."""
        def read():
            view = {"institutions": {}, "cases": {}, "keys": {}}
            for institution in self.institutions:
                row = db.session.get(Institution, institution["id"])
                view["institutions"][row.id] = (row.status, has_agreed_to_current(row.id, API_USAGE))
                case = self.open_case(row.id)
                if case is not None:
                    proposal = pending_proposal(case.id)
                    view["cases"][row.id] = {"status": case.status, "assignee": case.assignee_id,
                                             "proposed_by": proposal.proposed_by_id if proposal else None}
            now = utcnow()
            for key in db.session.scalars(select(ApiKey).where(ApiKey.id.in_(list(self.keys)))):
                due = key.status in ("active", "frozen") and key.expires_at is not None and key.expires_at <= now
                view["keys"][key.id] = "due" if due else key.status
            return view

        self.view = self.staff(read)

    def choose(self, data, eligible: list, everything: list, label: str):
        """Mostly something the operation applies to, sometimes anything (to see the refusals too)."""
        if eligible and data.draw(st.integers(0, 4), label=f"{label}: any") > 0:
            return data.draw(st.sampled_from(sorted(eligible)), label=label)
        return data.draw(st.sampled_from(sorted(everything)), label=label)

    def institution_by_id(self, ident: int) -> dict:
        return next(i for i in self.institutions if i["id"] == ident)

    def institution_user(self, institution: dict) -> User:
        return db.session.get(User, institution["user_id"])

    def open_case(self, institution_id: int) -> Investigation | None:
        return db.session.scalar(select(Investigation).where(Investigation.institution_id == institution_id,
                                                             Investigation.status.in_(UNRESOLVED)))

    # --- set-up --------------------------------------------------------------------------------------

    @initialize(with_application=st.integers(0, 2))
    def set_up(self, with_application):
        # The full application path costs seconds (checks, the approval letter): one life in three takes it.
        self.applied = with_application != 0
        def work():
            empty_all_tables()
            factories.publish_bundled_rules()
            team = factories.review_team()
            second = factories.make_staff("otto@exchange.example", "Otto Officer", ["compliance"])
            db.session.commit()
            self.team = {name: user.id for name, user in team.items()}
            self.officers = [team["compliance"].id, second.id]
        self.staff(work)
        self.look()

    # --- institutions and applications ---------------------------------------------------------------

    @precondition(lambda self: len(self.institutions) < 3)
    @rule(agree=st.booleans())
    def grant_an_institution(self, agree):
        """Staff grant access directly (scopes, tier, key limit, addresses) and activate the institution."""
        n = self.next_serial()

        def work():
            user = factories.granted_institution(f"desk{n}@firm{n}.example", f"Firm {n} Liquidity BV",
                                                 max_keys=3, agree=agree)
            return {"id": user.institution_id, "user_id": user.id}

        self.institutions.append(self.staff(work))
        self.look()

    @precondition(lambda self: not self.applied)
    @rule()
    def apply_and_be_approved(self):
        """The full path: a complete application, submitted with the rules agreed, documents accepted,
        qualified, and approved by a second person (the qualifier may not approve)."""
        self.applied = True

        def apply():
            user = factories.make_applicant("mm@northwind.example", "Northwind Liquidity Ltd")
            application = factories.complete_application(user)
            factories.submit(application, user)
            staff = {name: db.session.get(User, ident) for name, ident in self.team.items()}
            factories.accept_documents(db.session.get(Application, application.id), staff["documents"])
            factories.qualify(db.session.get(Application, application.id), staff["qualification"])
            application = db.session.get(Application, application.id)
            with pytest.raises(OperationRefused):
                review.claim(application, staff["qualification"])
                review.approve(application, staff["qualification"])
            db.session.rollback()
            application = db.session.get(Application, application.id)
            assert application.state == "pending_approval", "four eyes: the qualifier could not approve"
            if application.needs_compliance_signoff:  # e.g. linked to an institution restricted earlier
                with pytest.raises(OperationRefused, match="compliance officer must sign it off"):
                    factories.approve(application, staff["approver"])
                db.session.rollback()
                application = db.session.get(Application, application.id)
                review.compliance_signoff(application, "Link reviewed: a different firm.", staff["compliance"])
                db.session.commit()
                note("application: compliance sign-off needed")
            factories.approve(db.session.get(Application, application.id), staff["approver"])
            application = db.session.get(Application, application.id)
            assert application.state == "approved"
            assert db.session.get(Institution, application.institution_id).status == "active"
            return {"id": application.institution_id, "user_id": user.id}

        # In the app whose jobs run at once: the document checks move the submitted application on.
        self.institutions.append(_in(self.review_app, apply))
        self.look()

    @precondition(lambda self: any(not agreed for _, agreed in self.view["institutions"].values()))
    @rule(data=st.data())
    def agree_to_current_usage_rules(self, data):
        institutions = self.view["institutions"]
        institution = self.institution_by_id(self.choose(
            data, [i for i, (_, agreed) in institutions.items() if not agreed], list(institutions), "institution"))

        def agree():
            rules = current_rules(API_USAGE)
            record_agreement(rules=rules, shown_sha256=rules.sha256, institution_id=institution["id"],
                             user_id=institution["user_id"], application_id=None, signer_name="Morgan Maker",
                             signer_title="CEO", ip="203.0.113.5", user_agent="hypothesis")

        self.attempt(agree)

    # A few editions per life (or nobody ever keeps up), once keys exist: what matters is what a new
    # edition does to keys in use.
    @precondition(lambda self: self.published < 3 and live_keys(self))
    @rule(kind=st.sampled_from([API_USAGE, RISK_CONTROL]))
    def publish_newer_rules(self, kind):
        self.published += 1
        n = self.next_serial()
        self.attempt(lambda: publish_rules(kind, f"2027-{n:02d}", NEWER_TEXT.format(n=n), published_by="Alex Admin"),
                     f"publish {kind}")

    @precondition(lambda self: self.address_changes < 3
                  and any(status == "active" for status, _ in self.view["institutions"].values()))
    @rule(data=st.data(), addresses=st.sampled_from(NARROWER_LISTS), approve=st.booleans())
    def change_granted_addresses(self, data, addresses, approve):
        """The institution asks for other addresses; staff approve (a new grant) or decline."""
        self.address_changes += 1
        institutions = self.view["institutions"]
        institution = self.institution_by_id(self.choose(
            data, [i for i, (status, _) in institutions.items() if status == "active"], list(institutions),
            "institution"))

        def change():
            change = request_allowlist_change(db.session.get(Institution, institution["id"]), addresses=addresses,
                                              reason="Moving our servers.", user_id=institution["user_id"])
            decide_allowlist_change(change, approve=approve, note="Checked with the desk.",
                                    user_id=self.team["admin"])

        self.attempt(change)

    # --- keys ----------------------------------------------------------------------------------------

    @precondition(lambda self: ("active", True) in self.view["institutions"].values())
    @rule(data=st.data(), kind=st.sampled_from(["hmac", "ed25519"]), shape=st.sampled_from(sorted(KEY_SHAPES)))
    def create_a_key(self, data, kind, shape):
        institutions = self.view["institutions"]
        institution = self.institution_by_id(self.choose(
            data, [i for i, standing in institutions.items() if standing == ("active", True)], list(institutions),
            "institution"))
        scopes, allowlist = KEY_SHAPES[shape]
        private = Ed25519PrivateKey.generate() if kind == "ed25519" else None
        public = base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode() \
            if private else None
        issued = {}

        def create():
            key = create_key(db.session.get(Institution, institution["id"]), kind=kind, label=f"{shape} engine",
                             scopes=scopes, ip_allowlist=allowlist, public_key=public, user_id=institution["user_id"])
            issued.update(id=key.key.id, api_key=key.api_key, secret=key.secret, private=private)

        if self.attempt(create):
            self.keys[issued["id"]] = issued

    @precondition(lambda self: live_keys(self))
    @rule(data=st.data(), overlap_hours=st.sampled_from([0, 1, 24, 168]))
    def rotate_a_key(self, data, overlap_hours):
        keys = self.view["keys"]
        key_id = self.choose(data, [k for k, status in keys.items() if status == "active"], list(keys), "key")
        old = self.keys[key_id]
        private = Ed25519PrivateKey.generate() if old["private"] else None
        public = base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode() \
            if private else None
        issued = {}

        def rotate():
            key = db.session.get(ApiKey, key_id)
            successor = rotate_key(key, user_id=self.owner_of(key), overlap_hours=overlap_hours, public_key=public)
            issued.update(id=successor.key.id, api_key=successor.api_key, secret=successor.secret, private=private)

        if self.attempt(rotate):
            self.keys[issued["id"]] = issued

    def owner_of(self, key: ApiKey) -> int:
        return next(i["user_id"] for i in self.institutions if i["id"] == key.institution_id)

    @precondition(lambda self: live_keys(self))
    @rule(data=st.data(), by_staff=st.booleans())
    def revoke_a_key(self, data, by_staff):
        keys = self.view["keys"]
        key_id = self.choose(data, [k for k, status in keys.items() if status in ("active", "frozen")],
                             list(keys), "key")

        def revoke():
            key = db.session.get(ApiKey, key_id)
            revoke_key(key, user_id=self.team["admin"] if by_staff else self.owner_of(key),
                       reason="Leaked in a log file." if by_staff else None, by_staff=by_staff)

        self.attempt(revoke)

    @precondition(lambda self: live_keys(self))
    @rule(data=st.data())
    def let_a_key_reach_its_expiry(self, data):
        """Time passes for one key: its expiry date is now behind it (as tests/test_keys.py moves it)."""
        keys = self.view["keys"]
        key_id = self.choose(data, [k for k, status in keys.items() if status in ("active", "frozen")],
                             list(keys), "key")

        def work():
            key = db.session.get(ApiKey, key_id)
            key.expires_at = utcnow() - timedelta(seconds=1)
            db.session.commit()

        self.staff(work)
        self.look()

    @precondition(lambda self: "due" in self.view["keys"].values())
    @rule()
    def housekeeping_expires_due_keys(self):
        self.attempt(expire_due_keys)

    # --- enforcement ---------------------------------------------------------------------------------

    @precondition(lambda self: self.institutions)
    @rule(data=st.data(), impact=st.sampled_from(IMPACTS), malicious=st.booleans(), name_a_key=st.booleans())
    def surveillance_reports_a_violation(self, data, impact, malicious, name_a_key):
        institutions = self.view["institutions"]
        # Mostly an active institution (a new case); a frozen one adds a report to its unresolved case.
        institution = self.institution_by_id(self.choose(
            data, [i for i, (status, _) in institutions.items() if status in ("active", "frozen")],
            list(institutions), "institution"))
        n = self.next_serial()

        def report():
            key = db.session.scalar(select(ApiKey.public_id).where(ApiKey.institution_id == institution["id"])
                                    .limit(1)) if name_a_key else None
            report_violation(Report(
                institution_id=None if key else institution["id"], key_public_id=key,
                category="unauthorized_bot_trading", observed_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
                market_impact=impact, malicious=malicious, evidence_text="Order bursts every 3 ms.",
                evidence={"orders": 1200}, reference=f"SURV-{n}"), reporter="token:surveillance")

        self.attempt(report)

    @precondition(lambda self: any(case["status"] == "open" and not case["proposed_by"]
                                   for case in self.view["cases"].values()))
    @rule(data=st.data(), outcome=st.sampled_from(["dismiss", "reinstatable", "restrict"]))
    def compliance_decides(self, data, outcome):
        """An officer claims the open case (if nobody has) and decides; a decision against the default
        outcome becomes a proposal for the other officer."""
        cases = self.view["cases"]
        undecided = [i for i, case in cases.items() if case["status"] == "open" and case["proposed_by"] is None]
        institution = self.institution_by_id(self.choose(data, undecided, list(cases), "institution"))
        assignee = cases[institution["id"]]["assignee"]
        officer = self.choose(data, [assignee] if assignee else [], self.officers, "officer")

        def decide():
            case = self.open_case(institution["id"])
            user = db.session.get(User, officer)
            if case.assignee_id is None and case.status == "open":
                decisions.claim_investigation(case, user)
            operation = {"dismiss": decisions.dismiss, "reinstatable": decisions.offer_reinstatement,
                         "restrict": decisions.restrict}[outcome]
            return f"{outcome} -> " + operation(case, "Reviewed the order log with the desk.", user)

        self.attempt(decide)

    @precondition(lambda self: any(case["proposed_by"] for case in self.view["cases"].values()))
    @rule(data=st.data(), confirm=st.booleans())
    def second_officer_answers(self, data, confirm):
        cases = self.view["cases"]
        institution = self.institution_by_id(data.draw(st.sampled_from(
            sorted(i for i, case in cases.items() if case["proposed_by"])), label="institution"))
        proposer = cases[institution["id"]]["proposed_by"]
        officer = self.choose(data, [o for o in self.officers if o != proposer], self.officers, "officer")

        def answer():
            case = self.open_case(institution["id"])
            user = db.session.get(User, officer)
            if confirm:
                return "confirmed " + decisions.confirm_proposal(case, user)
            decisions.send_back(case, "Look at the earlier case first.", user)
            return "sent back"

        self.attempt(answer)

    @precondition(lambda self: any(case["status"] == "awaiting_agreement" for case in self.view["cases"].values()))
    @rule(data=st.data())
    def institution_agrees_to_risk_control_rules(self, data):
        cases = self.view["cases"]
        institution = self.institution_by_id(self.choose(
            data, [i for i, case in cases.items() if case["status"] == "awaiting_agreement"], list(cases),
            "institution"))

        def reinstate():
            case = self.open_case(institution["id"])
            rules = current_rules(RISK_CONTROL)
            decisions.reinstate(case, user=self.institution_user(institution), rules_version_id=rules.id,
                                shown_sha256=rules.sha256, signer_name="Morgan Maker", signer_title="CEO",
                                ip="203.0.113.5", user_agent="hypothesis")

        self.attempt(reinstate)

    # --- invariants ----------------------------------------------------------------------------------

    @invariant()
    def keys_follow_their_institution(self):
        def check():
            for key in db.session.scalars(select(ApiKey)):
                institution = db.session.get(Institution, key.institution_id)
                if key.status == "active":
                    assert institution.status == "active", (
                        f"key {key.public_id} is active but its institution is {institution.status}")
                if institution.status == "restricted":
                    assert key.status not in ("active", "frozen"), (
                        f"restricted institution {institution.id} still holds {key.status} key {key.public_id}")
        if self.staff_app is not None:
            self.staff(check)

    @invariant()
    def every_status_change_has_its_audit_event(self):
        def check():
            events = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
            for institution in db.session.scalars(select(Institution)):
                moves = [e for e in events if e.action in INSTITUTION_MOVES and e.subject_id == str(institution.id)]
                assert status_chain(moves, "prospect")[-1] == institution.status, (
                    f"institution {institution.id} is {institution.status} but its audit events do not say so")
            for key in db.session.scalars(select(ApiKey)):
                created = [e for e in events if e.action == "key.created" and e.details.get("key") == key.public_id]
                assert len(created) == 1, f"key {key.public_id} has {len(created)} creation events"
                moves = [e for e in events if e.action.startswith("key.") and "to" in e.details
                         and e.details.get("key") == key.public_id]
                assert status_chain(moves, "active")[-1] == key.status, (
                    f"key {key.public_id} is {key.status} but its audit events do not say so")
            for case in db.session.scalars(select(Investigation)):
                if case.status != "open":
                    assert any(e.action == f"investigation.{case.status}"
                               and e.details.get("investigation_id") == case.id for e in events), (
                        f"investigation {case.id} is {case.status} without its audit event")
            for case in db.session.scalars(select(Investigation).where(
                    Investigation.status.in_(("awaiting_agreement", "reinstated", "dismissed")))):
                latest = db.session.scalar(select(func.max(Violation.reported_at))
                                           .where(Violation.investigation_id == case.id))
                assert latest is None or latest <= case.decided_at, (
                    f"investigation {case.id} is {case.status} with a report made after compliance decided")
            for application in db.session.scalars(select(Application)):
                if application.state == "approved":
                    assert any(e.action == "application.approve" and e.subject_id == str(application.id)
                               for e in events)
        if self.staff_app is not None:
            self.staff(check)

    @invariant()
    def the_gateway_is_told_what_the_database_says(self):
        if self.staff_app is None or not self.keys:
            return

        def expected():
            answers = {}
            for key in db.session.scalars(select(ApiKey).where(ApiKey.id.in_(list(self.keys)))):
                answers[key.id] = (expected_reason(key, db.session.get(Institution, key.institution_id)),
                                   needed_scope(key), key.public_id)
            return answers

        wanted = self.staff(expected)

        def asked():
            told = {}
            for key_id, (_, scope, _) in wanted.items():
                key = self.keys[key_id]
                if scope == "spot:trade":
                    query = signed(ORDER, secret=key["secret"], private=key["private"])
                    decision = ask(key["api_key"], query)
                else:
                    query = signed(MARKET_DATA, secret=key["secret"], private=key["private"])
                    decision = ask(key["api_key"], query, method="GET", path="/api/v3/depth")
                told[key_id] = decision
            return told

        told = self.gateway(asked)
        for key_id, (reason, _, public_id) in wanted.items():
            decision = told[key_id]
            assert decision.reason == reason, f"key {public_id}: the database says {reason}, authorize said " \
                                              f"{decision.reason}"
            assert decision.allowed == (reason == "ok")
            note(f"authorize: {reason}")

        def usable_keys_are_in_good_standing():
            for key_id, decision in told.items():
                if decision.allowed:
                    key = db.session.get(ApiKey, key_id)
                    institution = db.session.get(Institution, key.institution_id)
                    assert institution.status == "active" and has_agreed_to_current(institution.id, API_USAGE)

        self.staff(usable_keys_are_in_good_standing)

    def teardown(self):
        if self.staff_app is None:
            return

        def check():
            report = verify_chain()
            assert report.ok, report.problem

        self.staff(check)


UNWORKED_QUEUE = "lifecycle-not-worked"


@pytest.fixture()
def lifecycle(make_app, redis_server, tmp_path, monkeypatch):
    """The machine class bound to its apps on the test database and a real Redis: `staff_app` where the
    operations run, `gateway_app` that answers authorize, `review_app` for the application path."""
    # Accounts are only scaffolding here: cheap argon2 parameters keep each example quick.
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    documents = str(tmp_path / "documents")
    # The operations' side effects (e-mails, PDF notices) are jobs in the outbox, tested elsewhere: here they
    # go to a queue no worker takes, which keeps each step at the cost of its transaction.
    staff_app = make_app(REDIS_URL=redis_server.url, DOCUMENTS_DIR=documents, JOBS_EAGER=False,
                         RQ_QUEUE=UNWORKED_QUEUE)
    gateway_app = make_app(REDIS_URL=redis_server.url, DOCUMENTS_DIR=documents)
    review_app = make_app(REDIS_URL=redis_server.url, DOCUMENTS_DIR=documents)
    _in(gateway_app, flush_usage)

    class Bound(Lifecycle):
        pass

    Bound.staff_app, Bound.gateway_app, Bound.review_app = staff_app, gateway_app, review_app
    yield Bound
    Queue(UNWORKED_QUEUE, connection=Redis.from_url(redis_server.url)).empty()


def test_the_whole_lifecycle_keeps_its_invariants(lifecycle):
    SEEN.clear()
    run_state_machine_as_test(lifecycle, settings=LIFECYCLE)
    print("\nwhat the lives went through:", *(f"  {count:4d}  {what}" for what, count in sorted(SEEN.items())),
          sep="\n")
    # Only what every run reaches is asserted (which deeper states a run reaches varies with its examples).
    for reached in ("authorize: ok", "create: done", "report: done"):
        assert SEEN[reached], f"no example reached {reached}: the rules no longer drive the lives far enough"


# --- what the machine found, as plain tests ------------------------------------------------------------


def test_a_read_only_key_can_be_rotated_again_and_its_successors_keep_its_expiry(app):
    """Found by the machine: a key without an allow-list (read-only, 90 days) was rotated, then its
    successor rotated, and that second rotation was refused with “The expiry can be at most 90 days ahead
    for a key without an IP allow-list” (a field the rotation form does not have): each successor's expiry
    went through a date again and moved to the end of that day."""
    user = factories.granted_institution()
    institution = db.session.get(Institution, user.institution_id)
    first = create_key(institution, kind="hmac", label="market data", scopes=["market:read"], ip_allowlist=[],
                       user_id=user.id)
    db.session.commit()
    expiry = first.key.expires_at
    assert timedelta(days=89) < expiry - utcnow() <= timedelta(days=90)
    current = first
    for _ in range(3):
        current = rotate_key(db.session.get(ApiKey, current.key.id), user_id=user.id, overlap_hours=1)
        db.session.commit()
        assert db.session.get(ApiKey, current.key.id).expires_at == expiry, "the successor expires with its key"
    assert ask(current.api_key, signed(MARKET_DATA, secret=current.secret), method="GET",
               path="/api/v3/depth").reason == "ok"


def test_a_successor_keeps_the_expiry_chosen_for_a_key_with_an_allow_list(app):
    """Rotating a trading key the institution gave an end date made a successor that never expired."""
    user = factories.granted_institution()
    institution = db.session.get(Institution, user.institution_id)
    chosen = (utcnow() + timedelta(days=200)).date()
    issued = create_key(institution, kind="hmac", label="quoting", scopes=["market:read", "spot:trade"],
                        ip_allowlist=["203.0.113.10"], expires_on=chosen, user_id=user.id)
    db.session.commit()
    expiry = issued.key.expires_at
    assert expiry.date() == chosen + timedelta(days=1), "valid through the chosen day"
    successor = rotate_key(db.session.get(ApiKey, issued.key.id), user_id=user.id, overlap_hours=24)
    db.session.commit()
    assert db.session.get(ApiKey, successor.key.id).expires_at == expiry


def test_a_report_arriving_while_reinstatement_waits_goes_back_to_compliance(app):
    """A first, minor case is offered reinstatement; before the institution agrees, surveillance reports
    malicious activity with significant impact. That report joined the waiting case, and the institution's
    own agreement to the risk-control rules then unfroze everything: no compliance officer ever decided
    on it. The case now opens again for compliance, and the institution cannot clear it by agreeing."""
    from .test_enforcement import claimed, frozen_case, officer, report

    user = factories.granted_institution()
    issued, recorded = frozen_case(user)
    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    decisions.offer_reinstatement(investigation, "Did not understand the bot rules; minor impact.", cora)
    db.session.commit()
    report_violation(report(user.institution_id, reference="SURV-2", market_impact="significant", malicious=True),
                     reporter="token:test")
    db.session.commit()
    investigation = db.session.get(Investigation, investigation.id)
    assert investigation.status == "open", "the new report is for compliance to decide"
    rules = current_rules(RISK_CONTROL)
    with pytest.raises(OperationRefused, match="Nothing is waiting for your agreement"):
        decisions.reinstate(investigation, user=db.session.get(User, user.id), rules_version_id=rules.id,
                            shown_sha256=rules.sha256, signer_name="Morgan Maker", signer_title="CEO",
                            ip="203.0.113.5", user_agent="pytest")
    db.session.rollback()
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "key_frozen"
    assert db.session.get(Institution, user.institution_id).status == "frozen"
    reopened = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "investigation.reopened")).all()
    assert [event.details["investigation_id"] for event in reopened] == [investigation.id]
    assert decisions.default_outcome(investigation) == "restrict", "the new report rules out the first-offence outcome"
