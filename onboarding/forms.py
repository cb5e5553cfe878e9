"""Forms and fields that every part's pages share."""

from __future__ import annotations

import re

import flask_wtf
from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.csrf.core import CSRFTokenField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget


class HiddenInputWithoutId(HiddenInput):
    """A hidden input with no id: nothing refers to it, and a page with many forms would repeat it."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", False)  # WTForms leaves out an attribute whose value is False
        return super().__call__(field, **kwargs)


class FlaskForm(flask_wtf.FlaskForm):
    """The base of every form of the project: Flask-WTF's, with the CSRF token rendered without
    `id="csrf_token"`, which a page with a form per document or per person repeated up to 32 times
    (an id must be unique; assistive technology and `label for=` rely on it)."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, CSRFTokenField):
                field.widget = HiddenInputWithoutId()
            return field


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
