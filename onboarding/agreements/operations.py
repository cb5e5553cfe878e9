"""Publishing rule versions and recording agreements."""

from __future__ import annotations

import hashlib
from importlib.resources import files

from sqlalchemy import select

from ..audit.operations import record
from ..db import db
from ..errors import OperationRefused
from .models import RULE_KINDS, Agreement, RuleVersion


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_rules(kind: str) -> RuleVersion | None:
    """The most recently published version of a rule document."""
    return db.session.scalar(
        select(RuleVersion).where(RuleVersion.kind == kind).order_by(RuleVersion.id.desc()).limit(1)
    )


def publish_rules(kind: str, version: str, text: str, *, published_by: str = "system") -> tuple[RuleVersion, bool]:
    """Publish a new version. Returns (version, created). Publishing the same text under the same
    version again is a no-op; a different text under an existing version number is refused."""
    if kind not in RULE_KINDS:
        raise OperationRefused(f"Unknown rule kind {kind!r}; use one of {', '.join(RULE_KINDS)}.")
    text = text.replace("\r\n", "\n").strip() + "\n"
    if len(text.strip()) < 50:
        raise OperationRefused("The rule text is too short to be a real rule document.")
    version = version.strip()
    if not version:
        raise OperationRefused("Give the version a name, for example 2026-11 or 1.0.")
    digest = text_digest(text)
    existing = db.session.scalar(select(RuleVersion).where(RuleVersion.kind == kind, RuleVersion.version == version))
    if existing is not None:
        if existing.sha256 == digest:
            return existing, False
        raise OperationRefused(
            f"{RULE_KINDS[kind]} version {version} is already published with a different text. "
            "Publish the change under a new version."
        )
    rules = RuleVersion(kind=kind, version=version, text=text, sha256=digest, published_by=published_by)
    db.session.add(rules)
    db.session.flush()
    record("rules.published", "rule_version", rules.id, {"kind": kind, "version": version, "sha256": digest},
           actor_label=published_by if published_by != "system" else None)
    return rules, True


def record_agreement(
    *, rules: RuleVersion, shown_sha256: str, institution_id: int, user_id: int, application_id: int | None,
    signer_name: str, signer_title: str, ip: str, user_agent: str,
) -> Agreement:
    """Record agreement to the text that was shown. The page sends back the digest of the text it
    showed; if the rules changed in between, the person must read the new text first."""
    latest = current_rules(rules.kind)
    if latest is None or latest.id != rules.id or shown_sha256 != rules.sha256:
        raise OperationRefused(
            f"The {RULE_KINDS[rules.kind]} were updated while you were reading them. "
            "Read the current version below and agree again.",
            field="agree",
        )
    agreement = Agreement(
        institution_id=institution_id, user_id=user_id, application_id=application_id, rule_version_id=rules.id,
        kind=rules.kind, version=rules.version, text_sha256=rules.sha256, signer_name=signer_name.strip(),
        signer_title=signer_title.strip(), ip=ip, user_agent=(user_agent or "")[:500],
    )
    db.session.add(agreement)
    db.session.flush()
    record("agreement.recorded", "institution", institution_id, {
        "agreement_id": agreement.id, "kind": rules.kind, "version": rules.version, "sha256": rules.sha256,
        "signer_name": agreement.signer_name, "signer_title": agreement.signer_title,
        "application_id": application_id,
    })
    return agreement


def has_agreed_to_current(institution_id: int, kind: str) -> bool:
    latest = current_rules(kind)
    if latest is None:
        return False
    return db.session.scalar(
        select(Agreement.id).where(Agreement.institution_id == institution_id, Agreement.rule_version_id == latest.id)
        .limit(1)
    ) is not None


BUNDLED_TEXTS = {
    # kind: (version, file) published by the demo data; later versions are published by admins.
    "api-usage": ("2026-11", "api-usage-2026-11.txt"),
    "risk-control": ("2026-11", "risk-control-2026-11.txt"),
}


def publish_bundled_rules() -> None:
    """Publish the first versions shipped with the product (idempotent)."""
    for kind, (version, filename) in BUNDLED_TEXTS.items():
        if current_rules(kind) is None:
            text = files("onboarding.agreements").joinpath("texts", filename).read_text(encoding="utf-8")
            publish_rules(kind, version, text)
