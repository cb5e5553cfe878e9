"""The forms of the enforcement pages. Fields check their format; `intake` and `decisions` check the
policy (and refuse again whatever slips past a form)."""

from __future__ import annotations

from datetime import UTC, datetime

from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from ..db import utcnow
from ..forms import FlaskForm, RulesAgreementForm, choices
from .models import CATEGORIES, IMPACTS

# The years a surveillance time may fall in, as the violations API accepts them.
OBSERVED_YEARS = (1900, 2099)


def staff_reference() -> str:
    """A default reference for a report typed by hand: unique enough for one officer, and readable."""
    return f"STAFF-{utcnow():%Y%m%d-%H%M%S}"


class CaseForm(FlaskForm):
    """CSRF protection for the case page's forms (claim and the three decisions); the reason and the
    version are read by the route and checked by `decisions`, which word the refusals."""


class ViolationForm(FlaskForm):
    institution_id = SelectField("Institution", choices=[], validators=[DataRequired("Choose the institution.")],
                                 invalid_choice_message="Choose an institution from the list.")
    key_id = StringField("API key (optional)", validators=[Length(max=60)],
                         description="The key's id as shown on the keys pages, e.g. mxk_Ab12Cd34. Leave it empty "
                                     "when the report is about the institution as a whole.")
    category = SelectField("Category", choices=choices([("", "Choose…"), *CATEGORIES.items()]),
                           validators=[DataRequired("Choose the category of the violation.")],
                           invalid_choice_message="Choose one of the listed categories.")
    # The browser's datetime-local control has no zone: staff type UTC, as surveillance reports it.
    observed_at = DateTimeLocalField("Observed at (UTC)", tz=UTC,
                                     validators=[InputRequired("Enter when the activity was observed.")],
                                     invalid_value_message="Enter a date and time, e.g. 2026-12-01 09:30.",
                                     description="In UTC, as the surveillance system records it.")
    market_impact = SelectField("Market impact", choices=choices([("", "Choose…"), *IMPACTS.items()]),
                                validators=[DataRequired("Choose the market impact.")],
                                invalid_choice_message="Choose one of the listed impacts.")
    malicious = BooleanField("Judged malicious (rules out the first-offence outcome)")
    evidence_text = TextAreaField("Evidence", validators=[Length(max=20000)],
                                  description="What was observed. Compliance sees it; the institution never does.")
    reference = StringField("Your reference", default=staff_reference,
                            validators=[InputRequired("Give the report a reference."), Length(max=100)],
                            description="Sending the same reference again returns the first report.")
    submit = SubmitField("Record the report and freeze access")

    def validate_observed_at(self, field):
        if field.data is not None and not OBSERVED_YEARS[0] <= field.data.year <= OBSERVED_YEARS[1]:
            raise ValidationError(f"Enter a time between {OBSERVED_YEARS[0]} and {OBSERVED_YEARS[1]}.")
        if field.data is not None and field.data > datetime.now(UTC):
            raise ValidationError("The time is in the future: enter when the activity was observed, in UTC.")

    def validate_reference(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Give the report a reference.")


class ReinstatementForm(RulesAgreementForm):
    rules_name = "the risk-control rules"
    # Redeclared in the order the page shows them, which is also the order of the error summary (the
    # validators come from RulesAgreementForm).
    agree = BooleanField("I have read the risk-control rules above and agree to them on behalf of the institution")
    signer_name = StringField("Your full name", validators=[Length(max=200)])
    signer_title = StringField("Your title or position", validators=[Length(max=200)])
    submit = SubmitField("Agree and restore access")
