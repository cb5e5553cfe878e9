"""`flask --app app service-token create|list|revoke`: the tokens of machine callers."""

from __future__ import annotations

import getpass

import click
from flask.cli import AppGroup

from ..db import db
from ..errors import OperationRefused
from .models import SERVICE_SCOPES
from .tokens import create_service_token, revoke_service_token, service_tokens, token_by_public_id

service_token_cli = AppGroup("service-token", help="Service tokens of machine callers (gateway, surveillance).")


@service_token_cli.command("create")
@click.option("--name", required=True, help="What will use the token, e.g. 'gateway eu-1'.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(sorted(SERVICE_SCOPES)),
              help="A scope; repeat for several.")
def create_command(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token and print it once (it is stored hashed)."""
    try:
        token, plaintext = create_service_token(name, list(scopes), created_by=f"cli:{getpass.getuser()}")
    except OperationRefused as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Service token {token.public_id} ({token.name}; scopes: {', '.join(token.scopes)}).")
    click.echo("Copy it now: it is shown only once.")
    click.echo(plaintext)


@service_token_cli.command("list")
def list_command() -> None:
    """Every token, newest first, with its last use."""
    for token in service_tokens():
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
        used = f"{token.last_used_at:%Y-%m-%d %H:%M} UTC" if token.last_used_at else "never"
        click.echo(f"{token.public_id}  {token.name:<30}  {','.join(token.scopes):<40}  {state:<22}  last used {used}")


@service_token_cli.command("revoke")
@click.argument("token_id")
def revoke_command(token_id: str) -> None:
    """Revoke a token by its shown id (mxs_ and eight characters)."""
    token = token_by_public_id(token_id)
    if token is None:
        raise click.ClickException(f"No service token {token_id}.")
    try:
        revoke_service_token(token, by=f"cli:{getpass.getuser()}")
    except OperationRefused as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Service token {token.public_id} revoked: calls with it are refused from now on.")
