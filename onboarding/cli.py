"""`flask --app app ...` commands: staff accounts, demo data, audit verification, jobs, worker."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import pyotp
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from .accounts.models import STAFF_ROLES
from .accounts.operations import create_staff, find_user_by_email, totp_secret
from .agreements.operations import publish_rules
from .api.cli import service_token_cli
from .audit.operations import verify_chain
from .db import db
from .demo import APPROVED_DEMO_APPLICANT, create_demo_keys, seed_demo
from .errors import OperationRefused
from .jobs import sweep
from .reseal import ORPHANS, census, reseal, stale_key_ids
from .screening.cli import sanctions_cli
from .security import keyring
from .templating import plural
from .worker import run_worker

audit_cli = AppGroup("audit", help="Audit log tools.")
rules_cli = AppGroup("rules", help="Rule documents (API usage, risk control).")
jobs_cli = AppGroup("jobs", help="Job outbox tools.")
encryption_cli = AppGroup("encryption", help="The key ring that seals secrets and documents at rest.")


@click.command("create-staff")
@click.option("--email", required=True, help="The staff member's e-mail address (their login).")
@click.option("--name", "full_name", default="", help="Full name; defaults to the e-mail's local part.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(sorted(STAFF_ROLES)),
              help="A role; repeat for several.")
@click.option("--password", envvar="STAFF_PASSWORD", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Initial password (or set STAFF_PASSWORD); asked for when not given.")
@with_appcontext
def create_staff_command(email: str, full_name: str, roles: tuple[str, ...], password: str) -> None:
    """Create a staff account. They set up TOTP at their first sign-in."""
    try:
        user = create_staff(email=email, full_name=full_name or email.split("@")[0], password=password,
                            roles=roles)
    except OperationRefused as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Created staff account {user.email} with roles: {', '.join(user.role_names)}.")
    click.echo("They will be asked to set up an authenticator app at their first sign-in.")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create demo accounts (idempotent) and print the logins."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("seed-demo is only available in development: its passwords are public.")

    accounts = seed_demo()
    db.session.commit()
    click.echo(demo_logins_text(accounts))
    keys = create_demo_keys(APPROVED_DEMO_APPLICANT)
    db.session.commit()
    if keys is not None:
        text = demo_keys_text(keys)
        path = Path(current_app.instance_path) / "demo-api-keys.txt"
        path.write_text(text)
        path.chmod(0o600)
        click.echo(text)
        click.echo(f"(Also written to {path}: the secret is not shown again.)")


def demo_logins_text(accounts) -> str:
    lines = ["", "Demo logins (development only):", ""]
    email_width = max(len(a.email) for a in accounts)
    label_width = max(len(a.label) for a in accounts)
    lines.append(f"  {'e-mail'.ljust(email_width)}  {'password'.ljust(18)}  {'role'.ljust(label_width)}  TOTP secret")
    for account in accounts:
        lines.append(
            f"  {account.email.ljust(email_width)}  {account.password.ljust(18)}  {account.label.ljust(label_width)}"
            f"  {account.totp_secret or '-'}"
        )
    lines += [
        "",
        "Staff sign in with a TOTP code: add the secret to an authenticator app, or run",
        "  flask --app app demo-totp EMAIL",
        "",
    ]
    return "\n".join(lines)


def demo_keys_text(keys) -> str:
    gateway = f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT') or 8080}"  # where `make run` starts it
    return "\n".join([
        f"Demo API keys of {keys.institution} (development only; created once):",
        f"  HMAC, trading:      {keys.hmac_key}",
        f"  its secret:         {keys.hmac_secret}",
        f"  Ed25519, read-only: {keys.ed25519_key}",
        f"  its private key:    {keys.ed25519_private_key_file}",
        "",
        "Sign a request with the example client (through the local gateway, see the README):",
        f"  MM_API_SECRET={keys.hmac_secret} python examples/mm_client.py --base-url {gateway} \\",
        f"    --api-key {keys.hmac_key} POST /api/v3/order symbol=BTCEUR side=BUY type=LIMIT quantity=1 price=100",
        "  (allowed), and the same order with the read-only Ed25519 key (refused: scope_not_granted):",
        f"  python examples/mm_client.py --base-url {gateway} --api-key {keys.ed25519_key} \\",
        f"    --ed25519-key {keys.ed25519_private_key_file} POST /api/v3/order symbol=BTCEUR side=BUY quantity=1",
        "",
    ])


@click.command("demo-totp")
@click.argument("email")
@with_appcontext
def demo_totp_command(email: str) -> None:
    """Print the current TOTP code of a demo staff account (development only)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("demo-totp is only available in development.")
    user = find_user_by_email(email)
    secret = totp_secret(user) if user else None
    if not secret:
        raise click.ClickException(f"No TOTP secret for {email}.")
    click.echo(pyotp.TOTP(secret).now())


