"""Demo data for a newcomer's first look. Idempotent: running it again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from .accounts.models import STAFF_ROLES
from .accounts.operations import create_staff, find_user_by_email, register_applicant, set_totp_secret
from .db import db, utcnow

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 (printed for the demo on purpose)

# Fixed, public TOTP secrets so the demo can be signed into from any authenticator app.
DEMO_STAFF = [
    ("documents@demo.example", "Dana Document", ["document_reviewer"], "DEMODOCSJBSWY3DPEHPK3PXPQRSTUVWX"),
    ("qualification@demo.example", "Quinn Qualify", ["qualification_reviewer"], "DEMOQUALJBSWY3DPEHPK3PXPQRSTUVWX"),
    ("approver@demo.example", "Avery Approver", ["approver"], "DEMOAPPRJBSWY3DPEHPK3PXPQRSTUVWX"),
    ("compliance@demo.example", "Casey Compliance", ["compliance"], "DEMOCOMPJBSWY3DPEHPK3PXPQRSTUVWX"),
    ("admin@demo.example", "Alex Admin", ["admin"], "DEMOADMNJBSWY3DPEHPK3PXPQRSTUVWX"),
]
DEMO_APPLICANT = ("applicant@demo.example", "Morgan Maker", "Northwind Liquidity Ltd")


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    label: str
    totp_secret: str | None = None


def seed_demo() -> list[DemoAccount]:
    from .agreements.operations import publish_bundled_rules

    publish_bundled_rules()
    accounts: list[DemoAccount] = []
    for email, name, roles, secret in DEMO_STAFF:
        user = find_user_by_email(email)
        if user is None:
            user = create_staff(email=email, full_name=name, password=DEMO_PASSWORD, roles=roles)
            set_totp_secret(user, secret)
            user.totp_enrolled_at = utcnow()
        accounts.append(DemoAccount(email, DEMO_PASSWORD, ", ".join(STAFF_ROLES[r] for r in roles), secret))
    email, name, legal_name = DEMO_APPLICANT
    if find_user_by_email(email) is None:
        user = register_applicant(email=email, password=DEMO_PASSWORD, full_name=name, legal_name=legal_name,
                                  ip="127.0.0.1", send_verification=False)
        user.email_verified_at = utcnow()
    accounts.append(DemoAccount(email, DEMO_PASSWORD, f"Applicant at {legal_name}"))
    db.session.flush()
    return accounts
