"""Forms and fields that every part's pages share."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget


class ConfirmForm(FlaskForm):
    """A bare form for buttons that change something (remove, withdraw, continue): CSRF only."""

    submit = SubmitField("Confirm")


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class LinesField(TextAreaField):
    """A list of short values typed one per line (commas also separate)."""

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else ""
        self.data = [item.strip() for item in re.split(r"[\n,;]", raw) if item.strip()]

    def _value(self):
        return "\n".join(self.data or [])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RulesAgreementForm(FlaskForm):
    """Agreeing to a rule document shown in full (DESIGN 4.8): which version and the digest of the text
    shown, who signs and in what capacity, and the tick. Subclasses name the rules and the button."""

    rules_name = "the rules"
    rules_version_id = HiddenField()
    rules_sha256 = HiddenField()
    signer_name = StringField("Your full name", validators=[Length(max=200)])
    signer_title = StringField("Your title or position", validators=[Length(max=200)])
    agree = BooleanField("I have read the rules above and agree to them on behalf of the institution.")

    def validate_signer_name(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Enter your full name.")

    def validate_signer_title(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Enter your title or position.")

    def validate_agree(self, field):
        if not field.data:
            raise ValidationError(f"Tick the box to agree to {self.rules_name}.")
