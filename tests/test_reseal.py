"""Rotating the encryption key: `flask --app app encryption reseal` moves everything sealed with the key
ring (documents, approval letters, TOTP secrets, HMAC key secrets) under the current key, so the old
key can leave ENCRYPTION_KEYS and everything still opens. Runs on both databases."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, update

from onboarding.accounts.models import User
from onboarding.accounts.operations import find_user_by_email, set_totp_secret, totp_associated_data, totp_secret
from onboarding.audit.models import AuditEvent
from onboarding.audit.operations import verify_chain
from onboarding.db import db
from onboarding.documents.models import Document
from onboarding.documents.operations import associated_data as document_associated_data
from onboarding.keys.credentials import associated_data as api_key_associated_data
from onboarding.keys.models import ApiKey
from onboarding.letters.models import ApprovalLetter
from onboarding.letters.operations import verified_pdf
from onboarding.reseal import SEALED, SealedFiles, SealedValues, census
from onboarding.security import keyring
from onboarding.storage import document_store

from .factories import granted_institution
from .test_keys import hmac_key
from .test_letters import approved_application, issue

KEY_A = "A:" + base64.b64encode(b"a" * 32).decode()
KEY_B = "B:" + base64.b64encode(b"b" * 32).decode()


@pytest.fixture
def ring(make_app, tmp_path):
    """ring("A"), ring("B,A"), ring("B"): an app whose ENCRYPTION_KEYS are those keys (first current),
    all on the same database and document directory."""
    keys = {"A": KEY_A, "B": KEY_B}

    def build(ids: str):
        return make_app(ENCRYPTION_KEYS=",".join(keys[i] for i in ids.split(",")),
                        DOCUMENTS_DIR=str(tmp_path / "documents"))

    return build


def sealed_world() -> dict:
    """An approved application with its documents and letter, staff with TOTP, and an HMAC key."""
    application, approver = approved_application()
    letter = issue(application, approver)
    set_totp_secret(approver, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    keyholder = granted_institution()
    issued = hmac_key(keyholder)
    key = db.session.scalar(select(ApiKey).where(ApiKey.public_id == issued.key.public_id))
    secrets_now = {
        "totp": {user.email: totp_secret(user) for user in db.session.scalars(select(User)) if user.totp_secret_sealed},
        "hmac": {key.public_id: keyring().open(key.secret_sealed, api_key_associated_data(key.public_id))},
        "letter_sha256": letter.sha256,
        "documents": db.session.scalar(select(func.count()).select_from(Document)),
    }
    assert secrets_now["totp"] and secrets_now["documents"] >= 5
    db.session.commit()
    return secrets_now


def assert_everything_opens(expected: dict, key_id: str | None = None) -> None:
    """Every document opens to its recorded SHA-256, the letter verifies, every TOTP and HMAC secret opens
    to what it was; with `key_id`, everything is sealed under that key (headers and columns agree)."""
    db.session.rollback()
    store = document_store()
    documents = db.session.scalars(select(Document)).all()
    assert len(documents) == expected["documents"]
    for document in documents:
        data = store.read_all(document.storage_key, associated_data=document_associated_data(document.application_id))
        assert hashlib.sha256(data).hexdigest() == document.sha256
        if key_id:
            assert store.sealed_with(document.storage_key) == key_id and document.key_id == key_id
    letter = db.session.scalars(select(ApprovalLetter)).one()
    assert hashlib.sha256(verified_pdf(letter)).hexdigest() == expected["letter_sha256"]
    if key_id:
        assert store.sealed_with(letter.storage_key) == key_id and letter.key_id == key_id
    for email, secret in expected["totp"].items():
        user = find_user_by_email(email)
        assert totp_secret(user) == secret
        if key_id:
            assert user.totp_secret_sealed.startswith(f"{key_id}:")
    for public_id, secret in expected["hmac"].items():
        key = db.session.scalar(select(ApiKey).where(ApiKey.public_id == public_id))
        assert keyring().open(key.secret_sealed, api_key_associated_data(public_id)) == secret
        if key_id:
            assert key.secret_sealed.startswith(f"{key_id}:")


def run(app, *args: str):
    db.session.rollback()
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["encryption", "reseal", *args])
    db.session.rollback()
    return result


def test_rotate_from_a_to_b_reseal_then_remove_a_and_everything_still_opens(ring):
    with ring("A").app_context():
        expected = sealed_world()
        assert_everything_opens(expected, key_id="A")

    rotated = ring("B,A")
    with rotated.app_context():
        dry = run(rotated, "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert f"documents: A: {expected['documents']}" in dry.output
        assert "approval letters: A: 1" in dry.output
        assert f"TOTP secrets: A: {len(expected['totp'])}" in dry.output
        assert "HMAC key secrets: A: 1" in dry.output
        assert "Still sealed under older keys: 'A'" in dry.output
        assert_everything_opens(expected, key_id="A")  # the dry run changed nothing

        result = run(rotated)
        assert result.exit_code == 0, result.output
        assert "Everything is sealed under 'B': 'A' may leave ENCRYPTION_KEYS" in result.output
        assert_everything_opens(expected, key_id="B")
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "encryption.resealed")).all()
        assert sum(event.details["items"] for event in events) == (
            expected["documents"] + 1 + len(expected["totp"]) + 1)
        assert verify_chain().ok

        again = run(rotated)  # idempotent: nothing left to do, nothing audited
        assert again.exit_code == 0 and "(0 re-sealed)" in again.output, again.output
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "encryption.resealed")) == len(events)

    with ring("B").app_context():  # A removed from ENCRYPTION_KEYS
        assert_everything_opens(expected, key_id="B")
        assert set(census()["documents"].by_key) == {"B"}


class PowerCut(BaseException):
    """The process stops dead (not an error the command could handle)."""


def test_an_interrupted_run_loses_nothing_and_a_rerun_finishes(ring, monkeypatch):
    with ring("A").app_context():
        expected = sealed_world()

    rotated = ring("B,A")
    real_replace = os.replace
    replaced = []

    def crash_after_third_file(source, target):
        # The third file is renamed into place, then the process "dies" before its batch commits: the
        # file is under B while its record still says A.
        real_replace(source, target)
        replaced.append(target)
        if len(replaced) == 3:
            raise PowerCut

    with rotated.app_context():
        monkeypatch.setattr("onboarding.storage.os.replace", crash_after_third_file)
        with pytest.raises(PowerCut):
            rotated.test_cli_runner().invoke(args=["encryption", "reseal", "--batch-size", "2"],
                                             catch_exceptions=False)
        db.session.rollback()
        monkeypatch.setattr("onboarding.storage.os.replace", real_replace)
        assert_everything_opens(expected)  # mid-way: some files under A, some under B, all readable
        headers = census(batch_size=3)["documents"].by_key
        assert headers["B"] == 3 and headers["A"] == expected["documents"] - 3
        assert not list(Path(rotated.config["DOCUMENTS_DIR"]).rglob("*.part"))  # no half-written copy left

        result = run(rotated)
        assert result.exit_code == 0, result.output
        assert_everything_opens(expected, key_id="B")  # the record of the crashed batch follows its file

    with ring("B").app_context():
        assert_everything_opens(expected, key_id="B")


def test_a_file_that_no_longer_matches_its_record_is_reported_and_left_alone(ring):
    with ring("A").app_context():
        sealed_world()
        document = db.session.scalars(select(Document).order_by(Document.id)).first()
        document.sha256 = "0" * 64  # the record and the file disagree: re-sealing must not bless it
        db.session.commit()
        path = document_store().path_for(document.storage_key)
        before = path.read_bytes()

    rotated = ring("B,A")
    with rotated.app_context():
        result = run(rotated)
        assert result.exit_code == 1
        assert f"FAILED documents #{document.id}" in result.output
        assert path.read_bytes() == before


def test_a_key_removed_too_early_is_named_and_the_command_fails(ring):
    with ring("A").app_context():
        sealed_world()
    too_early = ring("B")  # A dropped before anything was re-sealed
    with too_early.app_context():
        dry = run(too_early, "--dry-run")
        assert dry.exit_code == 1
        assert "'A', which is NOT in ENCRYPTION_KEYS" in dry.output
        result = run(too_early)  # nothing can be re-sealed; nothing is damaged either
        assert result.exit_code == 1 and "(0 re-sealed)" in result.output
    with ring("B,A").app_context():
        assert census()["documents"].by_key.keys() == {"A"}


def test_every_sealed_column_and_stored_file_is_in_the_reseal_list():
    """A model that gains a "..._sealed" column or a stored file must be re-sealed too."""
    values = {(kind.model.__tablename__, kind.column) for kind in SEALED if isinstance(kind, SealedValues)}
    files = {kind.model.__tablename__ for kind in SEALED if isinstance(kind, SealedFiles)}
    for mapper in db.Model.registry.mappers:
        table = mapper.local_table.name
        for column in inspect(mapper.class_).columns:
            if column.name.endswith("_sealed"):
                assert (table, column.name) in values, f"{table}.{column.name} is sealed but never re-sealed"
            if column.name == "storage_key":
                assert table in files, f"{table} stores sealed files but is not re-sealed"


def test_a_secret_changed_while_the_run_reseals_it_is_not_overwritten_with_the_old_one(ring, monkeypatch):
    """A staff member re-enrols TOTP between the run reading their old secret and writing it back: the
    compare-and-set keeps the new secret (already sealed under the current key)."""
    with ring("A").app_context():
        expected = sealed_world()
        email = next(iter(expected["totp"]))

    rotated = ring("B,A")
    with rotated.app_context():
        user_id = find_user_by_email(email).id
        ring_b = keyring()
        real_seal = type(ring_b).seal
        re_enrolled = ring_b.seal(b"NEWSECRETNEWSECRETNEWSECRET23456", totp_associated_data(user_id))

        def seal_while_someone_re_enrols(self, plaintext, associated=b""):
            if associated == totp_associated_data(user_id):
                with db.engine.connect() as other:  # another process's request, committed meanwhile
                    other.execute(update(User).where(User.id == user_id).values(totp_secret_sealed=re_enrolled))
                    other.commit()
            return real_seal(self, plaintext, associated)

        monkeypatch.setattr(type(ring_b), "seal", seal_while_someone_re_enrols)
        result = run(rotated)
        monkeypatch.setattr(type(ring_b), "seal", real_seal)
        assert result.exit_code == 0, result.output
        assert totp_secret(find_user_by_email(email)) == "NEWSECRETNEWSECRETNEWSECRET23456"
