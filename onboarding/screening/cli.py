"""`flask --app app sanctions ...`: importing sanctions lists and showing the current ones."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..db import db
from ..jobs import request_job
from .lists import ListImportError, current_snapshots, import_list
from .models import SOURCES

sanctions_cli = AppGroup("sanctions", help="Sanctions lists: import a list file, show the current lists.")


@sanctions_cli.command("import")
@click.option("--format", "source", required=True, type=click.Choice(list(SOURCES)),
              help="ofac-sdn: the folder with sdn.csv, add.csv, alt.csv, sdn_comments.csv; "
                   "un-xml: the UN consolidated XML file; ftm: an OpenSanctions FtM JSON-lines file.")
@click.option("--by", "actor_label", default="cli", help="Who imports (recorded in the audit log).")
@click.argument("path", type=click.Path(exists=True))
def import_command(source: str, path: str, actor_label: str) -> None:
    """Import a sanctions list as the new current snapshot of its source."""
    try:
        snapshot, created = import_list(source, path, actor_label=actor_label)
    except ListImportError as error:
        db.session.rollback()
        raise click.ClickException(f"Import failed, nothing was changed: {error.message}") from error
    if created:
        # Ongoing monitoring: every monitored institution is screened again against the new list,
        # in a job asked for in the same transaction as the import.
        request_job("screening.rescreen_all", snapshot_id=snapshot.id)
    db.session.commit()
    title = SOURCES[source]
    if created:
        click.echo(f"Imported {title} from {path}: {snapshot.entry_count} entries, {snapshot.alias_count} names "
                   f"(snapshot #{snapshot.id}, sha256 {snapshot.file_sha256[:16]}...). It is now the current list; "
                   "monitored institutions are being re-screened.")
    else:
        click.echo(f"{title} from {path} is already the current list (snapshot #{snapshot.id}, "
                   f"{snapshot.entry_count} entries, {snapshot.alias_count} names); nothing changed.")


@sanctions_cli.command("status")
def status_command() -> None:
    """Show the current snapshot of each list."""
    snapshots = current_snapshots()
    if not snapshots:
        click.echo("No sanctions list has been imported yet.")
        return
    for snapshot in snapshots:
        click.echo(f"{SOURCES.get(snapshot.source, snapshot.source)}: snapshot #{snapshot.id}, imported "
                   f"{snapshot.imported_at:%Y-%m-%d %H:%M} UTC, {snapshot.entry_count} entries, "
                   f"{snapshot.alias_count} names, sha256 {snapshot.file_sha256[:16]}...")
