"""The decision form's CSRF protection; the verdict and reason are checked by `operations`, which words
the refusals."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ReferralDecisionForm(FlaskForm):
    pass