@audit_cli.command("verify")
def audit_verify_command() -> None:
    """Check the hash chain; names the first broken link and exits 1 if there is one."""
    report = verify_chain()
    if report.ok:
        click.echo(f"Audit log intact: {report.checked} events verified.")
        return
    click.echo(f"Audit log BROKEN at event #{report.broken_at}: {report.problem}. "
               f"{report.checked} events before it verified.", err=True)
    sys.exit(1)


@rules_cli.command("publish")
@click.option("--kind", required=True, type=click.Choice(["api-usage", "risk-control"]))
@click.option("--file", "path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="UTF-8 text file with the rules exactly as they will be shown.")
@click.option("--version", required=True, help="Version name, for example 2026-12 or 2.0.")
@click.option("--by", "published_by", default="cli", help="Who publishes (recorded in the audit log).")
def rules_publish_command(kind: str, path: str, version: str, published_by: str) -> None:
    """Publish a new version of a rule document; applicants see it from now on."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path} is not UTF-8 text.") from exc
    try:
        rules, created = publish_rules(kind, version, text, published_by=published_by)
    except OperationRefused as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    if created:
        click.echo(f"Published {rules.title} (sha256 {rules.sha256[:16]}...).")
    else:
        click.echo(f"{rules.title} is already published with this exact text; nothing changed.")


@jobs_cli.command("dispatch")
@click.option("--min-age", default=0, show_default=True, help="Only rows waiting at least this many seconds.")
def jobs_dispatch_command(min_age: int) -> None:
    """Push outbox rows left behind (Redis was down, a worker died) to the queue."""
    count = sweep(min_age_seconds=min_age)
    click.echo(f"Dispatched {plural(count, 'job')}.")


@encryption_cli.command("reseal")
@click.option("--dry-run", is_flag=True, help="Change nothing: count what is sealed under which key id.")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000),
              help="Items per transaction (each batch is committed and audited).")
def encryption_reseal_command(dry_run: bool, batch_size: int) -> None:
    """Re-seal every secret and stored file under the current key (ENCRYPTION_KEY_ID, else the first
    of ENCRYPTION_KEYS), so older keys can be removed. Safe to interrupt and to run again."""
    current_id = keyring().current_id
    if dry_run:
        found = census()
    else:
        found = reseal(batch_size, on_batch=lambda kind, done: click.echo(f"  {kind}: {done} re-sealed so far"))
    click.echo(f"Current key: {current_id!r}. Sealed items by the key they {'are' if dry_run else 'were'} under:")
    for name, outcome in found.items():
        counts = ", ".join(f"{key_id}: {count}" for key_id, count in sorted(outcome.by_key.items())) or "none"
        done = "" if dry_run else f" ({outcome.resealed} re-sealed)"
        click.echo(f"  {name}: {counts}{done}")
    failures = [line for outcome in found.values() for line in outcome.failed]
    for line in failures:
        click.echo(f"FAILED {line}", err=True)
    # After a run, count again: what matters is what is still sealed under an older key now.
    now = found if dry_run else census()
    stale = stale_key_ids({name: outcome for name, outcome in now.items() if name != ORPHANS})
    unlisted = sorted(set(stale) - set(keyring().keys))
    if unlisted:
        click.echo(f"Sealed under {', '.join(map(repr, unlisted))}, which {'is' if len(unlisted) == 1 else 'are'} "
                   "NOT in ENCRYPTION_KEYS: those items cannot be opened until the key is listed again "
                   "(then run this command to re-seal them).", err=True)
        failures.append("unlisted keys")
    if stale:
        click.echo("Still sealed under older keys: " + ", ".join(f"{k!r} ({n} items)" for k, n in sorted(stale.items()))
                   + (". Run without --dry-run to re-seal them." if dry_run else "."))
    elif not failures:
        retired = sorted(set(keyring().keys) - {current_id})
        if retired:
            click.echo(f"Everything is sealed under {current_id!r}: {', '.join(map(repr, retired))} may leave "
                       "ENCRYPTION_KEYS (keep a copy offline while backups sealed under it are kept).")
        else:
            click.echo(f"Everything is sealed under {current_id!r}.")
    if failures:
        sys.exit(1)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker_command(burst: bool) -> None:
    """Run an RQ worker for this app; it also sweeps the outbox periodically."""
    run_worker(current_app._get_current_object(), burst=burst)


def register_cli(app: Flask) -> None:
    for command in (create_staff_command, seed_demo_command, demo_totp_command, worker_command):
        app.cli.add_command(command)
    app.cli.add_command(audit_cli)
    app.cli.add_command(rules_cli)
    app.cli.add_command(sanctions_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(encryption_cli)
    app.cli.add_command(service_token_cli)
