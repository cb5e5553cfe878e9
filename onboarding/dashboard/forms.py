"""Forms of the admin jobs page."""

from __future__ import annotations

from wtforms import SubmitField

from ..forms import FlaskForm


class RetryJobForm(FlaskForm):
    """Nothing to fill in: the form carries the CSRF token of the Retry button."""

    submit = SubmitField("Retry")
