"""The quick per-document checks at upload (DESIGN 4.3): the applicant learns at once whether a file can
be used, instead of after submitting. The same check functions as the full run on the worker, less the
malware scan; the verdict is stored on the document by the documents part, which calls this through the
extension point `documents.operations.register_upload_inspection`."""

from __future__ import annotations

from typing import Any

from ..applications.models import Application
from ..documents.models import UNUSABLE, USABLE, WARNING, Document
from ..documents.operations import register_upload_inspection
from .documents import VERSION, check_upload
from .models import FAIL, FLAG, PASS


def upload_verdict(document: Document, application: Application) -> dict[str, Any]:
    """usable, warning (usable; a reviewer will see the warning) or unusable, with what did not pass."""
    findings = check_upload(document, application)
    outcomes = {f.outcome for f in findings}
    verdict = UNUSABLE if FAIL in outcomes else WARNING if FLAG in outcomes else USABLE
    return {
        "verdict": verdict, "version": VERSION, "checks": len(findings),
        "findings": [{"check": f.check_name, "outcome": f.outcome, "detail": f.detail, "advice": f.advice}
                     for f in sorted(findings, key=lambda f: f.outcome != FAIL) if f.outcome != PASS],
    }


def register_upload_checks() -> None:
    register_upload_inspection(upload_verdict)
