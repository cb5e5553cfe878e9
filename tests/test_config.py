"""Configuration safety: production refuses development secrets and malformed keys; the key ring
seals, detects tampering and rotates."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag

from onboarding import create_app
from onboarding.config import DEV_ENCRYPTION_KEYS, DEV_SECRET_KEY, ConfigError
from onboarding.keyring import KeyRing

# Variables a deployment sets; cleared so the process environment cannot change the outcome.
DEPLOYMENT_VARIABLES = ("SECRET_KEY", "ENCRYPTION_KEYS", "ENCRYPTION_KEY_ID", "SESSION_COOKIE_SECURE",
                        "MAIL_BACKEND", "DATABASE_URL", "REDIS_URL")


def new_key(key_id: str = "k1", length: int = 32) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(length)).decode()}"


GOOD_SECRET = base64.urlsafe_b64encode(os.urandom(48)).decode()


@pytest.fixture
def production(tmp_path, monkeypatch):
    """Build an app as a production deployment would: APP_ENV=production in the environment,
    no development defaults overridden unless the test says so."""
    for name in DEPLOYMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "production")

    def build(**overrides):
        config = {"APP_ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", **overrides}
        return create_app(config)

    return build


def test_production_refuses_the_development_secret_key(production):
    with pytest.raises(ConfigError, match="SECRET_KEY is unset or is the development default"):
        production()
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        production(SECRET_KEY=DEV_SECRET_KEY, ENCRYPTION_KEYS=new_key())


def test_production_refuses_a_short_secret_key(production):
    with pytest.raises(ConfigError, match="at least 32 characters"):
        production(SECRET_KEY="too-short-to-be-a-secret", ENCRYPTION_KEYS=new_key())


def test_production_refuses_the_development_encryption_keys(production):
    with pytest.raises(ConfigError) as raised:
        production(SECRET_KEY=GOOD_SECRET)
    message = str(raised.value)
    assert "ENCRYPTION_KEYS is unset or is the development default" in message
    assert "SECRET_KEY" not in message, "the secret was fine; only the keys are named"
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS"):
        production(SECRET_KEY=GOOD_SECRET, ENCRYPTION_KEYS=DEV_ENCRYPTION_KEYS)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("k1:this is not base64!", "ENCRYPTION_KEYS entry 'k1' is not valid base64"),
        (new_key("k1", length=16), "ENCRYPTION_KEYS entry 'k1' must be '<id>:<base64 of 32 bytes>'"),
        (":" + base64.b64encode(os.urandom(32)).decode(), "must be '<id>:<base64 of 32 bytes>'"),
        (" , ", "ENCRYPTION_KEYS is empty"),
    ],
    ids=["bad-base64", "wrong-length", "missing-id", "empty"],
)
def test_malformed_encryption_keys_are_refused_at_start(production, keys, message):
    with pytest.raises(ConfigError) as raised:
        production(SECRET_KEY=GOOD_SECRET, ENCRYPTION_KEYS=keys)
    assert message in str(raised.value)


def test_unknown_current_key_id_is_refused(production):
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY_ID 'k9' is not in ENCRYPTION_KEYS"):
        production(SECRET_KEY=GOOD_SECRET, ENCRYPTION_KEYS=new_key("k1"), ENCRYPTION_KEY_ID="k9")


def test_production_builds_with_real_secrets_and_secures_cookies(production):
    app = production(SECRET_KEY=GOOD_SECRET, ENCRYPTION_KEYS=f"{new_key('k2')},{new_key('k1')}")
    assert app.config["APP_ENV"] == "production"
    assert not app.config.get("TESTING")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["MAIL_BACKEND"] == "smtp"
    assert app.extensions["keyring"].current_id == "k2", "the first key seals new data"
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_development_and_testing_accept_the_defaults(tmp_path, monkeypatch):
    for name in DEPLOYMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for env in ("development", "testing"):
        monkeypatch.setenv("APP_ENV", env)
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}"})
        assert app.config["APP_ENV"] == env
        assert app.config["SECRET_KEY"] == DEV_SECRET_KEY
        assert app.config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize("value", ["staging", "prod", "dev"])
def test_unknown_app_env_is_refused(tmp_path, monkeypatch, value):
    monkeypatch.setenv("APP_ENV", value)
    with pytest.raises(ConfigError) as raised:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    message = str(raised.value)
    assert "APP_ENV must be one of development, testing, production" in message
    assert repr(value) in message


def test_app_env_is_read_case_insensitively(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", " Development ")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["APP_ENV"] == "development"


def test_a_non_numeric_setting_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_PORT", "twenty-five")
    with pytest.raises(ConfigError, match="SMTP_PORT must be a whole number, got 'twenty-five'"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


# ---------------------------------------------------------------------------
# The key ring.


def test_seal_and_open_round_trip():
    ring = KeyRing(new_key("k1"))
    token = ring.seal(b"JBSWY3DPEHPK3PXP", b"totp:7")
    assert token.startswith("k1:")
    assert b"JBSWY3DPEHPK3PXP" not in base64.b64decode(token.split(":", 1)[1]), "the plaintext is not visible"
    assert ring.open(token, b"totp:7") == b"JBSWY3DPEHPK3PXP"
    assert ring.seal(b"same", b"") != ring.seal(b"same", b""), "a fresh nonce every time"


def test_tampered_ciphertext_is_refused():
    ring = KeyRing(new_key("k1"))
    key_id, encoded = ring.seal(b"secret value", b"totp:7").split(":", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        ring.open(f"{key_id}:{base64.b64encode(bytes(raw)).decode()}", b"totp:7")


def test_sealed_value_cannot_be_moved_to_another_record():
    ring = KeyRing(new_key("k1"))
    token = ring.seal(b"secret value", b"totp:7")
    with pytest.raises(InvalidTag):
        ring.open(token, b"totp:8")


def test_data_sealed_with_an_old_key_opens_after_rotation():
    old_key = new_key("k1")
    token = KeyRing(old_key).seal(b"sealed before rotation", b"ctx")

    rotated = KeyRing(f"{new_key('k2')},{old_key}")
    assert rotated.current_id == "k2"
    assert rotated.open(token, b"ctx") == b"sealed before rotation"
    resealed = rotated.seal(b"sealed after rotation", b"ctx")
    assert resealed.startswith("k2:")
    assert rotated.open(resealed, b"ctx") == b"sealed after rotation"
    # The old ring alone cannot read data sealed with the new key.
    with pytest.raises(ConfigError, match="k2"):
        KeyRing(old_key).open(resealed, b"ctx")


def test_explicit_current_key_id_chooses_the_sealing_key():
    ring = KeyRing(f"{new_key('k2')},{new_key('k1')}", current_id="k1")
    assert ring.seal(b"x").startswith("k1:")
