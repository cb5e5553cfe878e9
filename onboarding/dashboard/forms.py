"""Forms of the admin jobs page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SubmitField


class RetryJobForm(FlaskForm):
    """Nothing to fill in: the form carries the CSRF token of the Retry button."""

    submit = SubmitField("Retry")
