"""Forms that every part's pages share."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SubmitField


class ConfirmForm(FlaskForm):
    """A bare form for buttons that change something (remove, withdraw, continue): CSRF only."""

    submit = SubmitField("Confirm")
