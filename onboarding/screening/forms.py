"""The sanctions-lists page's upload form."""

from __future__ import annotations

from flask_wtf.file import MultipleFileField
from wtforms import SelectField, SubmitField

from ..forms import FlaskForm
from .models import SOURCES


class ListUploadForm(FlaskForm):
    files = MultipleFileField(
        "List file",
        description="The OFAC SDN list as a zip of its four CSV files or the four files together (sdn.csv, add.csv, "
                    "alt.csv, sdn_comments.csv); the UN consolidated XML; or OpenSanctions FtM JSON lines.",
    )
    source = SelectField("Format", choices=[("", "Tell from the file"), *SOURCES.items()], default="",
                         description="Leave it to the file unless it is not recognised.")
    submit = SubmitField("Upload and import")

    def validate_source(self, field):
        if field.data not in ("", *SOURCES):  # SelectField already refuses it; kept for clarity of the message
            field.errors.append("Choose one of the formats listed.")
