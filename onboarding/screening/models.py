"""Imported sanctions list snapshots and the screening hits found against them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import JSONDocument, db, utcnow

SOURCES = {"ofac-sdn": "OFAC SDN", "un-xml": "UN Security Council", "ftm": "OpenSanctions (FtM)"}


class ListSnapshot(db.Model):
    """One import of one list. The newest complete snapshot per source is current; older ones are
    kept so that earlier hits still point at the entry they matched."""

    __tablename__ = "sanctions_lists"
    __table_args__ = (UniqueConstraint("source", "file_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20), index=True)
    file_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    entry_count: Mapped[int] = mapped_column(default=0)
    alias_count: Mapped[int] = mapped_column(default=0)
    is_current: Mapped[bool] = mapped_column(default=False, index=True)
    # Who imported it: a staff e-mail, "cli", "scheduled refresh" (shown on the sanctions-lists page).
    imported_by: Mapped[str | None] = mapped_column(String(320))


class ListEntry(db.Model):
    __tablename__ = "sanctions_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("sanctions_lists.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))  # person, entity, vessel, aircraft, unknown
    name: Mapped[str] = mapped_column(String(500))
    programs: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    birth_dates: Mapped[list[str]] = mapped_column(JSONDocument, default=list)  # "1963-07-28" or "1963"
    nationalities: Mapped[list[str]] = mapped_column(JSONDocument, default=list)  # ISO 3166 alpha-2 where known
    countries: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # [{"type": "registration"|"passport"|"national_id"|..., "value": "...", "country": "IR"}]
    identifiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    remarks: Mapped[str | None] = mapped_column(Text)

    aliases: Mapped[list[ListAlias]] = relationship(back_populates="entry", cascade="all, delete-orphan")


class ListAlias(db.Model):
    __tablename__ = "sanctions_aliases"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("sanctions_entries.id", ondelete="CASCADE"), index=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("sanctions_lists.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    quality: Mapped[str] = mapped_column(String(10), default="aka")  # primary, aka, weak

    entry: Mapped[ListEntry] = relationship(back_populates="aliases")


# How a list import was asked for, and the states of its run.
UPLOAD, OFFICIAL, SCHEDULED, COMMAND = "upload", "official", "scheduled", "command"
ORIGINS = {UPLOAD: "Upload", OFFICIAL: "Official address", SCHEDULED: "Scheduled refresh",
           COMMAND: "sanctions refresh"}
QUEUED, RUNNING, IMPORTED, UNCHANGED, FAILED = "queued", "running", "imported", "unchanged", "failed"
RUN_STATES = {QUEUED: "Waiting to start", RUNNING: "Running", IMPORTED: "Imported", UNCHANGED: "No change",
              FAILED: "Failed"}
RESCREEN_DONE = "done"


class ListImport(db.Model):
    """One attempt to import a list (an upload, the official address, the scheduled refresh): its
    progress, its outcome or the reason it failed, what changed, and the re-screening it triggered."""

    __tablename__ = "sanctions_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20), index=True)
    origin: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=QUEUED, index=True)
    stage: Mapped[str | None] = mapped_column(String(200))  # what it is doing now, for the progress line
    filename: Mapped[str | None] = mapped_column(String(500))  # uploaded file name or names, or the address
    staged_path: Mapped[str | None] = mapped_column(String(1000))  # the uploaded input until imported
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("sanctions_lists.id"))
    previous_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("sanctions_lists.id"))
    entries_added: Mapped[int | None]
    entries_removed: Mapped[int | None]
    # The re-screening of monitored institutions this import triggered (None: none was needed).
    rescreen_state: Mapped[str | None] = mapped_column(String(20))
    rescreen_total: Mapped[int | None]
    rescreen_done: Mapped[int | None]
    new_hit_ids: Mapped[list[int]] = mapped_column(JSONDocument, default=list)


PENDING, TRUE_MATCH, FALSE_POSITIVE = "pending", "true_match", "false_positive"


class ScreeningHit(db.Model):
    """A possible match of a screened name against a list entry, waiting for (or carrying) a
    reviewer's disposition. Unique per subject and entry, so re-screening never duplicates it."""

    __tablename__ = "screening_hits"
    __table_args__ = (UniqueConstraint("institution_id", "subject_key", "source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    # "company", "trading_name:<name>", "party:<id>"
    subject_key: Mapped[str] = mapped_column(String(320))
    subject_name: Mapped[str] = mapped_column(String(300))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("sanctions_lists.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("sanctions_entries.id"))
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(80))
    entry_name: Mapped[str] = mapped_column(String(500))
    matched_alias: Mapped[str] = mapped_column(String(500))
    score: Mapped[float]
    # {"name": 0.93, "birth_date": "agrees", "nationality": "disagrees", ...}
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    disposition: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    disposition_reason: Mapped[str | None] = mapped_column(Text)
    disposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disposed_at: Mapped[datetime | None]
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How it was found: at application checks, or by ongoing monitoring after a list update.
    found_by: Mapped[str] = mapped_column(String(20), default="application")


OPEN, CONFIRMED, DISMISSED = "open", "confirmed", "dismissed"

LINK_SIGNALS = {
    "registration_number": "Same registration number in the same jurisdiction",
    "person": "Same beneficial owner or director (name and date of birth)",
    "document": "The same document file",
    "email_domain": "The same corporate e-mail domain",
    "ip_address": "The same sign-up or submission IP within 30 days",
    "ip_allowlist": "Overlapping API IP allow-lists",
}


class LinkSignal(db.Model):
    """Evidence that an application may belong to the same firm as another institution
    (the self-referral rule, DESIGN 4.5). Reviewers confirm or dismiss it."""

    __tablename__ = "link_signals"
    __table_args__ = (UniqueConstraint("application_id", "other_institution_id", "signal", "evidence_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    other_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    signal: Mapped[str] = mapped_column(String(30))
    # What matched, normalised (a registration number, a file hash, a domain, an address...).
    evidence_key: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=OPEN, index=True)
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
