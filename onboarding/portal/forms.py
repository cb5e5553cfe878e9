"""The review-and-submit form: the signer and the agreement to the API usage rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, SubmitField
from wtforms.validators import Length, ValidationError


class SubmitApplicationForm(FlaskForm):
    rules_version_id = HiddenField()
    rules_sha256 = HiddenField()
    signer_name = StringField("Full name of the signer", validators=[Length(max=200)],
                              description="An authorised signatory declared in step 2.")
    signer_title = StringField("Your title or position", validators=[Length(max=200)],
                               description="For example Chief Executive Officer or Director.")
    agree = BooleanField("I have read the API usage rules above and agree to them on behalf of the institution.")
    submit = SubmitField("Agree and submit the application")

    def validate_signer_name(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Enter your full name.")

    def validate_signer_title(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Enter your title or position.")

    def validate_agree(self, field):
        if not field.data:
            raise ValidationError("Tick the box to agree to the API usage rules.")
