"""`flask --app app sanctions ...`: importing sanctions lists and showing the current ones."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..db import db
from ..jobs import request_job
from ..templating import plural
from .lists import ListImportError, current_snapshots, import_list
from .models import FAILED, IMPORTED, SOURCES
from .runs import configured_sources, refresh

sanctions_cli = AppGroup("sanctions", help="Sanctions lists: import a list file, refresh from the official addresses, "
                                            "show the current lists.")


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


@sanctions_cli.command("refresh")
@click.option("--source", "sources", multiple=True, type=click.Choice(list(SOURCES)),
              help="Only this list (repeatable). Default: every list with an official address configured.")
def refresh_command(sources: tuple[str, ...]) -> None:
    """Download the lists from their official addresses and import those whose content changed.

    A failed download or import leaves the current list as it was; the failure is recorded and shown on
    the sanctions-lists page. New lists are re-screened against every monitored institution at once."""
    wanted = list(sources) or configured_sources()
    if not wanted:
        raise click.ClickException("No official address is configured (SANCTIONS_OFAC_SDN_URL, "
                                   "SANCTIONS_UN_XML_URL, SANCTIONS_FTM_URL).")
    try:
        runs = refresh(wanted)
    except ListImportError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    failed = 0
    for run in runs:
        title = SOURCES[run.source]
        if run.state == FAILED:
            failed += 1
            click.echo(f"{title}: {run.error}", err=True)
        elif run.state == IMPORTED:
            click.echo(f"{title}: imported snapshot #{run.snapshot_id} (+{run.entries_added} / "
                       f"-{run.entries_removed} entries); "
                       f"re-screened {plural(run.rescreen_total or 0, 'institution')}, "
                       f"{plural(len(run.new_hit_ids or []), 'new hit')}.")
        else:
            click.echo(f"{title}: unchanged since snapshot #{run.snapshot_id}; nothing imported.")
    if failed:
        raise click.ClickException(f"{failed} of {plural(len(runs), 'list')} could not be refreshed; "
                                   "the previous snapshots stay current.")
