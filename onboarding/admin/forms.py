"""The admin console's forms. Field checks only; the rules (own roles, last admin, second admin, scopes) are
the operations'."""

from __future__ import annotations

import re

from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, HiddenField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import Email, InputRequired, Length, ValidationError

from ..accounts.models import STAFF_ROLES
from ..agreements.models import RULE_KINDS
from ..api.models import SERVICE_SCOPES
from ..forms import FlaskForm, MultiCheckboxField, choices

MAX_RULES_BYTES = 200_000
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


def _roles_field(label: str = "Their roles"):
    # validate_choice=False: an unknown role gets the operation's sentence at the field, not WTForms' own.
    return MultiCheckboxField(label, choices=choices(STAFF_ROLES.items()), validate_choice=False,
                              description="Administrator takes effect only when a second administrator confirms.")


class InviteForm(FlaskForm):
    full_name = StringField("Full name", validators=[InputRequired("Enter the person's full name."),
                                                     Length(max=200)])
    email = EmailField("Work e-mail address", validators=[
        InputRequired("Enter their e-mail address."),
        Email("Enter a valid e-mail address, like name@exchange.example."), Length(max=320)])
    roles = _roles_field()
    submit = SubmitField("Send the invitation")


class RolesForm(FlaskForm):
    roles = _roles_field()
    submit = SubmitField("Save roles")


class DangerForm(FlaskForm):
    """An action that cannot be undone from this page: the box must be ticked."""

    confirm = BooleanField("Yes, I mean it")
    submit = SubmitField("Confirm")

    def validate_confirm(self, field):
        if not field.data:
            raise ValidationError("Tick the box to confirm.")


class RulesForm(FlaskForm):
    kind = RadioField("Rule document", choices=choices(RULE_KINDS.items()),
                      validators=[InputRequired("Choose which rule document this is.")])
    version = StringField(
        "Version name", validators=[InputRequired("Name the version, for example 2027-01."), Length(max=40)],
        description="Shown to institutions with the text, for example 2027-01 or 2.0. Letters, digits, . - _",
    )
    text = TextAreaField("Text of the rules", description="Paste the whole text, or upload it below.",
                         render_kw={"rows": 14})
    upload = FileField("Or upload a plain-text file (UTF-8, at most 200 KB)")
    # Set on the preview page: the version the diff was made against, so a publish after someone else's
    # publish is refused instead of silently skipping their text.
    base_id = HiddenField()
    submit = SubmitField("Preview")

    def validate_version(self, field):
        if field.data and not VERSION_PATTERN.match(field.data.strip()):
            raise ValidationError("Use letters, digits, dots, dashes or underscores (at most 40), e.g. 2027-01.")

    def rules_text(self) -> str | None:
        """The pasted or uploaded text; puts a message at the field and returns None when there is none."""
        upload = self.upload.data
        pasted = (self.text.data or "").strip()
        if upload and getattr(upload, "filename", ""):
            if pasted:
                self.upload.errors = ["Paste the text or upload a file, not both."]
                return None
            raw = upload.read(MAX_RULES_BYTES + 1)
            if len(raw) > MAX_RULES_BYTES:
                self.upload.errors = ["The file is larger than 200 KB: is it really a plain-text rule document?"]
                return None
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.upload.errors = ["The file is not UTF-8 text. Save it as plain text (UTF-8) and upload it again."]
                return None
            if "\x00" in text:
                self.upload.errors = ["The file is not plain text. Save it as plain text (UTF-8) and upload it again."]
                return None
            self.text.data = text
            pasted = text.strip()
        if not pasted:
            self.text.errors = ["Paste the text of the rules, or upload it as a file."]
            return None
        if len(pasted.encode()) > MAX_RULES_BYTES:
            self.text.errors = ["The text is longer than 200 KB: is it really a rule document?"]
            return None
        return self.text.data


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired("Name the token, e.g. the system that will use it."),
                                           Length(max=100, message="Use at most 100 characters.")],
                       description="What will use it, e.g. “gateway eu-1”.")
    scopes = MultiCheckboxField("Scopes", choices=choices(SERVICE_SCOPES.items()), validate_choice=False,
                                description="Only what that system needs.")
    submit = SubmitField("Create the token")
