"""Re-sealing everything at rest under the key ring's current key, so a retired key can leave
ENCRYPTION_KEYS (`flask --app app encryption reseal`).

This is the one list of what the key ring seals: "<key id>:<base64>" values in columns (TOTP secrets,
HMAC key secrets) and files in the document store (documents, approval letters, notices; e-mail
attachments are those same files). `tests/test_reseal.py` fails when a model grows a sealed column or a
stored file this list does not name.

Each item is re-sealed on its own and checked before it replaces the old one (a value is opened again, a
file is read back and its SHA-256 compared with its record's), so every item stays readable throughout.
Values are written with a compare-and-set, so a secret changed meanwhile (a TOTP re-enrolment) is never
overwritten with the old one. Work is committed in batches with an audit event each; items already
under the current key are skipped, so an interrupted run is finished by running it again."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update

from .accounts.models import User
from .accounts.operations import totp_associated_data
from .audit.operations import record
from .db import db
from .documents.models import Document
from .documents.operations import associated_data as document_associated_data
from .errors import ConfigError
from .keys.credentials import associated_data as api_key_associated_data
from .keys.models import ApiKey
from .letters.models import ApprovalLetter, Notice
from .letters.notices import associated_data as notice_associated_data
from .letters.operations import associated_data as letter_associated_data
from .security import keyring
from .storage import TamperedDocument, document_store

ACTOR = "flask encryption reseal"
MISSING = "(file missing)"
UNREADABLE = "(unreadable header)"


@dataclass(frozen=True)
class SealedValues:
    """A column holding "<key id>:<base64>" values sealed with the key ring."""

    name: str
    model: Any
    column: str
    associated: Callable[[Any], bytes]


@dataclass(frozen=True)
class SealedFiles:
    """Records whose file in the document store (storage_key, key_id, sha256) is sealed with the ring."""

    name: str
    model: Any
    associated: Callable[[Any], bytes]


SEALED: tuple[SealedValues | SealedFiles, ...] = (
    SealedValues("TOTP secrets", User, "totp_secret_sealed", lambda user: totp_associated_data(user.id)),
    SealedValues("HMAC key secrets", ApiKey, "secret_sealed", lambda key: api_key_associated_data(key.public_id)),
    SealedFiles("documents", Document, lambda document: document_associated_data(document.application_id)),
    SealedFiles("approval letters", ApprovalLetter, lambda letter: letter_associated_data(letter.application_id)),
    SealedFiles("notices", Notice, notice_associated_data),
)
ORPHANS = "files no record points at"


@dataclass
class Outcome:
    """What one kind of sealed item holds (census) or what a run did to it."""

    by_key: Counter[str] = field(default_factory=Counter)  # items found, by the key id they were under
    resealed: int = 0
    failed: list[str] = field(default_factory=list)  # "<what>: <why>", for the operator


def _rows(kind: SealedValues | SealedFiles, batch_size: int) -> Iterator[list[Any]]:
    """The kind's records in id order, a batch at a time (each batch a fresh query, so a long run
    holds no cursor open and sees rows added meanwhile)."""
    model = kind.model
    sealed_column = getattr(model, kind.column if isinstance(kind, SealedValues) else "storage_key")
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(model).where(model.id > last_id, sealed_column.is_not(None)).order_by(model.id).limit(batch_size)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id  # read now: the caller commits and lets go of the batch
        yield list(rows)


def census(batch_size: int = 500) -> dict[str, Outcome]:
    """How many items of each kind are sealed under each key id; files read only their header. A record
    whose file is missing or has no readable header is a failure (a restore drill relies on this). Files
    in the store that no record names are counted too (they are unreachable, but still sealed)."""
    store = document_store()
    found: dict[str, Outcome] = {}
    referenced: set[str] = set()
    for kind in SEALED:
        outcome = found[kind.name] = Outcome()
        for rows in _rows(kind, batch_size):
            for row in rows:
                if isinstance(kind, SealedValues):
                    outcome.by_key[getattr(row, kind.column).partition(":")[0]] += 1
                    continue
                referenced.add(row.storage_key)
                key_id = _file_key_id(store, row.storage_key)
                outcome.by_key[key_id] += 1
                if key_id in (MISSING, UNREADABLE):
                    outcome.failed.append(f"{kind.name} #{row.id} ({row.storage_key}): {key_id.strip('()')}")
            db.session.expunge_all()
    orphans = found[ORPHANS] = Outcome()
    for storage_key in store.stored_keys():
        if storage_key not in referenced:
            orphans.by_key[_file_key_id(store, storage_key)] += 1
    return found


def _file_key_id(store, storage_key: str) -> str:
    try:
        return store.sealed_with(storage_key)
    except FileNotFoundError:
        return MISSING
    except TamperedDocument:
        return UNREADABLE


def reseal(batch_size: int = 200, on_batch: Callable[[str, int], None] | None = None) -> dict[str, Outcome]:
    """Re-seal every item not under the current key; commits each batch with its audit event.
    `on_batch(kind name, items re-sealed so far)` reports progress."""
    results: dict[str, Outcome] = {}
    for kind in SEALED:
        outcome = results[kind.name] = Outcome()
        for rows in _rows(kind, batch_size):
            moved: Counter[str] = Counter()
            for row in rows:
                if isinstance(kind, SealedValues):
                    old_key_id = _reseal_value(kind, row, outcome)
                else:
                    old_key_id = _reseal_file(kind, row, outcome)
                if old_key_id:
                    moved[old_key_id] += 1
            if moved:
                outcome.resealed += sum(moved.values())
                record("encryption.resealed", "key_ring", keyring().current_id,
                       {"kind": kind.name, "items": sum(moved.values()), "from_keys": dict(moved)},
                       actor_label=ACTOR)
            db.session.commit()
            db.session.expunge_all()
            if on_batch:
                on_batch(kind.name, outcome.resealed)
    return results


def _reseal_value(kind: SealedValues, row: Any, outcome: Outcome) -> str | None:
    """Re-seal one value; the key id it was under if it changed, else None."""
    ring = keyring()
    sealed = getattr(row, kind.column)
    old_key_id = sealed.partition(":")[0]
    outcome.by_key[old_key_id] += 1
    if old_key_id == ring.current_id:
        return None
    associated = kind.associated(row)
    what = f"{kind.name} #{row.id}"
    try:
        plaintext = ring.open(sealed, associated)
        fresh = ring.seal(plaintext, associated)
        if ring.open(fresh, associated) != plaintext:
            raise ValueError("the re-sealed value does not open to the same secret")
    except (InvalidTag, ValueError, ConfigError) as exc:  # ConfigError: its key is not in ENCRYPTION_KEYS
        outcome.failed.append(f"{what}: {exc or 'does not authenticate'}")
        return None
    column = getattr(kind.model, kind.column)
    changed = db.session.execute(
        update(kind.model).where(kind.model.id == row.id, column == sealed).values({kind.column: fresh})
    ).rowcount
    # 0 rows: the secret was replaced meanwhile, and its new value is sealed under the current key.
    return old_key_id if changed else None


def _reseal_file(kind: SealedFiles, row: Any, outcome: Outcome) -> str | None:
    store = document_store()
    what = f"{kind.name} #{row.id} ({row.storage_key})"
    try:
        old_key_id = store.reseal(row.storage_key, associated_data=kind.associated(row), expected_sha256=row.sha256)
    except FileNotFoundError:
        outcome.by_key[MISSING] += 1
        outcome.failed.append(f"{what}: the file is missing")
        return None
    except TamperedDocument as exc:
        outcome.by_key[UNREADABLE] += 1
        outcome.failed.append(f"{what}: {exc.reason}")
        return None
    outcome.by_key[old_key_id] += 1
    current_id = keyring().current_id
    if row.key_id != current_id:
        # The header is the truth; the column follows it (and is fixed by a rerun if we stop here).
        db.session.execute(update(kind.model).where(kind.model.id == row.id, kind.model.storage_key == row.storage_key)
                           .values(key_id=current_id))
    return old_key_id if old_key_id != current_id else None


def stale_key_ids(found: dict[str, Outcome]) -> dict[str, int]:
    """Key ids, other than the current one, that still seal something (with how many items)."""
    current_id = keyring().current_id
    stale: defaultdict[str, int] = defaultdict(int)
    for outcome in found.values():
        for key_id, count in outcome.by_key.items():
            if key_id != current_id and key_id not in (MISSING, UNREADABLE):
                stale[key_id] += count
    return dict(stale)
