"""Demo data for a newcomer's first look. Idempotent: running it again changes nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from flask import current_app
from sqlalchemy import select

from .accounts.models import STAFF_ROLES
from .accounts.operations import create_staff, find_user_by_email, register_applicant, set_totp_secret
from .agreements.models import API_USAGE
from .agreements.operations import current_rules, publish_bundled_rules
from .applications import operations as ops
from .applications.models import CHECKING, PERSON, Application
from .checks.runner import run_application_checks
from .db import db, utcnow
from .documents.models import Document
from .documents.operations import upload_document
from .documents.requirements import required_documents
from .enforcement import decisions as enforcement
from .enforcement.intake import Report, report_violation
from .institutions.models import Institution
from .keys.models import ED25519, HMAC
from .keys.operations import create_key
from .keys.queries import keys_of
from .review import operations as review
from .screening.lists import current_snapshot, import_list
from .screening.models import LinkSignal

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 (printed for the demo on purpose)

# Fixed, public TOTP secrets so the demo can be signed into from any authenticator app.
DEMO_STAFF = [
    ("documents@demo.example", "Dana Document", ["document_reviewer"], "DEMODOCSJBSWY3DPEHPK3PXPQRSTUVWX"),
    ("qualification@demo.example", "Quinn Qualify", ["qualification_reviewer"], "DEMOQUALJBSWY3DPEHPK3PXPQRSTUVWX"),
    ("approver@demo.example", "Avery Approver", ["approver"], "DEMOAPPRJBSWY3DPEHPK3PXPQRSTUVWX"),
    ("compliance@demo.example", "Casey Compliance", ["compliance"], "DEMOCOMPJBSWY3DPEHPK3PXPQRSTUVWX"),
    # A second officer: a compliance decision against the default outcome needs another one to confirm it.
    ("compliance2@demo.example", "Cameron Compliance", ["compliance"], "DEMOCMP2JBSWY3DPEHPK3PXPQRSTUVWX"),
    ("admin@demo.example", "Alex Admin", ["admin"], "DEMOADMNJBSWY3DPEHPK3PXPQRSTUVWX"),
]
DEMO_APPLICANT = ("applicant@demo.example", "Morgan Maker", "Northwind Liquidity Ltd")
# Further institutions whose applications show the system at work.
DEMO_INSTITUTIONS = [
    # e-mail, name, legal name, jurisdiction, what to do with the application
    ("ops@aurora-markets.example", "Ari Aurora", "Aurora Markets GmbH", "DE", "submit"),
    ("kyc@borealis-trading.example", "Bo Borealis", "Borealis Trading SA", "CH", "draft"),
    ("desk@cirrus-mm.example", "Cy Cirrus", "Cirrus Market Making Ltd", "GB", "qualification"),
    ("ops@delta-quant.example", "Del Delta", "Delta Quant Trading Pte Ltd", "SG", "approval"),
    ("treasury@evergreen-liquidity.example", "Eve Evergreen", "Evergreen Liquidity BV", "NL", "approved"),
]
STAGE_LABELS = {
    "draft": "application in draft", "submit": "application in document review (with a sanctions hit)",
    "qualification": "application in qualification review", "approval": "application pending approval",
    "approved": "approved, with its approval letter",
}


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    label: str
    totp_secret: str | None = None


def seed_demo() -> list[DemoAccount]:
    publish_bundled_rules()
    import_demo_lists()
    accounts: list[DemoAccount] = []
    for email, name, roles, secret in DEMO_STAFF:
        user = find_user_by_email(email)
        if user is None:
            user = create_staff(email=email, full_name=name, password=DEMO_PASSWORD, roles=roles)
            set_totp_secret(user, secret)
            user.totp_enrolled_at = utcnow()
        accounts.append(DemoAccount(email, DEMO_PASSWORD, ", ".join(STAFF_ROLES[r] for r in roles), secret))
    for email, name, legal_name, jurisdiction, stage in DEMO_INSTITUTIONS:
        if find_user_by_email(email) is None:
            user = register_applicant(email=email, password=DEMO_PASSWORD, full_name=name, legal_name=legal_name,
                                      ip="127.0.0.1", send_verification=False)
            user.email_verified_at = utcnow()
            db.session.flush()
            build_demo_application(user, legal_name, jurisdiction, stage)
        accounts.append(DemoAccount(email, DEMO_PASSWORD, f"Applicant at {legal_name}, {STAGE_LABELS[stage]}"))
    email, name, legal_name = DEMO_APPLICANT
    if find_user_by_email(email) is None:
        user = register_applicant(email=email, password=DEMO_PASSWORD, full_name=name, legal_name=legal_name,
                                  ip="127.0.0.1", send_verification=False)
        user.email_verified_at = utcnow()
    accounts.append(DemoAccount(email, DEMO_PASSWORD, f"Applicant at {legal_name}, no application yet"))
    accounts += seed_enforcement_demo()
    db.session.flush()
    return accounts


def import_demo_lists() -> None:
    """The bundled OFAC and UN samples, when no list of that source was imported yet."""
    folder = files("onboarding.screening").joinpath("demo_lists")
    for source, path in (("ofac-sdn", folder / "ofac-sample"), ("un-xml", folder / "un-sample" / "consolidated.xml")):
        if current_snapshot(source) is None:
            import_list(source, str(path), actor_label="seed-demo")


# --- demo applications -------------------------------------------------------------------------


def document_pdf(title: str) -> bytes:
    """A real one-page PDF with a title, made with Pillow (no external tools)."""
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (620, 877), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    draw.text((60, 80), title, fill=(20, 30, 50))
    draw.line((60, 100, 560, 100), fill=(120, 130, 140))
    buffer = io.BytesIO()
    page.save(buffer, "PDF", title=title)
    return buffer.getvalue()


def identity_jpeg(size: tuple[int, int] = (800, 500), name: str = "") -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (210, 225, 240))
    if name:  # one photo per person: the same file in two slots is flagged as reuse
        ImageDraw.Draw(image).text((40, 40), name, fill=(20, 30, 50))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def upload_every_document(application, user) -> None:
    """Fill every document slot with a generated file dated 30 days ago."""
    today = date.today()
    for requirement in required_documents(application):
        identity = requirement.kind.needs_expiry
        upload_document(
            application, requirement.key,
            stream=io.BytesIO(identity_jpeg(name=requirement.subject) if identity
                              else document_pdf(requirement.kind.label if requirement.party is None
                                                else f"{requirement.kind.label}: {requirement.subject}")),
            filename="passport.jpg" if identity else f"{requirement.kind.kind}.pdf",
            issue_date=today - timedelta(days=30), expiry_date=today + timedelta(days=3650) if identity else None,
            user_id=user.id,
        )


def build_demo_application(user, legal_name: str, jurisdiction: str, stage: str, *,
                           referred_by: int | None = None) -> None:
    """A draft half-filled ('draft') or a complete, submitted application ('submit'). `referred_by`: the
    institution whose referral code the application names; its link signals to it are confirmed."""
    application = ops.start_application(user)
    ops.save_company(application, {
        "referred_by_institution_id": referred_by,
        "legal_name": legal_name, "trading_names": [legal_name.split()[0]], "registration_number": "HRB 123456",
        "jurisdiction": jurisdiction, "incorporation_date": date(2018, 6, 1), "lei": None,
        "registered_address": "Example Street 1, 10115 City", "business_address": "Example Street 1, 10115 City",
        "website": None, "is_regulated": False, "regulator": None, "licence_number": None,
    }, complete=True)
    if stage == "draft":
        return
    founder = ops.add_party(application, PERSON, {
        "name": user.full_name, "date_of_birth": date(1982, 4, 12), "nationality": jurisdiction,
        "residence": jurisdiction, "is_director": True, "is_signatory": True, "title": "Managing Director"})
    ops.add_holding(application, founder, None, Decimal(100))
    if stage == "submit":
        # A director whose name and birth date are on the OFAC sample list: the demo has a hit to review.
        ops.add_party(application, PERSON, {
            "name": "Elvis Angus Logan Morey", "date_of_birth": date(1963, 7, 28), "nationality": "BZ",
            "residence": "BZ", "is_director": True, "title": "Non-executive director"})
    ops.mark_ownership_saved(application, True)
    ops.save_profile(application, {
        "mm_experience_years": 4, "mm_venues": ["Venue A", "Venue B"], "volume_30d_usd": 900_000_000,
        "capital_usd": 20_000_000, "pairs": ["BTC/EUR", "ETH/EUR"], "max_spread_bps": Decimal("20"),
        "min_depth_usd": 100_000, "uptime_pct": Decimal("90"), "expected_order_rate": 50,
        "requested_scopes": ["market:read", "account:read", "spot:trade"], "ip_allowlist": demo_allowlist(),
    }, complete=True)
    upload_every_document(application, user)
    ops.mark_documents_saved(application, True)
    rules = current_rules(API_USAGE)
    ops.submit_application(application, user, signer_name=user.full_name, signer_title="Managing Director",
                           rules_version_id=rules.id, shown_sha256=rules.sha256, ip="127.0.0.1",
                           user_agent="seed-demo")
    if stage in ("qualification", "approval", "approved"):
        review_demo_application(application.id, stage, linked_to=referred_by)


def demo_allowlist() -> list[str]:
    """The demo desk's addresses; in development also this machine, so the example client's requests
    through the local gateway come from an allowed address."""
    local = ["127.0.0.1"] if current_app.config["APP_ENV"] == "development" else []
    return ["198.51.100.0/28", *local]


# --- demo API keys ---------------------------------------------------------------------------------


@dataclass
class DemoKeys:
    institution: str
    hmac_key: str
    hmac_secret: str
    ed25519_key: str
    ed25519_private_key_file: str


APPROVED_DEMO_APPLICANT = next(email for email, *_, stage in DEMO_INSTITUTIONS if stage == "approved")


def create_demo_keys(email: str) -> DemoKeys | None:
    """Two keys for the approved demo institution (when it has none): an HMAC trading key and a read-only
    Ed25519 key, whose private key is written next to the database. Returns what to print, once."""
    user = find_user_by_email(email)
    institution = db.session.get(Institution, user.institution_id) if user else None
    if institution is None or institution.status != "active" or keys_of(institution.id):
        return None
    addresses = [a for a in demo_allowlist() if "/" not in a] + ["198.51.100.1"]
    hmac_issued = create_key(institution, kind=HMAC, label="Quoting engine (demo)",
                             scopes=["market:read", "account:read", "spot:trade"], ip_allowlist=addresses,
                             user_id=user.id)
    private = Ed25519PrivateKey.generate()
    pem_path = Path(current_app.instance_path) / "demo-ed25519-private-key.pem"
    pem_path.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    pem_path.chmod(0o600)
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    ed_issued = create_key(institution, kind=ED25519, label="Market data (demo, read-only)", scopes=["market:read"],
                           ip_allowlist=addresses, public_key=public, user_id=user.id)
    return DemoKeys(institution.legal_name, hmac_issued.api_key, hmac_issued.secret, ed_issued.api_key,
                    str(pem_path))


def review_demo_application(application_id: int, stage: str, linked_to: int | None = None) -> None:
    """Take a submitted demo application through review by the demo staff, up to `stage`."""
    db.session.commit()  # the checks (run in-process, or by a worker) need the submission committed
    if db.session.get(Application, application_id).state == CHECKING:
        run_application_checks(application_id)
    application = db.session.get(Application, application_id)
    staff = {email.split("@")[0]: find_user_by_email(email) for email, *_ in DEMO_STAFF}
    dana, quinn, avery = staff["documents"], staff["qualification"], staff["approver"]
    review.claim(application, dana)
    for document in db.session.scalars(select(Document).where(Document.application_id == application.id)):
        review.decide_document(application, document, "accepted", None, None, dana)
    for signal in db.session.scalars(select(LinkSignal).where(LinkSignal.application_id == application.id)):
        if signal.other_institution_id == linked_to:
            # The demo's self-referral: the firm that referred this one is the same firm.
            review.review_signal(application, signal, "confirmed", "Same registration and signup address as the "
                                 "referring firm: one firm behind both.", dana)
            continue
        # The demo institutions all signed up from the seeding machine's address.
        review.review_signal(application, signal, "dismissed", "Demo data: same seeding machine, unrelated firms.",
                             dana)
    review.accept_documents(application, dana)
    if stage == "qualification":
        return
    review.claim(application, quinn)
    scores = {code: (4, "Meets the programme's expectations.") for code in
              ("experience", "volume", "capital", "obligations", "order_rate", "regulatory")}
    review.qualify(application, scores=scores, granted_scopes=["market:read", "account:read", "spot:trade"],
                   rate_tier="professional", max_keys=10, summary="Established desk.", user=quinn)
    if stage == "approval":
        return
    review.claim(application, avery)
    review.approve(application, avery)


# --- enforcement and referrals ---------------------------------------------------------------------

# Approved institutions that then break the rules: (e-mail, name, legal name, jurisdiction, case).
DEMO_ENFORCEMENT = [
    ("desk@harbour-arbitrage.example", "Hana Harbour", "Harbour Arbitrage Ltd", "GB", "frozen"),
    ("ops@keel-markets.example", "Kai Keel", "Keel Markets SA", "FR", "reinstatable"),
    ("trading@ridge-capital.example", "Rhea Ridge", "Ridge Capital GmbH", "AT", "restricted"),
]
# A firm referred by Evergreen Liquidity BV that turns out to be Evergreen itself: held for compliance.
DEMO_SELF_REFERRAL = ("desk@evergreen-markets.example", "Evan Evergreen", "Evergreen Markets Ltd", "IE")
ENFORCEMENT_LABELS = {
    "frozen": "frozen, an investigation open", "reinstatable": "frozen, reinstatement offered: agree to the rules",
    "restricted": "permanently restricted",
}
DEMO_REPORTS = {
    # category, market impact, malicious, evidence
    "frozen": ("unauthorized_bot_trading", "minor", False, "Order bursts every 3 ms on BTC/EUR from an unregistered "
               "engine.", {"orders": 1200, "venue": "BTC/EUR", "window_seconds": 4}),
    "reinstatable": ("rate_limit_abuse", "none", False, "40,000 requests per second against the order book "
                     "endpoint for 2 minutes.", {"peak_rps": 40000}),
    "restricted": ("malicious_arbitrage", "significant", True, "Latency arbitrage against stale quotes; "
                   "coordinated with a second account.", {"pnl_eur": 182000, "trades": 5400}),
}


def seed_enforcement_demo() -> list[DemoAccount]:
    """The self-referral first: once an institution is restricted, every later demo application (all share a
    registration number and the seeding machine's address) would be linked to it and wait for a sign-off."""
    accounts = []
    email, name, legal_name, jurisdiction = DEMO_SELF_REFERRAL
    referrer = find_user_by_email(APPROVED_DEMO_APPLICANT)
    if find_user_by_email(email) is None and referrer is not None:
        user = register_applicant(email=email, password=DEMO_PASSWORD, full_name=name, legal_name=legal_name,
                                  ip="127.0.0.1", send_verification=False)
        user.email_verified_at = utcnow()
        db.session.flush()
        build_demo_application(user, legal_name, jurisdiction, "approved", referred_by=referrer.institution_id)
    accounts.append(DemoAccount(email, DEMO_PASSWORD,
                                f"Applicant at {legal_name}, a self-referral held for compliance"))
    compliance = find_user_by_email("compliance@demo.example")
    for email, name, legal_name, jurisdiction, case in DEMO_ENFORCEMENT:
        user = find_user_by_email(email)
        if user is None:
            user = register_applicant(email=email, password=DEMO_PASSWORD, full_name=name, legal_name=legal_name,
                                      ip="127.0.0.1", send_verification=False)
            user.email_verified_at = utcnow()
            db.session.flush()
            build_demo_application(user, legal_name, jurisdiction, "approved")
            report_demo_violation(user, case, compliance)
        accounts.append(DemoAccount(email, DEMO_PASSWORD, f"Applicant at {legal_name}, {ENFORCEMENT_LABELS[case]}"))
    return accounts


def report_demo_violation(user, case: str, compliance) -> None:
    """Surveillance reports the institution; compliance takes the case as far as `case`."""
    category, impact, malicious, text, evidence = DEMO_REPORTS[case]
    recorded = report_violation(Report(
        institution_id=user.institution_id, key_public_id=None, category=category,
        observed_at=utcnow() - timedelta(hours=6), market_impact=impact, malicious=malicious, evidence_text=text,
        evidence=evidence, reference=f"DEMO-{user.institution_id}"), reporter="token:demo-surveillance")
    if case == "frozen":
        return
    enforcement.claim_investigation(recorded.investigation, compliance)
    if case == "reinstatable":
        enforcement.offer_reinstatement(recorded.investigation, "First violation; the desk misread the rate limits.",
                                        compliance)
    else:
        enforcement.restrict(recorded.investigation, "Malicious arbitrage with significant market impact.",
                             compliance)
