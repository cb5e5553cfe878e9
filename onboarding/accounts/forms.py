"""Account forms. Field-level checks only; rules that need the database live in operations."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import Email, EqualTo, InputRequired, Length

from ..forms import FlaskForm
from ..security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

_email = [InputRequired("Enter your e-mail address."), Email("Enter a valid e-mail address, like name@company.com."),
          Length(max=320)]


class RegisterForm(FlaskForm):
    full_name = StringField("Your full name", validators=[InputRequired("Enter your full name."), Length(max=200)])
    email = EmailField("Work e-mail address", validators=_email)
    legal_name = StringField(
        "Institution's legal name",
        validators=[InputRequired("Enter the legal name of your institution."), Length(max=300)],
        description="As on the certificate of incorporation.",
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Choose a password."), Length(max=MAX_PASSWORD_LENGTH)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A passphrase of several words works well.",
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[InputRequired("Repeat the password."), EqualTo("password", "The two passwords do not match.")],
    )
    submit = SubmitField("Create account")


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=_email)
    password = PasswordField("Password", validators=[InputRequired("Enter your password."),
                                                     Length(max=MAX_PASSWORD_LENGTH)])
    submit = SubmitField("Sign in")


class CodeForm(FlaskForm):
    code = StringField(
        "Authentication code",
        validators=[InputRequired("Enter the code from your authenticator app."), Length(max=20)],
        description="The 6-digit code from your authenticator app, or one of your recovery codes.",
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )
    submit = SubmitField("Continue")


class EnrolForm(FlaskForm):
    code = StringField(
        "Code from your app",
        validators=[InputRequired("Enter the 6-digit code your app shows."), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField("Turn on two-factor authentication")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail address", validators=_email)
    submit = SubmitField("Send reset link")


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[InputRequired("Choose a new password."), Length(max=MAX_PASSWORD_LENGTH)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[InputRequired("Repeat the password."), EqualTo("password", "The two passwords do not match.")],
    )
    submit = SubmitField("Set new password")


class ResendVerificationForm(FlaskForm):
    submit = SubmitField("Send the link again")


class LogoutForm(FlaskForm):
    submit = SubmitField("Sign out")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password."), Length(max=MAX_PASSWORD_LENGTH)],
    )
    password = PasswordField(
        "New password",
        validators=[InputRequired("Choose a new password."), Length(max=MAX_PASSWORD_LENGTH)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. Changing it signs you out everywhere else.",
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[InputRequired("Repeat the password."), EqualTo("password", "The two passwords do not match.")],
    )
    submit = SubmitField("Change password")


class EndOtherSessionsForm(FlaskForm):
    submit = SubmitField("Sign out all my other sessions")


class AcceptInvitationForm(FlaskForm):
    password = PasswordField(
        "Choose a password",
        validators=[InputRequired("Choose a password."), Length(max=MAX_PASSWORD_LENGTH)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A passphrase of several words works well.",
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[InputRequired("Repeat the password."), EqualTo("password", "The two passwords do not match.")],
    )
    submit = SubmitField("Set password and continue")
