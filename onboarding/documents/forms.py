"""The upload form of the documents step."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, SubmitField
from wtforms.validators import Optional

from ..forms import FlaskForm


class DocumentUploadForm(FlaskForm):
    requirement = HiddenField()
    file = FileField("File (PDF, PNG or JPEG, at most 20 MB)")
    issue_date = DateField("Issue date", validators=[Optional()])
    expiry_date = DateField("Expiry date", validators=[Optional()])
    submit = SubmitField("Upload")
