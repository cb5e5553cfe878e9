"""The public form for typing a verification code from a paper letter."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import InputRequired, ValidationError

from ..forms import FlaskForm
from .operations import normalise_code


class VerifyForm(FlaskForm):
    """Sent with GET: it only reads, so it needs no CSRF token (and works with no session)."""

    class Meta:
        csrf = False

    code = StringField(
        "Verification code",
        validators=[InputRequired("Enter the verification code printed at the foot of the letter.")],
        description="20 letters and digits, printed at the foot of the letter, for example ABCD-EFGH-JKLM-NPQR-STUV. "
                    "Upper or lower case, with or without dashes.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"},
    )

    def validate_code(self, field: StringField) -> None:
        if normalise_code(field.data or "") is None:
            raise ValidationError(
                "This is not a verification code: a code has 20 letters and digits (A to Z and 2 to 7). "
                "Check what you typed against the letter."
            )
