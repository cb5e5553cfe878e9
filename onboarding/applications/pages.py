"""What every page of the applicant's application form shares: the blueprint, the current application,
the step context, and the one way a refused operation is handled (roll back, show why, keep the input).
The step routes live in steps.py and ownership_routes.py; the documents step lives with documents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..countries import country_name
from ..db import db
from ..errors import OperationRefused
from ..forms import ConfirmForm
from .changes import open_change_requests
from .completeness import STEPS, step_status
from .models import CHANGE_STEPS, CHANGES_REQUESTED, Application
from .operations import application_for

bp = Blueprint("applications", __name__, url_prefix="/application")

# The endpoint of each step's page (the documents step is the documents part's).
STEP_ENDPOINTS = {"company": "applications.company", "ownership": "applications.ownership",
                  "profile": "applications.profile", "documents": "documents.step", "review": "portal.review"}
NEXT_STEP = {"company": "ownership", "ownership": "profile", "profile": "documents", "documents": "review"}

T = TypeVar("T")


def step_url(step: str) -> str:
    return url_for(STEP_ENDPOINTS[step])


def current_application() -> Application:
    application = application_for(current_user)
    if application is None:
        abort(404)
    return application


def show_refusal(error: OperationRefused, form=None) -> None:
    """The reason next to the field it is about, else at the top of the form, else as a flash message."""
    if form is not None and error.field and hasattr(form, error.field):
        form[error.field].errors = [*form[error.field].errors, error.message]
    elif form is not None:
        form.form_errors.append(error.message)
    else:
        flash(error.message, "error")


@dataclass
class Attempt(Generic[T]):
    """What `attempt` did: true when the operation ran, with its `value`; false with the `refusal`."""

    value: T | None = None
    refusal: OperationRefused | None = None

    def __bool__(self) -> bool:
        return self.refusal is None


def attempt(operation: Callable[[], T], *, form=None, show: bool = True) -> Attempt[T]:
    """Run an operation. When it is refused, roll back (nothing half-saved) and show the reason on the form
    (or as a flash message; `show=False` leaves that to the caller); the route then shows the form again."""
    try:
        return Attempt(operation())
    except OperationRefused as error:
        db.session.rollback()
        if show:
            show_refusal(error, form)
        return Attempt(refusal=error)


def commit_or_explain() -> bool:
    """Commit; if someone else changed the application meanwhile, say so instead of failing."""
    try:
        db.session.commit()
        return True
    except StaleDataError:
        db.session.rollback()
        flash("The application was changed in another window or by a colleague while you were editing. "
              "Your last change was not saved: please check the page and try again.", "error")
        return False


def step_context(application: Application, step: str) -> dict[str, Any]:
    return {
        "application": application, "step": step, "steps": STEPS, "status": step_status(application),
        "readonly": not application.is_editable, "confirm_form": ConfirmForm(), "country_name": country_name,
        "change_requests": open_change_requests(application) if application.state == CHANGES_REQUESTED else [],
        "step_url": step_url, "change_steps": CHANGE_STEPS,
    }


def after_save(step: str, form):
    if form.completing:
        flash("Saved.", "success")
        return redirect(step_url(NEXT_STEP[step]))
    flash("Draft saved. You can come back to it at any time.", "success")
    return redirect(step_url(step))
