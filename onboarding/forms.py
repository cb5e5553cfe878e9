"""Forms and fields that every part's pages share."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import flask_wtf
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
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
        if self.raw_data:  # shown again after a refusal: exactly what was typed, separators and all
            return self.raw_data[0]
        return "\n".join(self.data or [])


# Longer than any amount a person types (a quadrillion has 16 digits); refusing more before parsing keeps
# Python's int() and Decimal from working on megabytes of digits.
MAX_NUMBER_LENGTH = 40


class WholeNumberField(IntegerField):
    """A whole number as people type it: surrounding spaces and thousands separators (1,000 / 1 000 / 1_000)
    are dropped. Anything else is refused at the field, and the page shows what was typed."""

    def __init__(self, label=None, validators=None, *, invalid_message="Enter a whole number, like 250000.",
                 **kwargs):
        super().__init__(label, validators, invalid_value_message=invalid_message, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        typed = re.sub(r"[\s,_]", "", valuelist[0] or "")
        self.data = None
        if not typed:
            return  # an empty box is "not given"; Optional() or the step's required list decides
        # ASCII digits only: int() would also take Arabic-Indic or full-width digits, which nobody means here.
        if len(typed) > MAX_NUMBER_LENGTH or not re.fullmatch(r"[+-]?[0-9]+", typed):
            raise ValueError(self.invalid_value_message)
        self.data = int(typed)


class FiniteDecimalField(DecimalField):
    """A decimal number: surrounding spaces, and a trailing % on a percentage, are dropped. NaN, Infinity and
    sNaN parse as decimals but are not numbers anybody means, and comparing them raises: refuse them here,
    with the other unreadable input, at the field."""

    def __init__(self, label=None, validators=None, *, percent: bool = False,
                 invalid_message="Enter a number, like 12.5.", **kwargs):
        super().__init__(label, validators, invalid_value_message=invalid_message, **kwargs)
        self.percent = percent

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        typed = (valuelist[0] or "").strip()
        if self.percent:
            typed = typed.removesuffix("%").strip()
        self.data = None
        if not typed:
            return
        try:
            value = Decimal(typed) if len(typed) <= MAX_NUMBER_LENGTH else None
        except (InvalidOperation, ValueError):
            value = None
        if value is None or not value.is_finite() or not re.fullmatch(r"[+-]?[0-9]*\.?[0-9]*", typed):
            # The pattern also refuses exponents ("1e5") and non-ASCII digits, which Decimal accepts.
            raise ValueError(self.invalid_value_message)
        self.data = value


class Between:
    """Refuse a number outside [low, high] with a fixed message. Unlike WTForms' NumberRange, the message is
    not %-formatted (so "Enter 0 to 100%." is safe) and a value the field could not read is left to the
    field's own message instead of getting a second one."""

    def __init__(self, low, high, message: str):
        self.low, self.high, self.message = low, high, message
        self.field_flags = {"min": low, "max": high}

    def __call__(self, form, field):
        if field.data is None:
            return
        if not (self.low <= field.data <= self.high):
            raise ValidationError(self.message)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RulesAgreementForm(FlaskForm):
    """Agreeing to a rule document shown in full (DESIGN 4.8): which version and the digest of the text
    shown, who signs and in what capacity, and the tick. Subclasses name the rules and the button."""

    rules_name = "the rules"
    # Posted back as typed into the page: anything but a plain id ("²" passes str.isdigit() yet not int(),
    # and 5,000 digits overflow int()) becomes "", which the routes treat as "not the rules shown".
    rules_version_id = HiddenField(filters=[lambda v: v if isinstance(v, str) and re.fullmatch(r"[0-9]{1,18}", v)
                                            else ""])
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
