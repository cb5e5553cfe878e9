"""The documents step's part of an application's completeness: every required document uploaded, its
dates within policy, and none turned down by a reviewer. Registered into the application's completeness
checks when the app is built (`register_document_rules`)."""

from __future__ import annotations

from sqlalchemy import select

from ..applications.completeness import Problem, register_step_checker
from ..applications.models import Application
from ..applications.operations import register_party_removal
from ..db import db
from .models import UNUSABLE, Document
from .operations import discard_party_documents
from .requirements import date_problems, required_documents


def document_problems(app: Application) -> list[Problem]:
    uploaded = {d.requirement_key: d for d in db.session.scalars(
        select(Document).where(Document.application_id == app.id)
    )}
    problems: list[Problem] = []
    for requirement in required_documents(app):
        document = uploaded.get(requirement.key)
        label = requirement.kind.label + ("" if requirement.party is None else f" for {requirement.party.name}")
        if document is None:
            problems.append(Problem("documents", f"Upload the {_lower_first(label)}.", requirement.key))
            continue
        for message in date_problems(requirement.kind, document.issue_date, document.expiry_date).values():
            problems.append(Problem("documents", f"{label}: {message}", requirement.key))
        if (document.upload_check or {}).get("verdict") == UNUSABLE:
            # The quick checks at upload found the file cannot be used (damaged, encrypted, wrong content).
            problems.append(Problem("documents", f"{label}: this file cannot be used. Upload a replacement.",
                                    requirement.key))
        elif document.review_status in ("reupload", "rejected"):
            # A reviewer turned this file down: only a new upload (a new record) clears it.
            problems.append(Problem("documents", f"{label}: our reviewers need a new file. Upload a replacement.",
                                    requirement.key))
    return problems


def _lower_first(label: str) -> str:
    """'Certificate of ...' -> 'certificate of ...', but 'AML/CTF policy' stays as it is."""
    return label if label[1:2].isupper() else label[0].lower() + label[1:]


def documents_started(app: Application) -> bool:
    return bool((app.steps_saved or {}).get("documents")) or len(document_problems(app)) < len(required_documents(app))


def register_document_rules() -> None:
    register_step_checker("documents", document_problems, documents_started)
    register_party_removal(discard_party_documents)
