"""The review-and-submit form: the signer and the agreement to the API usage rules."""

from __future__ import annotations

from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import Length

from ..forms import RulesAgreementForm


class SubmitApplicationForm(RulesAgreementForm):
    rules_name = "the API usage rules"
    signer_name = StringField("Full name of the signer", validators=[Length(max=200)],
                              description="An authorised signatory declared in step 2.")
    signer_title = StringField("Your title or position", validators=[Length(max=200)],
                               description="For example Chief Executive Officer or Director.")
    agree = BooleanField("I have read the API usage rules above and agree to them on behalf of the institution.")
    submit = SubmitField("Agree and submit the application")
