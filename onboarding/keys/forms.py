"""The forms of the keys pages. Fields check their format; the operations check the grant and policy."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from ..forms import FlaskForm, LinesField, MultiCheckboxField, RulesAgreementForm, choices
from .models import ED25519, KINDS
from .operations import DEFAULT_OVERLAP_HOURS, MAX_OVERLAP_HOURS


class KeyForm(FlaskForm):
    kind = RadioField("Type of key", choices=choices(KINDS.items()), default="hmac")
    label = StringField("Label", validators=[Length(max=100)],
                        description="What will use the key, e.g. “quoting engine, Frankfurt”.")
    scopes = MultiCheckboxField("Scopes", choices=[], description="Only what the institution was granted.")
    ip_allowlist = LinesField("IP allow-list", description="One address or CIDR range per line, at most 30, within "
                                                           "the addresses granted to the institution. Required for "
                                                           "trading; a key without one is read-only for 90 days.")
    expires_on = DateField("Expires on (optional)", validators=[Optional()])
    public_key = TextAreaField("Ed25519 public key", description="For an Ed25519 key: the PEM block (“-----BEGIN "
                                                                 "PUBLIC KEY-----”) or the raw 32 bytes in base64.")
    submit = SubmitField("Create the key")

    def validate_public_key(self, field):
        if self.kind.data == ED25519 and not (field.data or "").strip():
            raise ValidationError("Paste the public key of the Ed25519 key pair you generated.")


class RotateForm(FlaskForm):
    overlap_hours = IntegerField("Keep the old key valid for (hours)", default=DEFAULT_OVERLAP_HOURS,
                                 validators=[NumberRange(0, MAX_OVERLAP_HOURS,
                                                         f"Between 0 and {MAX_OVERLAP_HOURS} hours (7 days).")])
    public_key = TextAreaField("New Ed25519 public key")
    submit = SubmitField("Rotate")


class RevokeForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[Length(max=1000)])
    submit = SubmitField("Revoke")


class AgreeForm(RulesAgreementForm):
    rules_name = "the API usage rules"
    agree = BooleanField("I have read the API usage rules above and agree to them on behalf of the institution.")
    submit = SubmitField("Agree to the rules")


class AllowlistChangeForm(FlaskForm):
    addresses = LinesField("The IP addresses the institution should be granted",
                           description="One address or CIDR range per line, at most 30. Keys outside the new "
                                       "list stop working once we approve it.")
    reason = TextAreaField("Why they change", validators=[Length(max=2000)])
    submit = SubmitField("Ask for the change")


class AllowlistDecisionForm(FlaskForm):
    note = TextAreaField("Reason for the decision (the institution is told)", validators=[Length(max=2000)])
