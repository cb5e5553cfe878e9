"""The decision form's CSRF protection; the verdict and reason are checked by `operations`, which words
the refusals."""

from __future__ import annotations

from ..forms import FlaskForm


class ReferralDecisionForm(FlaskForm):
    pass
