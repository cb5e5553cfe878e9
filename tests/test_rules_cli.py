"""`flask rules publish`: publishing a rule version, idempotent re-publishing, and refusals."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from onboarding.agreements.models import API_USAGE, RISK_CONTROL, RuleVersion
from onboarding.agreements.operations import current_rules
from onboarding.audit.models import AuditEvent
from onboarding.db import db

RULES_TEXT = (
    "API usage rules, version 2026-12\n\n"
    "1. Keep your API keys secret and rotate them at least every 90 days.\n"
    "2. Trade only from the IP addresses declared in your application.\n"
    "3. Respect the rate tier granted to your institution.\n"
)


@pytest.fixture
def publish(app):
    """Run `flask rules publish ...` in the app's own context (as `flask --app app` does), ending
    our own read transaction before and after so we see what the command commits."""
    runner = app.test_cli_runner()

    def invoke(*args: str):
        db.session.rollback()
        with app.app_context():
            result = runner.invoke(args=["rules", "publish", *args])
        db.session.rollback()
        return result

    return invoke


def rules_file(tmp_path, text: str = RULES_TEXT, name: str = "rules.txt", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def versions(kind: str = API_USAGE) -> list[RuleVersion]:
    return db.session.scalars(select(RuleVersion).where(RuleVersion.kind == kind).order_by(RuleVersion.id)).all()


def published_events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "rules.published"))


def test_publish_records_the_exact_text_and_its_digest(publish, tmp_path):
    result = publish("--kind", "api-usage", "--file", rules_file(tmp_path), "--version", "2026-12",
                     "--by", "admin@exchange.example")
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(RULES_TEXT.encode("utf-8")).hexdigest()
    assert f"Published API usage rules, version 2026-12 (sha256 {digest[:16]}...)." in result.output

    [rules] = versions()
    assert (rules.kind, rules.version, rules.text, rules.sha256) == (API_USAGE, "2026-12", RULES_TEXT, digest)
    assert rules.published_by == "admin@exchange.example"
    assert current_rules(API_USAGE).id == rules.id, "applicants see it from now on"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "rules.published"))
    assert event.details == {"kind": API_USAGE, "version": "2026-12", "sha256": digest}
    assert event.actor_label == "admin@exchange.example"


def test_republishing_the_same_file_changes_nothing(publish, tmp_path):
    path = rules_file(tmp_path)
    assert publish("--kind", "api-usage", "--file", path, "--version", "2026-12").exit_code == 0
    result = publish("--kind", "api-usage", "--file", path, "--version", "2026-12")
    assert result.exit_code == 0, result.output
    assert "API usage rules, version 2026-12 is already published with this exact text; nothing changed." \
        in result.output
    assert len(versions()) == 1
    assert published_events() == 1


def test_line_endings_and_surrounding_blank_lines_do_not_make_a_new_text(publish, tmp_path):
    assert publish("--kind", "api-usage", "--file", rules_file(tmp_path), "--version", "2026-12").exit_code == 0
    windows = rules_file(tmp_path, "\n\n" + RULES_TEXT.replace("\n", "\r\n") + "\r\n\r\n", name="rules-crlf.txt")
    result = publish("--kind", "api-usage", "--file", windows, "--version", "2026-12")
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output
    assert len(versions()) == 1


def test_a_different_text_under_the_same_version_is_refused(publish, tmp_path):
    assert publish("--kind", "api-usage", "--file", rules_file(tmp_path), "--version", "2026-12").exit_code == 0
    changed = rules_file(tmp_path, RULES_TEXT + "4. A sneaky extra rule added later.\n", name="changed.txt")
    result = publish("--kind", "api-usage", "--file", changed, "--version", "2026-12")
    assert result.exit_code != 0
    assert ("API usage rules version 2026-12 is already published with a different text. "
            "Publish the change under a new version.") in result.output
    [rules] = versions()
    assert rules.sha256 == hashlib.sha256(RULES_TEXT.encode("utf-8")).hexdigest()
    assert published_events() == 1


def test_a_new_version_becomes_current(publish, tmp_path):
    assert publish("--kind", "api-usage", "--file", rules_file(tmp_path), "--version", "2026-12").exit_code == 0
    changed = rules_file(tmp_path, RULES_TEXT + "4. Report incidents within 24 hours.\n", name="v2.txt")
    result = publish("--kind", "api-usage", "--file", changed, "--version", "2027-01")
    assert result.exit_code == 0, result.output
    assert [r.version for r in versions()] == ["2026-12", "2027-01"]
    assert current_rules(API_USAGE).version == "2027-01"


def test_the_same_version_name_for_another_kind_is_independent(publish, tmp_path):
    path = rules_file(tmp_path)
    assert publish("--kind", "api-usage", "--file", path, "--version", "2026-12").exit_code == 0
    result = publish("--kind", "risk-control", "--file", path, "--version", "2026-12")
    assert result.exit_code == 0, result.output
    assert "Published Risk-control rules, version 2026-12" in result.output
    assert len(versions(API_USAGE)) == 1 and len(versions(RISK_CONTROL)) == 1


def test_a_too_short_file_is_refused(publish, tmp_path):
    result = publish("--kind", "api-usage", "--file", rules_file(tmp_path, "Be nice.\n"), "--version", "2026-12")
    assert result.exit_code != 0
    assert "The rule text is too short to be a real rule document." in result.output
    assert versions() == []
    assert published_events() == 0


def test_a_blank_version_is_refused(publish, tmp_path):
    result = publish("--kind", "api-usage", "--file", rules_file(tmp_path), "--version", "  ")
    assert result.exit_code != 0
    assert "Give the version a name" in result.output
    assert versions() == []


def test_an_unknown_kind_is_refused_by_click(publish, tmp_path):
    result = publish("--kind", "cookie-policy", "--file", rules_file(tmp_path), "--version", "2026-12")
    assert result.exit_code == 2
    assert "Invalid value for '--kind'" in result.output
    assert db.session.scalar(select(func.count()).select_from(RuleVersion)) == 0


def test_a_missing_file_is_refused_by_click(publish, tmp_path):
    result = publish("--kind", "api-usage", "--file", str(tmp_path / "nowhere.txt"), "--version", "2026-12")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert versions() == []


def test_a_file_that_is_not_utf8_is_refused(publish, tmp_path):
    path = rules_file(tmp_path, RULES_TEXT + "Société Générale — règles\n", encoding="utf-16")
    result = publish("--kind", "api-usage", "--file", path, "--version", "2026-12")
    assert result.exit_code != 0
    assert "is not UTF-8 text." in result.output
    assert versions() == []
